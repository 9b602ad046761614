"""Bad input, tried: each case is a command line a user could type, the one-line error it must give,
exit code 2, no training step taken (the trainer's fit is never reached), and a run folder that holds
nothing at all (no summary.json, checkpoint, metrics, .hydra/ or lock)."""

from unittest import mock

import pytest
import pytorch_lightning as pl
import torch
from hydra import initialize_config_dir
from omegaconf import OmegaConf
from torchvision import datasets

from src.cli.override_types import check_override_types
from tests.conftest import CONF, TINY, compose_config
from tests.run_cli import run_cli

# TINY without its data keys, for the cases that switch the data set (whose config has other keys).
OTHER_DATA = [o for o in TINY if not o.startswith("data.")]
ENSEMBLE = ["model/target=ensemble"]
NO_BN = ["model.backbone.norm=none", "model.projector.norm=none"]

CASES = {
    # values out of range
    "tau above 1": (["model.target.tau=1.5"], "model.target.tau must be a finite number in [0, 1], got 1.5"),
    "negative beta": (
        ["model.loss.negatives_weight=-1"],
        "model.loss.negatives_weight must be a finite number ≥ 0, got -1",
    ),
    "zero temperature": (
        ["model.loss.temperature=0"],
        "model.loss.temperature must be a finite number > 0, got 0",
    ),
    "ensemble of zero": (
        [*ENSEMBLE, "model.target.num_members=0", "model.target.taus=[]"],
        "model.target.num_members must be an integer ≥ 1, got 0",
    ),
    "tau list too short": (
        [*ENSEMBLE, "model.target.taus=[0.9,0.9]"],
        "model.target.taus must list one τ per member (num_members=4), got 2",
    ),
    "tau list out of range": (
        [*ENSEMBLE, "model.target.taus=[0.9,0.9,0.9,1.5]"],
        "model.target.taus[k] must be a finite number in [0, 1], got 1.5",
    ),
    "queue smaller than a step's keys": (
        ["+ablation=moco", "model.loss.queue_size=100"],
        "model.loss.queue_size must be ≥ 2 × data.batch_size = 128 (one step enqueues",
    ),
    "negative DirectPred epsilon": (
        ["model/predictor=directpred", "model.predictor.net.eps=-0.1"],
        "model.predictor.net.eps must be a finite number ≥ 0, got -0.1",
    ),
    "DirectPred rho of zero": (
        ["model/predictor=directpred", "model.predictor.net.rho=0"],
        "model.predictor.net.rho must be a finite number in (0, 1], got 0",
    ),
    "learned ensemble of one": (
        ["model/target=learned_ensemble", "model.target.num_members=1"],
        "model.target.num_members must be an integer ≥ 2, got 1",
    ),
    "zero learning rate": (["optimizer.lr=0"], "optimizer.lr must be a finite number > 0, got 0"),
    "negative weight decay": (
        ["optimizer.weight_decay=-1"],
        "optimizer.weight_decay must be a finite number ≥ 0, got -1",
    ),
    "warm-up of the whole run": (
        ["optimizer.warmup_fraction=1"],
        "optimizer.warmup_fraction must be a finite number in [0, 1)",
    ),
    "batch of one with BatchNorm": (
        ["data.batch_size=1"],
        "data.batch_size must be ≥ 2 for this model (BatchNorm layers need two samples), got 1",
    ),
    "batch of one with negatives": (
        ["+ablation=simclr", *NO_BN, "data.batch_size=1"],
        "data.batch_size must be ≥ 2 for this model (negatives (model.loss.negatives_weight > 0) need two",
    ),
    "zero steps": (["trainer.max_steps=0"], "trainer.max_steps must be an integer ≥ 1, got 0"),
    "endless run": (["trainer.max_steps=-1"], "trainer.max_steps must be an integer ≥ 1, got -1"),
    "zero measurement interval": (
        ["metrics.every_n_steps=0"],
        "metrics.every_n_steps must be an integer ≥ 1",
    ),
    "negative seed": (["seed=-1"], "seed must be an integer in [0, 4294967295], got -1"),
    "seed beyond numpy's range": (
        ["seed=4294967296"],
        "seed must be an integer in [0, 4294967295], got 4294967296",
    ),
    "infinite learning rate": (["optimizer.lr=inf"], "optimizer.lr must be a finite number > 0, got inf"),
    "sgd with a negative momentum": (
        ["optimizer=sgd", "optimizer.algorithm.momentum=-0.5"],
        "optimizer.algorithm.momentum must be a finite number ≥ 0, got -0.5",
    ),
    "verdict on an unknown representation": (
        ["metrics.verdict.complete_on=[z,q]"],
        "metrics.verdict.complete_on[k] must be one of h, z, p, got 'q'",
    ),
    "negative verdict threshold": (
        ["metrics.verdict.energy_below_decades=-1"],
        "metrics.verdict.energy_below_decades must be a finite number in (0, 8], got -1",
    ),
    "kNN with more neighbours than probe samples": (
        ["metrics.knn_k=100000"],
        "metrics.knn_k must be an integer in [1, ",
    ),
    "bogus precision": (["trainer.precision=bogus"], "trainer.precision must be one of "),
    # wrong types
    "learning rate as a word": (
        ["optimizer.lr=fast"],
        "optimizer.lr must be a number (its default is 0.002), got str 'fast'",
    ),
    "fractional steps": (
        ["trainer.max_steps=1.5"],
        "trainer.max_steps must be an integer (its default is 600), got float 1.5",
    ),
    "batch size as a list": (
        ["data.batch_size=[64]"],
        "data.batch_size must be an integer (its default is 256), got list [64]",
    ),
    "tau list as a number": ([*ENSEMBLE, "model.target.taus=0.9"], "model.target.taus must be a list"),
    "fresh as a word": (
        ["fresh=maybe"],
        "fresh must be true or false (its default is False), got str 'maybe'",
    ),
    "null learning rate": (
        ["optimizer.lr=null"],
        "optimizer.lr must be a number (its default is 0.002), got NoneType None",
    ),
    # unknown names
    "unknown ablation": (
        ["+ablation=no_such_row"],
        "+ablation=no_such_row: no such option of group ablation. Options: byol, byol_negatives,",
    ),
    "unknown dataset": (["data=no_such_data"], "data=no_such_data: no such option of group data."),
    "unknown study": (["+study=no_such_study"], "+study=no_such_study: no such option of group study."),
    # a typo in a group option: only that group's options, and the nearest of them
    "misspelled ablation": (
        ["+ablation=no_predicter"],
        "error: +ablation=no_predicter: no such option of group ablation; did you mean no_predictor? "
        "Options: byol, byol_negatives,",
    ),
    "misspelled predictor": (
        ["model/predictor=linaer"],
        "error: model/predictor=linaer: no such option of group model/predictor; did you mean linear? "
        "Options: directcopy, directpred, identity, linear, mlp",
    ),
    "misspelled group added with +": (
        ["+ablaton=no_predictor"],
        "+ablaton=no_predictor: ablaton is no config group; did you mean +ablation=no_predictor?",
    ),
    "misspelled dataset": (
        ["data=stereoo"],
        "error: data=stereoo: no such option of group data; did you mean stereo? Options: cifar10, cifar100,",
    ),
    "unknown predictor side": (
        ["model.predictor.side=middle"],
        "model.predictor.side must be one of online, target",
    ),
    "misspelled key": (["optimizer.lrr=0.1"], "Could not override 'optimizer.lrr'"),
    "unknown _target_": (
        ["model.backbone._target_=src.models.nope.Nope"],
        "model.backbone._target_ must name an importable class or function, got 'src.models.nope.Nope'",
    ),
    "malformed override": (["optimizer.lr=[1,"], "cannot parse override 'optimizer.lr=[1,'"),
    # contradictory choices
    "predictor on the target side of the online target": (
        ["model.predictor.side=target", "model/target=online"],
        "model.predictor.side=target needs a separate target network",
    ),
    "frozen ensemble with learned weights and no members": (
        [
            *ENSEMBLE,
            "model.target.member.update=frozen",
            "model.target.weights=learned",
            "model.target.num_members=0",
            "model.target.taus=[]",
        ],
        "model.target.num_members must be an integer ≥ 1, got 0",
    ),
    "DirectPred on the target side": (
        ["model/predictor=directpred", "model.predictor.side=target"],
        "model.predictor.side must be online for model/predictor=directpred|directcopy",
    ),
    # data and output folders ({tmp} is the test's temporary folder)
    "image folder without a root": (["data=imagefolder"], "data.root must be set (its default is ???)"),
    "missing data root": (
        ["data=cifar10", "data.root={tmp}/nowhere"],
        "data.root {tmp}/nowhere has no CIFAR-10 files (cifar-10-batches-py/data_batch_1 is missing)",
    ),
    "data root that is a file": (
        ["data=cifar10", "data.root={tmp}/a_file"],
        "data.root {tmp}/a_file has no CIFAR-10 files",
    ),
    "corrupt dataset file": (
        ["data=cifar10", "data.root={tmp}/cifar"],
        "CIFAR-10: {tmp}/cifar/cifar-10-batches-py/data_batch_1 is corrupt",
    ),
    "unwritable output folder": (
        ["hydra.run.dir={tmp}/a_file/run"],
        "output folder {tmp}/a_file/run (hydra.run.dir) is not writable: Not a directory",
    ),
}
if not torch.cuda.is_available():  # on a machine with a GPU this is no error
    CASES["a GPU on a machine without one"] = (
        ["trainer.accelerator=gpu"],
        "trainer.accelerator=gpu needs a CUDA GPU and none is visible here",
    )


def write_corrupt_cifar10(root) -> None:
    """Every file CIFAR-10 needs, each holding bytes that are not the data set."""
    folder = root / datasets.CIFAR10.base_folder
    folder.mkdir(parents=True)
    names = [f for f, _ in datasets.CIFAR10.train_list + datasets.CIFAR10.test_list]
    for name in [*names, datasets.CIFAR10.meta["filename"]]:
        (folder / name).write_bytes(b"not a pickle")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_its_one_line_error_and_leaves_no_run(case, tmp_path):
    overrides, message = CASES[case]
    (tmp_path / "a_file").write_text("a file, not a folder")
    write_corrupt_cifar10(tmp_path / "cifar")
    run_dir = tmp_path / "run"
    base = OTHER_DATA if any(o.startswith("data=") for o in overrides) else TINY
    args = [*base, f"hydra.run.dir={run_dir}", *(o.format(tmp=tmp_path) for o in overrides)]
    with mock.patch.object(pl.Trainer, "fit", side_effect=AssertionError("a training step was taken")):
        code, _, err = run_cli(args)
    assert code == 2, err[-2000:]
    lines = [line for line in err.splitlines() if message.format(tmp=tmp_path) in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "search path" not in err
    assert not run_dir.exists()  # made by Hydra before the checks, removed on refusal (src/runs/created.py)


def test_null_is_accepted_where_the_constructor_takes_none_and_refused_elsewhere():
    all_images = [
        "data=imagefolder",
        "data.root=/nowhere",
        "data.num_probe_train=null",
    ]  # its YAML: null = all
    cfg, null_lr = compose_config(all_images), compose_config(["optimizer.lr=null"])
    assert OmegaConf.select(cfg, "data.num_probe_train") is None
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        check_override_types(cfg, all_images, CONF)
        with pytest.raises(ValueError, match=r"optimizer\.lr must be a number"):
            check_override_types(null_lr, ["optimizer.lr=null"], CONF)
