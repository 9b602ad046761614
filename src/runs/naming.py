"""What a run is called: its row label (wandb group, tables, progress lines) and its folder name.

A run is labelled by its ablation row *and* the overrides that change what it computes: a run of
``model/predictor=linear`` is not the ``byol`` row, and is labelled ``byol+model/predictor=linear``
(overrides sorted, so their order on the command line does not matter). Overrides that say how or where
to run, not what (NOT_IN_LABEL), leave the label alone: the seed has its own column, a recipe
(``+experiment``) names the label's front instead, ``cifar10/byol+trainer.max_steps=3``, so a recipe's
runs never share a label (a folder, a wandb group) with the embedded data's; a study is recorded in
``choices``. A label longer than MAX_LABEL keeps
its first characters and ends in ``~`` and a hash of all its overrides, so two runs differing only at the
end still get different labels. A study that sets ``row`` itself (tau_sweep) names its runs as it likes.

Folder names are the label with every character a shell or a file system could trip on replaced.
"""

import hashlib
import re

from hydra.core.override_parser.overrides_parser import OverridesParser

RECIPE_SEPARATOR, SETTING_SEPARATOR = "/", "+"  # recipe/row+overrides
MAX_LABEL = 64  # wandb refuses tags longer than 64 characters; the label is one of a run's tags
# Keys (and everything under them) whose overrides leave the label alone: execution, places, names.
NOT_IN_LABEL = (
    "hydra", "seed", "fresh", "ablation", "study", "experiment", "row", "logger", "cpu_threads",
    "checkpoint", "debug", "trainer.enable_progress_bar", "trainer.log_every_n_steps", "data.root",
    "data.download", "model.channels_last", "model.compile", "metrics.background",
)  # fmt: skip


def _excluded(key: str) -> bool:
    return any(key == k or key.startswith((f"{k}.", f"{k}/")) for k in NOT_IN_LABEL)


def label_overrides(overrides: list[str]) -> list[str]:
    """The overrides that belong in a run's label, as typed, sorted."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return sorted(
        text for override, text in zip(parsed, overrides, strict=True) if not _excluded(override.key_or_group)
    )


def row_label(row: str, overrides: list[str], recipe: str | None = None) -> str:
    """``[recipe/]row``, or ``[recipe/]row+override,override…`` (shortened with a hash past MAX_LABEL
    characters)."""
    kept = label_overrides(overrides)
    front = f"{recipe}{RECIPE_SEPARATOR}{row}" if recipe else row
    if not kept:
        return front
    label = f"{front}{SETTING_SEPARATOR}{','.join(kept)}"
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256("\n".join(kept).encode()).hexdigest()[:8]
    return f"{label[: MAX_LABEL - len(digest) - 1]}~{digest}"


def split_label(label: str) -> tuple[str, str]:
    """A label back into its row and its setting, the setting as the overrides that reproduce it (recipe
    first; "" for the defaults): ``cifar10/byol+trainer.max_steps=3`` → (``byol``,
    ``+experiment=cifar10 trainer.max_steps=3``). A row name holds neither separator (conf/ablation/)."""
    front, _, overrides = label.partition(SETTING_SEPARATOR)
    recipe, _, row = front.rpartition(RECIPE_SEPARATOR)
    parts = ([f"+experiment={recipe}"] if recipe else []) + ([overrides] if overrides else [])
    return row, " ".join(parts)


def folder_name(label: str) -> str:
    """The label as one path component: ``/`` and anything but letters, digits and ``._=,+~-`` → ``_``."""
    return re.sub(r"[^A-Za-z0-9._=,+~-]", "_", label)
