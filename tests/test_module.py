"""Component semantics inside the real LightningModule, built from the real configs."""

import pytest
import torch

from src.cli.resolvers import build as instantiate
from src.core.errors import ConfigError
from src.train import build_module


def built(tiny_config, *overrides):
    cfg = tiny_config(*overrides)
    datamodule = instantiate(cfg.data)
    torch.manual_seed(0)
    return build_module(cfg, datamodule), datamodule


def one_loss(module, datamodule):
    datamodule.setup("fit")
    x1, x2, _ = datamodule.train_batch(0)
    p1, t1 = (module.forward_view(x1)[k] for k in "pt")
    p2, t2 = (module.forward_view(x2)[k] for k in "pt")
    return module.objective(p1, p2, t1, t2)["loss"]


def grad_norms(module) -> dict[str, float]:
    return {
        name: sum(float(p.grad.abs().sum()) for p in part.parameters() if p.grad is not None)
        for name, part in (
            ("encoder", module.encoder),
            ("predictor", module.predictor),
            ("target", module.target),
        )
    }


def test_stop_gradient_detaches_the_target_branch(tiny_config):
    module, dm = built(tiny_config, "+ablation=simsiam")
    dm.setup("fit")
    x1, x2, _ = dm.train_batch(0)
    _, z1 = module.encoder(x1)
    assert not module.target(x1, z1).requires_grad
    # Gradient reaches the encoder only through p: with the predictor's output detached, nothing does.
    p1, t1 = (module.forward_view(x1)[k] for k in "pt")
    p2, t2 = (module.forward_view(x2)[k] for k in "pt")
    loss = module.objective(p1.detach(), p2.detach(), t1, t2)["loss"]
    assert not loss.requires_grad


def test_no_stopgrad_sends_gradient_through_both_branches(tiny_config):
    module, dm = built(tiny_config, "+ablation=no_stopgrad")
    dm.setup("fit")
    x1, x2, _ = dm.train_batch(0)
    p1, t1 = (module.forward_view(x1)[k] for k in "pt")
    p2, t2 = (module.forward_view(x2)[k] for k in "pt")
    assert t1.requires_grad and t2.requires_grad
    # With the prediction branch cut, the encoder still gets a gradient — through the target branch.
    loss = module.objective(p1.detach(), p2.detach(), t1, t2)["loss"]
    (grad,) = torch.autograd.grad(loss, module.encoder.projector[0].weight)
    assert grad.abs().sum() > 0


def test_predictor_on_target_side_gets_no_gradient(tiny_config):
    module, dm = built(tiny_config, "+ablation=predictor_on_target")
    one_loss(module, dm).backward()
    norms = grad_norms(module)
    assert norms["encoder"] > 0
    assert norms["predictor"] == 0 and norms["target"] == 0
    assert not any(p.requires_grad for p in module.predictor.parameters())


def test_byol_gradients_reach_encoder_and_predictor_but_not_target(tiny_config):
    module, dm = built(tiny_config)
    one_loss(module, dm).backward()
    norms = grad_norms(module)
    assert norms["encoder"] > 0 and norms["predictor"] > 0 and norms["target"] == 0


def test_predictor_on_target_with_online_target_is_refused(tiny_config):
    with pytest.raises(ConfigError, match=r"model\.predictor\.side=target"):
        built(tiny_config, "model/target=online", "model.predictor.side=target")


@pytest.mark.parametrize(
    "override, key",
    [("model.target.tau=1.5", "model.target.tau"), ("model.target.tau=-0.1", "model.target.tau"),
     ("model.loss.negatives_weight=-1", "model.loss.negatives_weight"),
     ("model/target=ensemble model.target.num_members=0", "model.target.num_members"),
     ("model/target=ensemble model.target.taus=[0.9,0.9]", "model.target.taus")],
)  # fmt: skip
def test_out_of_range_values_name_their_key(tiny_config, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        built(tiny_config, *override.split())


def test_ensemble_weights_sum_to_one_and_learned_weights_get_gradient(tiny_config):
    module, dm = built(tiny_config, "+ablation=ensemble_target", "model.target.weights=learned")
    assert module.target.weights().sum().item() == pytest.approx(1.0)
    one_loss(module, dm).backward()
    logits = module.target.member_weights.logits
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    for member in module.target.members:
        assert all(p.grad is None for p in member.parameters())
    random_weights, _ = built(tiny_config, "+ablation=ensemble_target", "model.target.weights=random")
    assert random_weights.target.weights().sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("update", ["frozen", "ema"])
def test_ensemble_of_one_is_exactly_the_single_target(tiny_config, update):
    single_cfg = "model/target=frozen" if update == "frozen" else "model/target=ema"
    single, dm = built(tiny_config, single_cfg, "model.target.init=independent")
    ensemble, _ = built(
        tiny_config, "model/target=ensemble", "model.target.num_members=1", "model.target.taus=[0.99]",
        f"model.target.member.update={update}", "model.target.normalise_members=false",
        "model.target.member.tau_final=1.0", "model.target.member.schedule=cosine",
    )  # fmt: skip
    dm.setup("fit")
    x1, _, _ = dm.train_batch(0)
    _, z = single.encoder(x1)
    torch.testing.assert_close(single.target(x1, z), ensemble.target(x1, z), rtol=0, atol=0)
    single.target.update(single.encoder, 3, 10)
    ensemble.target.update(ensemble.encoder, 3, 10)
    for a, b in zip(
        single.target.network.parameters(), ensemble.target.members[0].network.parameters(), strict=True
    ):
        assert torch.equal(a, b)


def test_online_probe_ignores_unlabelled_rows():
    import torch.nn.functional as F

    from src.ssl_module import online_probe_loss

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    labels = torch.tensor([0, 0, -1])
    loss, acc = online_probe_loss(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits[:2], labels[:2]))
    assert acc.item() == pytest.approx(0.5)
    none_loss, none_acc = online_probe_loss(logits, torch.full((3,), -1))
    assert none_loss.item() == 0.0 and none_acc.item() == 0.0
