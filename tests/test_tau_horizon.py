"""The τ horizon: half-life ↔ τ against the analytic limit (after h steps the initial weights keep half
their share) and an independent EMA simulation; the horizon as a fraction of the run; NetworkTarget with
``tau_half_life_fraction: null`` is today's target bit for bit, and with a fraction its τ follows the run."""

import math

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from src.analysis.render.horizons import horizon_markdown, horizon_table
from src.core.errors import ConfigError
from src.mechanisms.ema import (
    cosine_tau,
    ema_update_,
    half_life,
    half_life_fraction,
    half_life_steps,
    tau_for_half_life,
)
from src.mechanisms.targets import NetworkTarget
from src.models.backbones import MLPBackbone
from src.models.encoder import Encoder
from src.models.heads import MLPHead
from tests.conftest import CONF, compose_config


@pytest.mark.parametrize("h", [1.0, 6.5, 69.0, 1000.0])
def test_after_h_steps_the_initial_weight_keeps_half_its_share(h):
    tau = tau_for_half_life(h)
    assert tau**h == pytest.approx(0.5, rel=1e-12)
    assert half_life(tau) == pytest.approx(h, rel=1e-12)
    # Independently: an EMA of a constant online 1 from a target at 0, h steps (h integer): target = 1 − τ^h.
    if h.is_integer():
        target, online = [torch.zeros(1, dtype=torch.float64)], [torch.ones(1, dtype=torch.float64)]
        for _ in range(int(h)):
            ema_update_(target, online, tau)
        assert target[0].item() == pytest.approx(0.5, rel=1e-9)


def test_the_limits_zero_and_infinity():
    assert tau_for_half_life(0.0) == 0.0 and half_life(0.0) == 0.0  # the target is the online network
    assert tau_for_half_life(math.inf) == 1.0 and half_life(1.0) == math.inf  # it never moves
    assert tau_for_half_life(1e-3) < 1e-300 and tau_for_half_life(1e12) == pytest.approx(1.0)


def test_a_fraction_of_the_run_is_that_many_steps_and_back():
    assert half_life_steps(0.25, 300) == 75.0
    f = half_life_fraction(0.99, 300)
    assert f == pytest.approx(math.log(0.5) / math.log(0.99) / 300)  # 69.0 steps of 300: 0.231
    # Restated for a run five times longer, τ is τ^(1/5) per step: the same horizon in run lengths.
    assert tau_for_half_life(half_life_steps(f, 1500)) == pytest.approx(0.99 ** (300 / 1500), rel=1e-12)
    assert half_life_fraction(0.0, 300) is None and half_life_fraction(1.0, 300) is None


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
    target = NetworkTarget(online, tau=0.99, tau_half_life_fraction=None)
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


def test_the_yaml_default_resolves_to_null_and_a_study_restates_tau_for_its_run():
    assert compose_config([]).model.target.tau_half_life_fraction is None
    restated = compose_config(["+tau_stated_for_steps=300", "trainer.max_steps=1500"]).model.target
    assert restated.tau_half_life_fraction == pytest.approx(half_life_fraction(0.99, 300))
    assert (
        compose_config(["+ablation=no_ema", "+tau_stated_for_steps=300"]).model.target.tau_half_life_fraction
        is None
    )
    assert "tau_half_life_fraction" in OmegaConf.load(CONF / "model" / "target" / "ema.yaml")


def test_a_fraction_sets_tau_from_the_run_length():
    online = encoder()
    target = NetworkTarget(online, tau=0.5, schedule="constant", tau_half_life_fraction=0.1)
    (tau,) = run_target(target, online, 1, 200)
    assert tau == pytest.approx(2 ** (-1 / 20))  # half-life 0.1 · 200 = 20 steps; `tau` unused
    cosine = NetworkTarget(encoder(), tau=0.5, schedule="cosine", tau_half_life_fraction=0.1)
    assert cosine.tau(0, 200) == pytest.approx(2 ** (-1 / 20)) and cosine.tau(200, 200) == 1.0


@pytest.mark.parametrize("bad", [0.0, -0.1, math.inf, math.nan])
def test_a_bad_fraction_is_one_line_naming_the_key(bad):
    with pytest.raises(
        ConfigError, match=r"model\.target\.tau_half_life_fraction must be a finite number > 0"
    ):
        NetworkTarget(encoder(), tau_half_life_fraction=bad)


def test_the_report_reads_each_ema_rows_tau_as_a_horizon_in_steps_and_in_runs():
    runs = pd.DataFrame(
        [
            ("ema_tau_0.99", "ema", "constant", 0.99, None, 300),
            ("ema_tau_1.0", "ema", "constant", 1.0, None, 300),
            ("byol", "ema", "cosine", 0.99, 0.25, 1500),  # stated as a fraction: τ follows from it
            ("random_target", "frozen", "constant", 1.0, None, 300),
        ],
        columns=["row", *(f"cfg.model.target.{k}" for k in ("update", "schedule", "tau", "tau_half_life_fraction")),
                 "cfg.trainer.max_steps"],
    )  # fmt: skip
    table = horizon_table(runs).set_index("row")
    assert list(table.index) == ["byol", "ema_tau_0.99", "ema_tau_1.0"]  # the frozen target has no horizon
    assert table.loc["ema_tau_0.99", "half-life (steps)"] == pytest.approx(math.log(2) / -math.log(0.99))
    assert table.loc["ema_tau_0.99", "half-life / run"] == pytest.approx(math.log(2) / -math.log(0.99) / 300)
    assert math.isinf(table.loc["ema_tau_1.0", "half-life (steps)"])
    assert table.loc["byol", "τ (base)"] == pytest.approx(0.5 ** (1 / 375)) and table.loc[
        "byol", "half-life / run"
    ] == pytest.approx(0.25)
    text = "\n".join(horizon_markdown(horizon_table(runs)))
    assert "| ema_tau_1.0  | constant   | 1          | ∞" in text and "0.230" in text
