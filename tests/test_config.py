"""The config tree: every ablation row composes, changes only what it declares, and fails loudly on typos."""

import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import CONF, ROOT, ROWS, compose_config

REQUIRED_ROWS = {
    "byol", "no_predictor", "linear_predictor", "predictor_on_target", "fixed_predictor_lr", "no_ema",
    "ema_tau_0.9", "ema_tau_0.999", "random_target", "ensemble_target", "ensemble_target_ema", "no_stopgrad",
    "simsiam", "simclr", "byol_negatives", "no_predictor_negatives",
}  # fmt: skip


def flat(cfg) -> dict:
    """Dotted key → value of the job config."""
    container = OmegaConf.to_container(cfg, resolve=False)

    def walk(node, prefix):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                yield from walk(v, f"{prefix}{k}.")
        else:
            yield prefix[:-1], node

    return dict(walk(container, ""))


def declared_prefixes(row: str) -> list[str]:
    """The keys a row's file names: group overrides (`override /model/predictor: x` → `model.predictor`)
    and every leaf of its body."""
    body = yaml.safe_load((CONF / "ablation" / f"{row}.yaml").read_text()) or {}
    prefixes = []
    for entry in body.pop("defaults", []):
        ((key, _),) = entry.items()
        prefixes.append(key.removeprefix("override /").replace("/", "."))

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{prefix}{k}.")
        else:
            yield prefix[:-1]

    return prefixes + list(walk(body, ""))


def test_required_rows_exist():
    assert set(ROWS) >= REQUIRED_ROWS


def test_every_row_has_a_header_with_hypothesis_signature_and_reference():
    for row in ROWS:
        text = (CONF / "ablation" / f"{row}.yaml").read_text()
        assert text.startswith("# @package _global_"), row
        for word in ("Hypothesis:", "Expected signature:", "Reference:"):
            assert word in text, (row, word)


@pytest.mark.parametrize("row", ROWS)
def test_row_changes_only_the_keys_it_declares(row):
    base = flat(compose_config([]))
    variant = flat(compose_config([f"+ablation={row}"]))
    changed = {
        k for k in base.keys() | variant.keys() if base.get(k, "<absent>") != variant.get(k, "<absent>")
    }
    changed.discard("row")  # the row's name, derived by Hydra from the choice
    prefixes = declared_prefixes(row)
    undeclared = {k for k in changed if not any(k == p or k.startswith(p + ".") for p in prefixes)}
    assert not undeclared, f"{row} changes keys it does not declare: {sorted(undeclared)}"
    if row == "byol":
        assert not changed, "the baseline row must be empty"
    else:
        assert changed, f"{row} changes nothing"


def test_row_name_comes_from_the_choice():
    assert compose_config([]).row == "byol"
    assert compose_config(["+ablation=no_predictor"]).row == "no_predictor"


def test_struct_mode_rejects_a_misspelled_key():
    with pytest.raises(Exception, match="tua"):
        compose_config(["model.target.tua=0.5"])


@pytest.mark.slow  # a fresh interpreter: Hydra's own error path, as a user meets it
def test_unknown_ablation_lists_the_available_rows():
    out = subprocess.run(
        [sys.executable, "-m", "src.run", "+ablation=no_such_row"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "no_such_row" in out.stderr and "no_predictor" in out.stderr
