"""`python -m src.run ARGS` run inside the test process (Hydra's real entry, sys.argv patched), or in a
child process forked from it: the exit code and the output a user would see, without paying again for
the ~10 s of imports a fresh interpreter takes (tests/test_train.py and tests/test_config.py run the CLI
from a fresh interpreter)."""

import contextlib
import io
import multiprocessing
import os
import sys
from unittest import mock

from src.run import main


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one invocation in this process."""
    out, err = io.StringIO(), io.StringIO()
    argv = mock.patch.object(sys, "argv", ["src/run.py", *args])
    with argv, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return code, out.getvalue(), err.getvalue()


def _child(args: list[str], results) -> None:
    code, out, err = run_cli(args)
    results.send((out, err))
    os._exit(code)  # the exit code a shell would see


class Child:
    """One invocation in a forked child process; ``finish()`` waits for it."""

    def __init__(self, args: list[str]):
        context = multiprocessing.get_context("fork")
        self._results, send = context.Pipe(duplex=False)
        self.process = context.Process(target=_child, args=(args, send))
        self.process.start()
        send.close()  # the child holds the only writing end: its death ends the pipe

    def finish(self, timeout: float = 600) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); the code is −N, and the output empty, if signal N ended it."""
        if not self._results.poll(timeout):  # true once the child sent its output or died
            self.process.kill()
            raise TimeoutError(f"src.run did not finish within {timeout} s")
        try:
            out, err = self._results.recv()  # before join: a child blocked on a full pipe never exits
        except EOFError:
            out, err = "", ""
        self.process.join()
        return self.process.exitcode, out, err
