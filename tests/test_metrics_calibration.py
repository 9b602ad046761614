"""BatchNorm calibration for measurement: the statistics it measures with are the training data's (not
BN's defaults), and measuring leaves the module bitwise as it was."""

import csv

import pytest
import torch
from omegaconf import OmegaConf

from src.cli.resolvers import build
from src.metrics.calibration import calibrated_batchnorm, online_batchnorm_layers, training_views
from src.metrics.monitor import measure
from src.train import build_module


def _module_and_data(cfg):
    torch.manual_seed(0)
    datamodule = build(cfg.data)
    module = build_module(cfg, datamodule)
    datamodule.setup("fit")
    return module, datamodule


def _state(module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_the_reference_is_measured_with_the_datas_statistics_not_the_defaults(tiny_config):
    module, datamodule = _module_and_data(tiny_config())
    first = online_batchnorm_layers(module)[0]  # the backbone's first BN, after Flatten → Linear
    linear = module.encoder.backbone[1]
    assert torch.equal(first.running_mean, torch.zeros_like(first.running_mean))  # untouched at init
    n = 3
    with torch.no_grad():  # independently: the mean and variance of that layer's inputs on those batches
        inputs = [linear(v.flatten(1)) for s in range(n) for v in training_views(datamodule, s, "cpu")]
    expected_mean = torch.stack([a.mean(0) for a in inputs]).mean(0)  # equal batches: mean of means
    expected_var = torch.stack([a.var(0, correction=1) for a in inputs]).mean(0)  # BN keeps unbiased vars
    with calibrated_batchnorm(module, datamodule, n):
        assert not module.training and not first.training
        assert torch.allclose(first.running_mean, expected_mean, atol=1e-5)
        assert torch.allclose(first.running_var, expected_var, rtol=1e-4)
        assert first.running_var.sub(1).abs().max() > 0.1  # far from BN's default variance of 1
    assert torch.equal(first.running_mean, torch.zeros_like(first.running_mean))  # restored on exit


def test_measuring_leaves_the_module_bitwise_unchanged(tiny_config):
    cfg = tiny_config()
    module, datamodule = _module_and_data(cfg)
    module.train()
    with torch.no_grad():  # running statistics away from their defaults, as during training
        for step in range(2):
            for view in training_views(datamodule, 10 + step, "cpu"):
                module.forward_view(view)
    before = _state(module)
    momenta = [m.momentum for m in online_batchnorm_layers(module)]
    settings = OmegaConf.to_container(cfg.metrics, resolve=True)
    measure(module, datamodule, settings)
    after = module.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert module.training and all(m.training for m in module.modules())
    assert [m.momentum for m in online_batchnorm_layers(module)] == momenta


def test_calibration_changes_what_is_measured_and_zero_batches_turns_it_off(tiny_config):
    cfg = tiny_config()
    module, datamodule = _module_and_data(cfg)
    settings = OmegaConf.to_container(cfg.metrics, resolve=True)
    calibrated, _ = measure(module, datamodule, settings)
    plain, _ = measure(module, datamodule, {**settings, "calibration_batches": 0})
    again, _ = measure(module, datamodule, settings)
    assert calibrated == again  # deterministic: fixed steps, no gradient
    assert calibrated["z_std_sqrt_d"] != pytest.approx(plain["z_std_sqrt_d"], rel=1e-3)


def test_a_target_side_predictor_is_not_calibrated(tiny_config):
    module, _ = _module_and_data(tiny_config("+ablation=predictor_on_target"))
    layers = online_batchnorm_layers(module)
    assert layers and not any(m in layers for m in module.predictor.modules())


def _losses(run_dir) -> list[str]:
    with open(run_dir / "metrics.csv") as f:
        return [r["train/loss"] for r in csv.DictReader(f) if r.get("train/loss")]


def test_training_losses_are_bitwise_the_same_however_often_it_is_measured(tiny_config, tmp_path):
    from src.train import train

    often, rarely = tmp_path / "often", tmp_path / "rarely"
    train(tiny_config("metrics.every_n_steps=1"), often)
    train(tiny_config("metrics.every_n_steps=100"), rarely)
    assert len(_losses(often)) == 4 and _losses(often) == _losses(rarely)  # the CSV's exact decimal text
