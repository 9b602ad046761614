"""Becker–Hinton's learned ensemble: the leave-one-out combination against a loop written here, every
member learns, stop-gradient cuts the combination, the members are in the optimizer; and the fixed
random predictors (frozen_predictor, predictor_on_target without BN)."""

import pytest
import torch
from torch import nn

from src.core.errors import ConfigError
from src.mechanisms.learned_ensemble import leave_one_out
from tests.test_module import built, one_loss


def test_leave_one_out_is_the_weighted_mean_of_the_other_members():
    g = torch.Generator().manual_seed(0)
    outputs, weights = torch.randn(4, 3, 5, generator=g), torch.tensor([0.1, 0.2, 0.3, 0.4])
    expected = torch.stack(
        [
            sum(weights[j] * outputs[j] for j in range(4) if j != i)
            / sum(weights[j] for j in range(4) if j != i)
            for i in range(4)
        ]
    )
    torch.testing.assert_close(leave_one_out(outputs, weights), expected)
    # Two members: each one's target is exactly the other one.
    torch.testing.assert_close(leave_one_out(outputs[:2], torch.tensor([0.9, 0.1])), outputs[:2].flip(0))


def member_grads(module) -> list[float]:
    members = [module.encoder, *module.target.others]
    return [sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None) for m in members]


@pytest.mark.parametrize("row", ["learned_ensemble", "learned_ensemble_predictor"])
def test_every_member_learns_and_stop_gradient_cuts_the_combination(tiny_config, row):
    module, dm = built(tiny_config, f"+ablation={row}")
    dm.setup("fit")
    x1, _, _ = dm.train_batch(0)
    view = module.forward_view(x1)
    k, b = len(module.target.others) + 1, len(x1)
    assert view["p"].shape[0] == view["t"].shape[0] == k * b
    assert view["p"].requires_grad and not view["t"].requires_grad  # stop_gradient: true
    one_loss(module, dm).backward()
    assert all(g > 0 for g in member_grads(module))


def test_without_stop_gradient_the_combination_carries_gradient_to_the_other_members(tiny_config):
    module, dm = built(tiny_config, "+ablation=learned_ensemble", "model.target.stop_gradient=false")
    dm.setup("fit")
    x1, x2, _ = dm.train_batch(0)
    v1, v2 = module.forward_view(x1), module.forward_view(x2)
    assert v1["t"].requires_grad
    # With every prediction cut, the members still get a gradient: through the others' targets.
    module.objective(v1["p"].detach(), v2["p"].detach(), v1["t"], v2["t"])["loss"].backward()
    assert all(g > 0 for g in member_grads(module))


def test_the_members_are_in_the_optimizer(tiny_config):
    module, _ = built(tiny_config, "+ablation=learned_ensemble")
    module.trainer = type("T", (), {"estimated_stepping_batches": 10})()
    optimizer = module.configure_optimizers()["optimizer"]
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in module.target.others.parameters()} <= in_optimizer


@pytest.mark.parametrize(
    "override, key",
    [("model.target.num_members=1", "model.target.num_members"),
     ("model.loss.negatives=queue", "model.loss.negatives")],
)  # fmt: skip
def test_refused_settings_name_their_key(tiny_config, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        built(tiny_config, "+ablation=learned_ensemble", override)


def test_frozen_predictor_stays_on_the_online_side_and_never_learns(tiny_config):
    module, dm = built(tiny_config, "+ablation=frozen_predictor")
    assert module.predictor_side == "online" and "p" in module.measured
    one_loss(module, dm).backward()
    assert all(p.grad is None and not p.requires_grad for p in module.predictor.parameters())
    assert any(p.grad is not None for p in module.encoder.parameters())


def test_predictor_on_target_without_bn_has_no_batch_statistics(tiny_config):
    module, _ = built(tiny_config, "+ablation=predictor_on_target_no_bn")
    assert module.predictor_side == "target"
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.predictor.modules())
    with_bn, _ = built(tiny_config, "+ablation=predictor_on_target")
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in with_bn.predictor.modules())
