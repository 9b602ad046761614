"""Unit tests of the pure functions: EMA, τ schedule, loss, learning-rate schedule, parameter groups."""

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from src.core.errors import ConfigError
from src.mechanisms.ema import cosine_tau, ema_update_
from src.mechanisms.losses import Objective, negatives_term, normalised_regression, symmetric_loss
from src.mechanisms.optim import build_optimizer, lr_factor, split_decay
from src.mechanisms.targets import EnsembleTarget, NetworkTarget


def tensors(seed: int, n: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 5, generator=g) for _ in range(n)]


def test_ema_tau_one_leaves_target_bit_identical():
    target, online = tensors(0), tensors(1)
    before = [t.clone() for t in target]
    ema_update_(target, online, tau=1.0)
    assert all(torch.equal(a, b) for a, b in zip(target, before, strict=True))


def test_ema_tau_zero_copies_online_bit_for_bit():
    target, online = tensors(0), tensors(1)
    ema_update_(target, online, tau=0.0)
    assert all(torch.equal(a, b) for a, b in zip(target, online, strict=True))


def test_ema_matches_the_formula():
    target, online = tensors(0), tensors(1)
    expected = [0.9 * t + 0.1 * o for t, o in zip(target, online, strict=True)]
    ema_update_(target, online, tau=0.9)
    for a, b in zip(target, expected, strict=True):
        torch.testing.assert_close(a, b)


def test_cosine_tau_endpoints_and_midpoint():
    assert cosine_tau(0, 100, 0.99) == pytest.approx(0.99)
    assert cosine_tau(100, 100, 0.99) == pytest.approx(1.0)
    assert cosine_tau(50, 100, 0.99) == pytest.approx(0.995)  # BYOL: 1 − (1−τ)(cos(π/2)+1)/2
    assert cosine_tau(250, 100, 0.9, 0.95) == pytest.approx(0.95)  # clamped past the horizon


def test_regression_is_two_minus_two_cos():
    p, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert normalised_regression(p, t).item() == pytest.approx(2.0)
    assert normalised_regression(p, -p).item() == pytest.approx(4.0)
    assert normalised_regression(p, 5 * p).item() == pytest.approx(0.0)


def independent_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent written from the paper: 2B anchors, each with its positive and 2B−2 negatives."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    losses = []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        sims = torch.stack([z[i] @ z[k] / temperature for k in range(2 * n) if k != i])
        losses.append(-(z[i] @ z[j] / temperature) + torch.logsumexp(sims, 0))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_beta_one_with_identity_predictor_and_online_target_is_nt_xent(temperature):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    ours = symmetric_loss(z1, z2, z1, z2, negatives_weight=1.0, temperature=temperature)["loss"]
    expected = 2.0 + 2.0 * temperature * independent_nt_xent(z1, z2, temperature)
    torch.testing.assert_close(ours, expected)


def test_nt_xent_gradients_match_up_to_the_factor():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(5, 4, generator=g, requires_grad=True), torch.randn(5, 4, generator=g)
    (grad_ours,) = torch.autograd.grad(symmetric_loss(z1, z2, z1, z2, 1.0, 0.2)["loss"], z1)
    (grad_ref,) = torch.autograd.grad(2 * 0.2 * independent_nt_xent(z1, z2, 0.2), z1)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_beta_zero_is_pure_regression_and_symmetric_in_the_views():
    g = torch.Generator().manual_seed(2)
    p1, p2, t1, t2 = (torch.randn(7, 3, generator=g) for _ in range(4))
    a = symmetric_loss(p1, p2, t1, t2, 0.0, 0.2)
    b = symmetric_loss(p2, p1, t2, t1, 0.0, 0.2)
    torch.testing.assert_close(a["loss"], b["loss"])
    expected = 0.5 * (normalised_regression(p1, t2) + normalised_regression(p2, t1))
    torch.testing.assert_close(a["loss"], expected)
    assert "loss_negatives" not in a
    summed = symmetric_loss(p1, p2, t1, t2, 0.0, 0.2, view_reduction="sum")["loss"]
    torch.testing.assert_close(summed, 2 * a["loss"])


def test_negatives_term_of_collapsed_outputs_is_log_of_candidate_count():
    x = torch.ones(4, 3)
    # every cosine is 1 → logsumexp over 2B−1 candidates of 1/α = 1/α + log(2B−1)
    value = negatives_term(x, x, x, temperature=0.5)
    assert value.item() == pytest.approx(2 * 0.5 * (1 / 0.5 + math.log(7)))


@pytest.mark.parametrize(
    "kwargs, key",
    [({"negatives_weight": -1.0}, "negatives_weight"), ({"temperature": 0.0}, "temperature"),
     ({"view_reduction": "max"}, "view_reduction")],
)  # fmt: skip
def test_objective_rejects_out_of_range_values(kwargs, key):
    with pytest.raises(ConfigError, match=f"model.loss.{key}"):
        Objective(**kwargs)


def test_lr_factor_warmup_then_cosine():
    assert lr_factor(0, 100, 10, "cosine") == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(100, 100, 10, "cosine") == pytest.approx(0.0)
    assert lr_factor(70, 100, 0, "constant") == 1.0


def test_no_weight_decay_on_biases_and_norms():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    decay, no_decay = split_decay(net)
    assert {id(p) for p in decay} == {id(net[0].weight), id(net[2].weight)}
    assert len(no_decay) == 4  # two biases, BN weight and bias


def test_fixed_predictor_rate_is_not_scheduled():
    parts = {"encoder": nn.Linear(3, 3), "predictor": nn.Linear(3, 3)}
    optimizer, scheduler = build_optimizer(
        torch.optim.SGD, parts, lr=0.1, weight_decay=0.0, exclude_bias_and_norm=True, warmup_fraction=0.0,
        schedule="cosine", predictor_lr="fixed", predictor_lr_scale=1.0, total_steps=10, step_batch=64,
        lr_reference_batch=None,
    )  # fmt: skip
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates["predictor"] == pytest.approx(0.1)
    assert rates["encoder"] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_predictor_weight_decay_is_its_own_setting():
    parts = {"encoder": nn.Linear(3, 3), "predictor": nn.Linear(3, 3)}
    common = dict(
        lr=0.1, weight_decay=0.01, exclude_bias_and_norm=True, warmup_fraction=0.0, schedule="cosine",
        predictor_lr="same", predictor_lr_scale=1.0, total_steps=10, step_batch=64, lr_reference_batch=None,
    )  # fmt: skip
    decays = {
        g["name"]: g["weight_decay"]
        for g in build_optimizer(torch.optim.SGD, parts, **common)[0].param_groups
    }
    assert decays == {"encoder": 0.01, "encoder/no_decay": 0.0, "predictor": 0.01, "predictor/no_decay": 0.0}
    optimizer, _ = build_optimizer(torch.optim.SGD, parts, **common, predictor_weight_decay=0.0)
    decays = {g["name"]: g["weight_decay"] for g in optimizer.param_groups}
    assert decays["predictor"] == 0.0 and decays["encoder"] == 0.01
    with pytest.raises(ConfigError, match=r"optimizer\.predictor_weight_decay"):
        build_optimizer(torch.optim.SGD, parts, **common, predictor_weight_decay=-1.0)


def test_the_learning_rate_follows_the_batch_only_when_stated_for_one():
    parts = {"encoder": nn.Linear(3, 3), "predictor": nn.Linear(3, 3)}
    common = dict(
        lr=0.3, weight_decay=0.0, exclude_bias_and_norm=True, warmup_fraction=0.0, schedule="constant",
        predictor_lr="scaled", predictor_lr_scale=10.0, total_steps=10,
    )  # fmt: skip

    def rates(**batch) -> dict[str, float]:
        return {
            g["name"]: g["lr"]
            for g in build_optimizer(torch.optim.SGD, parts, **common, **batch)[0].param_groups
        }

    as_written = {"encoder": 0.3, "encoder/no_decay": 0.3, "predictor": 3.0, "predictor/no_decay": 3.0}
    assert rates(step_batch=48, lr_reference_batch=None) == pytest.approx(as_written)
    # Stated for 256 samples, run at 48: every rate × 48/256, the predictor's own scale kept.
    assert rates(step_batch=48, lr_reference_batch=256) == pytest.approx(
        {k: v * 0.1875 for k, v in as_written.items()}
    )
    with pytest.raises(ConfigError, match=r"optimizer\.lr_reference_batch must be an integer ≥ 1, got 0"):
        rates(step_batch=48, lr_reference_batch=0)


def test_ensemble_members_are_built_from_the_member_config():
    online = nn.Sequential(nn.Linear(3, 3))
    ensemble = EnsembleTarget(
        online, partial(NetworkTarget, init="copy", update="ema"), num_members=3, taus=[0.1, 0.5, 0.9]
    )
    assert [m.tau_base for m in ensemble.members] == [0.1, 0.5, 0.9]
    assert all(m.init == "copy" and m.update_rule == "ema" for m in ensemble.members)
    with pytest.raises(ConfigError, match=r"model\.target\.num_members"):
        EnsembleTarget(online, partial(NetworkTarget), num_members=0, taus=[])
