"""What a run is called: its row label (wandb group, tables, progress lines) and its folder name.

A run is labelled by its ablation row *and* the overrides that change what it computes: a run of
``model/predictor=linear`` is not the ``byol`` row, and is labelled ``byol+model/predictor=linear``
(overrides sorted, so their order on the command line does not matter). Overrides that say how or where
to run, not what (NOT_IN_LABEL), leave the label alone: the seed has its own column, a recipe
(``+experiment``) and a study are settings recorded in ``choices``. A label longer than MAX_LABEL keeps
its first characters and ends in ``~`` and a hash of all its overrides, so two runs differing only at the
end still get different labels. A study that sets ``row`` itself (tau_sweep) names its runs as it likes.

Folder names are the label with every character a shell or a file system could trip on replaced.
"""

import hashlib
import re

from hydra.core.override_parser.overrides_parser import OverridesParser

MAX_LABEL = 64  # wandb refuses tags longer than 64 characters; the label is one of a run's tags
# Keys (and everything under them) whose overrides leave the label alone: execution, places, names.
NOT_IN_LABEL = (
    "hydra", "seed", "fresh", "ablation", "study", "experiment", "row", "logger", "cpu_threads",
    "checkpoint", "debug", "trainer.enable_progress_bar", "trainer.log_every_n_steps", "data.root",
    "data.download", "model.channels_last", "model.compile",
)  # fmt: skip


def _excluded(key: str) -> bool:
    return any(key == k or key.startswith((f"{k}.", f"{k}/")) for k in NOT_IN_LABEL)


def label_overrides(overrides: list[str]) -> list[str]:
    """The overrides that belong in a run's label, as typed, sorted."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return sorted(
        text for override, text in zip(parsed, overrides, strict=True) if not _excluded(override.key_or_group)
    )


def row_label(row: str, overrides: list[str]) -> str:
    """``row`` alone, or ``row+override,override…`` (shortened with a hash past MAX_LABEL characters)."""
    kept = label_overrides(overrides)
    if not kept:
        return row
    label = f"{row}+{','.join(kept)}"
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256("\n".join(kept).encode()).hexdigest()[:8]
    return f"{label[: MAX_LABEL - len(digest) - 1]}~{digest}"


def folder_name(label: str) -> str:
    """The label as one path component: ``/`` and anything but letters, digits and ``._=,+~-`` → ``_``."""
    return re.sub(r"[^A-Za-z0-9._=,+~-]", "_", label)
