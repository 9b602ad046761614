"""Hydra's basic sweeper, which leaves the check that every job composes to a launcher that composes every
job itself before the first starts (``composes_every_job``: the suite's joblib launcher, composed_jobs.py).

The basic sweeper composes each job in the main process, one after another, before it hands the batch to
the launcher: with such a launcher that is the same work done twice, and done serially (16.6 s before the
collapse table's first job, 2-core Intel Xeon). With any other launcher (Hydra's basic one, SLURM's) it checks as before.
``conf/hydra/default.yaml`` makes it every invocation's sweeper (``hydra/sweeper=suite_basic``); its keys
are the basic sweeper's (``params``, ``max_batch_size``).
"""

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class SuiteSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        # NOTE: the base's method named, not super(): Hydra's plugin discovery can import this module a
        # second time, and a class object of the first import then fails super()'s check.
        if not getattr(self.launcher, "composes_every_job", False):
            BasicSweeper.validate_batch_is_legal(self, batch)
