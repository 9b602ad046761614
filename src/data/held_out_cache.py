"""A generated data set's held-out splits, drawn once per process for the same settings (``set_up``).

A generated data set (``SSLDataModule.generated``: stereograms, shapes, photos) draws its probe and
evaluation splits in ``setup`` from generators keyed by its seed alone: a pure function of its settings,
the resolved ``cfg.data`` it is built from, that leaves the global random state alone
(tests/test_held_out_cache.py). A sweep's worker runs many jobs on the same data and seed (the collapse
table: 32 rows × 5 seeds on 2 workers) and drew them again for each, ~0.13 s a run (stereo, probe sizes
``generated``, 2-core Intel Xeon). A process keeps the splits of its last ``KEEP`` settings and gives every
run a deep copy of its own, so that no run can change another's data. Data read from files (digits,
CIFAR-10, ImageNet-100) is read again by every run: a file may change between runs.
"""

import copy
import json
from collections import OrderedDict

from src.data.base import SSLDataModule

KEEP = 8  # settings a process keeps: a study's seeds (5) on one data set fit

_kept: OrderedDict[str, dict] = OrderedDict()  # settings (JSON) → the attributes ``setup`` added


def set_up(datamodule: SSLDataModule, settings: dict) -> None:
    """``datamodule.setup("fit")``; for a generated data set whose ``settings`` this process has set up
    before, a copy of the splits drawn then instead of drawing them again."""
    if not datamodule.generated:
        datamodule.setup("fit")
        return
    key = json.dumps(settings, sort_keys=True)
    if key in _kept:
        _kept.move_to_end(key)
        vars(datamodule).update(copy.deepcopy(_kept[key]))  # ``setup`` then finds its splits and returns
        return
    before = set(vars(datamodule))
    datamodule.setup("fit")
    _kept[key] = copy.deepcopy({k: v for k, v in vars(datamodule).items() if k not in before})
    if len(_kept) > KEEP:
        _kept.popitem(last=False)
