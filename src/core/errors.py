"""The suite's error types: each carries one line that names the key or file and what is allowed.

`src.run` prints that line alone (no traceback) and exits non-zero; anything else is a bug and keeps its
traceback.
"""

import signal

BAD_INPUT_EXIT = 2  # the exit code of refused input (src/run.py's module docstring lists them all)
SIGNAL_EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}  # 128 + N, what a shell reports for signal N


class SuiteError(Exception):
    """An error caused by the user's input, reported as one line."""


class ConfigError(SuiteError, ValueError):
    """A config value out of range, of the wrong type, or contradicting another choice."""


class DataError(SuiteError):
    """A dataset that is missing, unreadable or corrupt."""
