"""DirectPred and DirectCopy: the formulas against an independent implementation on a known F, the
running estimate, and the head inside the real module (never trained, set after each step)."""

import numpy as np
import pytest
import torch

from src.core.errors import ConfigError
from src.models.direct_heads import (
    DirectHead,
    batch_correlation,
    directcopy_weight,
    directpred_weight,
    running_correlation,
)
from tests.test_module import built, one_loss


def known_correlation(d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F = Q diag(s) Qᵀ with a random orthogonal Q and distinct positive s: (F, Q, s)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = np.array([4.0, 2.0, 1.0, 0.25, 0.04, 0.01])[:d]
    return q @ np.diag(s) @ q.T, q, s


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_directpred_weight_is_the_papers_formula_on_a_known_f(eps):
    f, q, s = known_correlation()
    expected = q @ np.diag(np.sqrt(s) / np.sqrt(s.max()) + eps) @ q.T  # Tian et al. Eq. 18
    ours = directpred_weight(torch.tensor(f), eps).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-10)


def test_directpred_weight_limits():
    # F = c·I: every p_j = 1 + ε, so W = (1 + ε)·I whatever c; a rank-one F keeps one direction.
    torch.testing.assert_close(directpred_weight(3.0 * torch.eye(4), 0.1), 1.1 * torch.eye(4))
    v = torch.tensor([[1.0], [0.0], [0.0]])
    torch.testing.assert_close(directpred_weight(v @ v.T, 0.0), torch.diag(torch.tensor([1.0, 1e-4, 1e-4])))


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_directcopy_weight_is_the_normalised_correlation_plus_eps_identity(eps):
    f, _, s = known_correlation(seed=1)
    expected = f / s.max() + eps * np.eye(len(f))  # spectral norm of a PSD matrix = its top eigenvalue
    np.testing.assert_allclose(directcopy_weight(torch.tensor(f), eps).numpy(), expected, atol=1e-10)


def test_running_correlation_starts_at_the_batch_then_mixes_with_rho():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(10, 3, generator=g), torch.randn(12, 3, generator=g)
    c1 = np.mean([np.outer(r, r) for r in z1.numpy()], axis=0)
    c2 = np.mean([np.outer(r, r) for r in z2.numpy()], axis=0)
    first = running_correlation(torch.full((3, 3), 7.0), z1, 0.3, torch.tensor(True))
    np.testing.assert_allclose(first.numpy(), c1, rtol=1e-5)
    second = running_correlation(first, z2, 0.3, torch.tensor(False))
    np.testing.assert_allclose(second.numpy(), 0.3 * c1 + 0.7 * c2, rtol=1e-5)
    torch.testing.assert_close(batch_correlation(z2), torch.tensor(c2, dtype=torch.float32))


def test_head_is_set_from_what_it_observed_and_only_when_due():
    head = DirectHead(3, rule="directpred", rho=0.5, eps=0.1, update_every=2)
    assert list(head.parameters()) == []  # nothing an optimizer could hold
    torch.testing.assert_close(head(torch.ones(2, 3)), torch.ones(2, 3))  # W = I before the first update
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    head.observe(z)
    head.refresh(1)  # not due (update_every = 2)
    assert torch.equal(head.weight, torch.eye(3))
    head.refresh(2)
    torch.testing.assert_close(head.weight, directpred_weight(batch_correlation(z), 0.1))
    assert {"weight", "correlation", "observed"} <= head.state_dict().keys()  # checkpointed


@pytest.mark.parametrize("row", ["directpred", "directcopy"])
def test_direct_predictor_is_never_in_the_optimizer_and_gets_set_after_a_step(tiny_config, row):
    module, dm = built(tiny_config, f"+ablation={row}")
    optimizer, _ = module.make_optimizer(
        parts={"encoder": module.encoder, "predictor": module.predictor, "probe": module.online_probe},
        total_steps=10,
    )
    assert "predictor" not in {g["name"] for g in optimizer.param_groups}
    one_loss(module, dm).backward()  # the encoder learns through W z; W itself has no gradient
    assert module.predictor.weight.grad is None
    dm.setup("fit")
    x1, x2, _ = dm.train_batch(0)
    z = torch.cat([module.encoder(x)[1] for x in (x1, x2)]).detach()
    module.predictor.observe(z)
    module.predictor.refresh(0)
    rule = directpred_weight if row == "directpred" else directcopy_weight
    torch.testing.assert_close(module.predictor.weight, rule(batch_correlation(z), module.predictor.eps))


@pytest.mark.parametrize(
    "override, key",
    [("model.predictor.net.eps=-0.1", "model.predictor.net.eps"),
     ("model.predictor.net.rho=0", "model.predictor.net.rho"),
     ("model.predictor.net.rho=1.5", "model.predictor.net.rho"),
     ("model.predictor.net.update_every=0", "model.predictor.net.update_every"),
     ("model.predictor.side=target", "model.predictor.side")],
)  # fmt: skip
def test_bad_settings_name_their_key(tiny_config, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        built(tiny_config, "model/predictor=directpred", override)
