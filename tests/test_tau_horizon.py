"""The τ horizon: the half-life against the analytic limit (after h steps the initial weights keep half
their share) and an independent EMA simulation; τ restated for another run length keeps the horizon as a
fraction of the run; NetworkTarget with ``tau_stated_for_steps: null`` is today's target bit for bit, and
with a run length stated its τ follows the run."""

import math

import pandas as pd
import pytest
import torch

from src.analysis.render.horizons import horizon_markdown, horizon_table
from src.core.errors import ConfigError
from src.mechanisms.ema import cosine_tau, ema_update_
from src.mechanisms.targets import NetworkTarget
from src.mechanisms.tau_horizon import half_life, restated_tau
from src.models.backbones import MLPBackbone
from src.models.encoder import Encoder
from src.models.heads import MLPHead
from tests.conftest import compose_config


@pytest.mark.parametrize("h", [1.0, 6.5, 69.0, 1000.0])
def test_after_h_steps_the_initial_weight_keeps_half_its_share(h):
    tau = 0.5 ** (1 / h)  # written out here: τ^h = ½
    assert half_life(tau) == pytest.approx(h, rel=1e-12)
    # Independently: an EMA of a constant online 1 from a target at 0, h steps (h integer): target = 1 − τ^h.
    if h.is_integer():
        target, online = [torch.zeros(1, dtype=torch.float64)], [torch.ones(1, dtype=torch.float64)]
        for _ in range(int(h)):
            ema_update_(target, online, tau)
        assert target[0].item() == pytest.approx(0.5, rel=1e-9)


def test_the_limits_zero_and_infinity():
    assert half_life(0.0) == 0.0  # the target is the online network
    assert half_life(1.0) == math.inf  # it never moves
    assert restated_tau(0.0, 300, 1500) == 0.0 and restated_tau(1.0, 300, 1500) == 1.0  # any run alike


@pytest.mark.parametrize(("tau", "stated", "total"), [(0.99, 300, 1500), (0.9, 300, 60), (0.999, 1000, 1000)])
def test_a_restated_tau_keeps_the_half_life_as_a_fraction_of_the_run(tau, stated, total):
    restated = restated_tau(tau, stated, total)
    assert half_life(restated) / total == pytest.approx(half_life(tau) / stated, rel=1e-12)
    assert restated == pytest.approx(tau ** (stated / total), rel=1e-15)


def encoder() -> Encoder:
    torch.manual_seed(0)
    return Encoder(MLPBackbone((2, 24), 16, 2, "bn"), MLPHead(16, 16, 8))


def run_target(target: NetworkTarget, online: Encoder, steps: int, total: int) -> list[float]:
    taus = []
    for step in range(steps):
        with torch.no_grad():
            for p in online.parameters():
                p.add_(0.01)
        taus.append(target.update(online, step, total)["ema/tau"])
    return taus


def test_null_fraction_is_todays_target_bit_for_bit():
    """Against today's rule written out here: τ_k = cosine_tau(k, T, τ_base), ξ ← lerp(ξ, θ, 1 − τ_k)."""
    online = encoder()
    target = NetworkTarget(online, tau=0.99, tau_stated_for_steps=None)
    expected = {k: v.clone() for k, v in target.network.state_dict().items()}
    taus = run_target(target, online, 5, 10)
    assert taus == [cosine_tau(k, 10, 0.99) for k in range(5)]  # exact: the same floats
    online_state = online.state_dict()
    replay = encoder()  # the same start; replay the steps and the lerps tensor by tensor
    for k in range(5):
        with torch.no_grad():
            for p in replay.parameters():
                p.add_(0.01)
        for name, value in replay.state_dict().items():
            if value.is_floating_point():
                expected[name] = torch.lerp(expected[name], value, 1.0 - taus[k])
            else:
                expected[name] = value.clone()
    for name, value in target.network.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert all(torch.equal(online_state[n], v) for n, v in replay.state_dict().items())


def test_the_yaml_default_is_null_and_a_study_restates_tau_for_its_run():
    assert compose_config([]).model.target.tau_stated_for_steps is None
    restated = compose_config(["+tau_stated_for_steps=300", "trainer.max_steps=1500"]).model.target
    assert restated.tau_stated_for_steps == 300
    online = encoder()
    target = NetworkTarget(online, tau=0.99, schedule="constant", tau_stated_for_steps=300)
    (tau,) = run_target(target, online, 1, 1500)
    assert tau == pytest.approx(0.99**0.2, rel=1e-15)  # half-life 69 → 345 steps: 0.23 of either run
    cosine = NetworkTarget(encoder(), tau=0.99, schedule="cosine", tau_stated_for_steps=300)
    assert cosine.tau(0, 1500) == pytest.approx(0.99**0.2, rel=1e-15) and cosine.tau(1500, 1500) == 1.0


@pytest.mark.parametrize("bad", [0, -300, 1.5, True])
def test_a_bad_run_length_is_one_line_naming_the_key(bad):
    with pytest.raises(ConfigError, match=r"model\.target\.tau_stated_for_steps must be an integer ≥ 1"):
        NetworkTarget(encoder(), tau_stated_for_steps=bad)


def test_the_report_reads_each_ema_rows_tau_as_a_horizon_in_steps_and_in_runs():
    runs = pd.DataFrame(
        [
            ("ema_tau_0.99", "ema", "constant", 0.99, None, 300),
            ("ema_tau_1.0", "ema", "constant", 1.0, None, 300),
            ("byol", "ema", "cosine", 0.99, 300, 1500),  # stated for 300 steps: restated for 1,500
            ("random_target", "frozen", "constant", 1.0, None, 300),
        ],
        columns=["row", *(f"cfg.model.target.{k}" for k in ("update", "schedule", "tau", "tau_stated_for_steps")),
                 "cfg.trainer.max_steps"],
    )  # fmt: skip
    table = horizon_table(runs).set_index("row")
    assert list(table.index) == ["byol", "ema_tau_0.99", "ema_tau_1.0"]  # the frozen target has no horizon
    assert table.loc["ema_tau_0.99", "half-life (steps)"] == pytest.approx(math.log(2) / -math.log(0.99))
    assert table.loc["ema_tau_0.99", "half-life / run"] == pytest.approx(math.log(2) / -math.log(0.99) / 300)
    assert math.isinf(table.loc["ema_tau_1.0", "half-life (steps)"])
    assert table.loc["byol", "τ (base)"] == pytest.approx(0.99**0.2) and table.loc[
        "byol", "half-life / run"
    ] == pytest.approx(table.loc["ema_tau_0.99", "half-life / run"])
    text = "\n".join(horizon_markdown(horizon_table(runs)))
    assert "| ema_tau_1.0  | constant   | 1          | ∞" in text and "0.230" in text
