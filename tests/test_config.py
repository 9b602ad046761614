"""The config tree: every ablation row composes, changes only what it declares, and fails loudly on typos."""

import os
import re
import subprocess
import sys

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from tests.conftest import CONF, ROOT, ROWS, compose_config
from tests.run_cli import run_cli

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


def run_dir_of(overrides: list[str]) -> str:
    """hydra.run.dir as a single run would resolve it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg.hydra.run.dir


def test_a_run_with_overrides_is_labelled_by_its_row_and_overrides_not_as_the_baseline():
    assert compose_config(["model/predictor=linear"]).row == "byol+model/predictor=linear"
    both = ["+ablation=no_predictor", "model.target.tau=0.9", "optimizer.lr=0.01"]
    assert compose_config(both).row == "no_predictor+model.target.tau=0.9,optimizer.lr=0.01"
    assert compose_config([both[0], *reversed(both[1:])]).row == compose_config(both).row  # order-free
    # How and where to run is not what is run: the label stays the row's.
    how = [
        "seed=3",
        "fresh=true",
        "logger=csv",
        "checkpoint.every_n_steps=7",
        "cpu_threads=2",
    ]
    assert compose_config(["+ablation=simclr", *how]).row == "simclr"
    # Long override lists are shortened with a hash of all of them: short, and still told apart.
    many = ["data.num_probe_train=256", "data.batch_size=64", "model.backbone.hidden_dim=32"]
    # (each read right after its compose: like `choice`, the label reads the current job's Hydra config)
    one = compose_config([*many, "model.projector.out_dim=16"]).row
    other = compose_config([*many, "model.projector.out_dim=8"]).row
    assert len(one) <= 64 and one.startswith("byol+data.batch_size=64,") and "~" in one
    assert one != other


def test_default_run_folders_name_the_label_and_never_collide():
    first, second = run_dir_of(["model/predictor=linear"]), run_dir_of(["model/predictor=linear"])
    assert first.startswith("outputs/byol+model_predictor=linear/seed0_")  # one path component, no "/"
    assert first != second  # microseconds: two runs started within one second get their own folders
    assert run_dir_of([]).startswith("outputs/byol/seed0_")


def test_a_study_that_names_its_rows_keeps_its_names_and_folders():
    cfg = compose_config(["+study=tau_sweep", "model.target.tau=0.9"])
    assert cfg.row == "ema_tau_0.9"


def test_help_lists_groups_rows_studies_options_and_exit_codes():
    code, out, _ = run_cli(["--help"])
    assert code == 0
    assert "Powered by Hydra" not in out
    for row in ROWS:
        assert re.search(rf"^  {re.escape(row)} +\S", out, re.MULTILINE), row  # the row and its description
    assert re.search(
        r"^  model/predictor +directcopy, directpred, identity, linear, mlp\*$", out, re.MULTILINE
    )
    for text in ("collapse_table", "tau_sweep", "cifar10", "fresh=true", "Exit codes:", "130", "143"):
        assert text in out, text


def test_the_entry_point_undoes_lightnings_nvml_cuda_check(tmp_path):
    # Lightning's import sets PYTORCH_NVML_BASED_CUDA_CHECK=1: every torch.cuda.is_available() (asked by
    # the optimizers each step) would then query NVML. Unset by the user: importing src.run leaves it
    # unset (the entry imports no Lightning, so a sweep's main process starts light), importing src.job
    # sets it (no side effect of ours at import), and the job unsets it before training (no GPU present).
    code = (
        "import os, sys, src.run\n"
        "print(os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK'))\n"
        "import src.job\n"
        "print(os.environ.get(src.job.NVML_CHECK))\n"
        "src.job.train = lambda *args, **kwargs: sys.exit(print(os.environ.get(src.job.NVML_CHECK)))\n"
        f"sys.argv = ['src/run.py', 'hydra.run.dir={tmp_path}']\n"
        "src.run.main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["None", "1", "1" if torch.cuda.is_available() else "None"]
