"""Choices that silently change results (docs/design.md §4), each pinned by a test: which parameters the
optimizer of a real fit holds, LARS's trust ratio, how a target's BatchNorm buffers follow the online
network, and which statistics the target's BatchNorm normalises with."""

from unittest import mock

import pytest
import torch
from torch import nn

from src.mechanisms.lars import LARS
from src.mechanisms.targets import NetworkTarget
from src.models.encoder import Encoder
from src.ssl_module import SSLModule
from src.train import train


@pytest.mark.parametrize(
    "row", ["byol", "random_target", "ensemble_target_ema", "predictor_on_target", "simsiam"]
)
def test_the_optimizer_of_a_real_fit_holds_every_online_parameter_and_no_target_one(
    tiny_config, tmp_path, row
):
    built = {}
    original = SSLModule.configure_optimizers

    def capture(module):
        config = original(module)
        built.update(module=module, optimizer=config["optimizer"])
        return config

    cfg = tiny_config(f"+ablation={row}", "trainer.max_steps=1")
    with mock.patch.object(SSLModule, "configure_optimizers", autospec=True, side_effect=capture):
        assert train(cfg, tmp_path)["status"] == "finished"
    module, optimizer = built["module"], built["optimizer"]
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    online = [*module.encoder.parameters(), *module.online_probe.parameters()]
    if module.predictor_side == "online":
        online += list(module.predictor.parameters())
    else:  # on the target side the predictor stays random: never optimised
        assert not held & {id(p) for p in module.predictor.parameters()}
    assert {id(p) for p in online} <= held, "an online parameter is missing from the optimizer"
    target = [p for p in module.target.parameters() if not p.requires_grad]
    assert not held & {id(p) for p in target}, "a target parameter is in the optimizer"
    assert all(p.grad is None for p in target), "a target parameter received a gradient"


def lars_reference(w, grads, lr, weight_decay, momentum, eta):
    """You et al. 2017, written out: u = g + λw; u ← η‖w‖/‖u‖ · u when λ > 0 (and both norms > 0);
    v ← m·v + u; w ← w − lr·v."""
    w, v = w.clone(), torch.zeros_like(w)
    for g in grads:
        u = g + weight_decay * w
        if weight_decay > 0:
            u = eta * w.norm() / u.norm() * u
        v = momentum * v + u
        w = w - lr * v
    return w


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_lars_follows_the_trust_ratio_formula(weight_decay):
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    grads = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    param = nn.Parameter(w0.clone())
    optimizer = LARS([param], lr=0.1, weight_decay=weight_decay, momentum=0.9, eta=0.02)
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
    expected = lars_reference(w0, grads, 0.1, weight_decay, 0.9, 0.02)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-12, atol=1e-12)
    # The trust ratio is what makes a λ > 0 step differ from plain momentum SGD.
    sgd = lars_reference(w0, grads, 0.1, 0.0, 0.9, 0.02)
    assert torch.equal(expected, sgd) == (weight_decay == 0)


def bn_encoder() -> Encoder:
    torch.manual_seed(0)
    return Encoder(nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6)), nn.Linear(6, 3))


def running_stats(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    bn = next(m for m in module.modules() if isinstance(m, nn.BatchNorm1d))
    return bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()


@pytest.mark.parametrize("bn_buffers", ["average", "copy"])
def test_target_batchnorm_buffers_are_averaged_or_copied(bn_buffers):
    online = bn_encoder()
    target = NetworkTarget(online, bn_buffers=bn_buffers, schedule="constant", tau=0.75)
    online.train()
    for _ in range(3):  # move the online running statistics away from the copy's
        online(torch.randn(16, 4) * 3 + 1)
    old, new = running_stats(target.network), running_stats(online)
    target.update(online, step=0, total_steps=10)
    mean, var, count = running_stats(target.network)
    if bn_buffers == "average":
        torch.testing.assert_close(mean, 0.75 * old[0] + 0.25 * new[0])
        torch.testing.assert_close(var, 0.75 * old[1] + 0.25 * new[1])
    else:
        assert torch.equal(mean, new[0]) and torch.equal(var, new[1])
    assert torch.equal(count, new[2])  # the integer counter is copied either way


@pytest.mark.parametrize("bn_stats", ["batch", "running"])
def test_target_batchnorm_uses_batch_or_running_statistics(bn_stats):
    target = NetworkTarget(bn_encoder(), bn_stats=bn_stats).train()
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1)) * 2 + 1
    alone, in_batch = target(x[:2], None)[0], target(x, None)[0]
    # With running statistics a target output does not depend on the rest of its batch.
    assert torch.allclose(alone, in_batch) == (bn_stats == "running")
