"""A sweep's main process composes, launches and reports, and never trains: it imports neither torch nor
Lightning (seconds of start-up before the first job could start), whose import comes with the first job, in
the worker that runs it (src/job.py)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric")
# The entry point as `python -m src.run` runs it, reporting at exit which heavy packages this process
# (the sweep's main process; the workers are processes of their own) imported.
MAIN = """
import atexit, json, runpy, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in {heavy} if m in sys.modules))))
sys.argv = ["src/run.py", *{args}]
runpy.run_module("src.run", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow  # two worker processes, each importing torch and Lightning
def test_a_sweeps_main_process_imports_neither_torch_nor_lightning(tmp_path):
    args = [
        "-m", "hydra/launcher=surviving_joblib", "hydra.launcher.n_jobs=2", *TINY, "trainer.max_steps=1",
        "seed=0,1", f"hydra.sweep.dir={tmp_path}",
    ]  # fmt: skip
    code = MAIN.format(heavy=HEAVY, args=args)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "WANDB_MODE": "offline"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2].startswith("sweep: 2 runs, 0 failed")
    assert json.loads(done.stdout.splitlines()[-1]) == []
    jobs = json.loads((tmp_path / "sweep.json").read_text())["jobs"]
    assert [j["status"] for j in jobs] == ["finished", "finished"]  # the workers did train
