"""The collapse verdict on synthetic outputs whose answer is known, each judged against its own random-init
reference: a constant plus a residual that still follows the input is complete collapse (however
informative the residual), a large shared mean over input-specific outputs is too once its residual is
orders of magnitude below it, a rank-k subspace is dimensional collapse, a probe below its reference is
partial collapse; margins against a hand computation, the band, NaN, and bad thresholds."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from src.core.errors import ConfigError
from src.metrics.collapse import representation_metrics
from src.metrics.planted import constant_plus_residual, low_rank
from src.metrics.verdict import (
    VERDICTS,
    VerdictRule,
    collapse_verdict,
    decide,
    energy_decades,
    margin,
    probe_gain_se,
)
from tests.conftest import CONF

pytestmark = pytest.mark.unit

SETTINGS = OmegaConf.to_container(OmegaConf.load(CONF / "metrics" / "default.yaml").verdict)
RULE = VerdictRule.from_settings(SETTINGS)
PROBE = {"linear_acc": 0.6, "linear_acc_se": 0.02}  # a probe that neither gained nor lost


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def healthy(n: int = 512, d: int = 64, seed: int = 0):
    """Isotropic, input-specific outputs; the second view is the first plus a little view noise."""
    x = torch.randn(n, d, generator=_g(seed))
    return x, x + 0.3 * torch.randn(n, d, generator=_g(seed + 100))


def measured(outputs: dict) -> dict[str, float]:
    scalars = dict(PROBE)
    for name, (view1, view2) in outputs.items():
        scalars.update(representation_metrics(view1, view2, name))
    return scalars


REFERENCE = measured({"h": healthy(d=128, seed=50), "z": healthy(seed=51), "p": healthy(seed=52)})


def judged(outputs: dict, probe: dict | None = None):
    """The verdict of measured pairs of views (h healthy unless given) against a healthy reference."""
    final = measured({"h": healthy(d=128, seed=60), **outputs}) | (probe or {})
    return collapse_verdict(final, REFERENCE, RULE)


def shared_mean(ratio: float, n: int = 512, d: int = 64, seed: int = 1):
    """Input-specific outputs plus a mean ``ratio`` × as long as their deviations (√d per row)."""
    x, y = healthy(n, d, seed)
    mean = torch.zeros(d)
    mean[0] = ratio * math.sqrt(d)
    return x + mean, y + mean


def test_a_constant_plus_an_informative_residual_is_complete_collapse():
    z, p = healthy(seed=7), healthy(seed=8)
    result = judged({"z": constant_plus_residual(*z), "p": constant_plus_residual(*p)})
    assert result.verdict == "complete_collapse"
    # the residual follows the input perfectly: the scale-free centred gap still calls it informative
    assert representation_metrics(*constant_plus_residual(*z), "z")["z_cos_gap_centred"] > 0.5
    assert result.values["z_energy_decades"] == pytest.approx(-4, abs=0.2)  # a residual 100× smaller


@pytest.mark.parametrize(("ratio", "verdict"), [(1.0, "no_collapse"), (10.0, "complete_collapse")])
def test_a_shared_mean_is_collapse_once_the_residual_is_orders_of_magnitude_below_it(ratio, verdict):
    assert judged({"z": shared_mean(ratio), "p": shared_mean(ratio, seed=2)}).verdict == verdict


def test_energy_decades_against_a_hand_computation():
    assert energy_decades(0.08, 0.8) == pytest.approx(-2.0)  # std ÷ 10 → energy ÷ 100
    assert energy_decades(0.8, 0.8) == 0 and energy_decades(0.0, 0.8) == pytest.approx(
        -2 * (12 + math.log10(0.8))
    )
    assert math.isnan(energy_decades(0.5, 0.0))  # no reference spread: undefined, not infinite


@pytest.mark.parametrize(("where", "d"), [("z", 64), ("h", 128)])
def test_a_planted_low_rank_output_is_dimensional_collapse_whatever_its_energy(where, d):
    outputs = {"z": healthy(seed=9), "p": healthy(seed=10)}
    outputs[where] = low_rank(*healthy(d=d, seed=11))
    result = judged(outputs)
    assert result.verdict == "dimensional_collapse"
    assert result.margins[f"{where}_rank_frac_centred"] <= -1
    if where == "z":  # the plant keeps the energy: only the rank reading can see it
        assert abs(result.values["z_energy_decades"]) < 0.5


def test_a_probe_below_its_reference_by_more_than_the_threshold_is_partial_collapse():
    outputs = {"z": healthy(seed=12), "p": healthy(seed=13)}
    lost = {"linear_acc": 0.6 - 3 * 0.02 * math.sqrt(2), "linear_acc_se": 0.02}  # −3 SE of the difference
    result = judged(outputs, lost)
    assert result.values["h_probe_gain_se"] == pytest.approx(-3, rel=0.02)
    assert result.verdict == "partial_collapse"
    assert judged(outputs).verdict == "no_collapse"


def test_probe_gain_in_standard_errors_of_the_difference():
    assert probe_gain_se(0.7, 0.03, 0.6, 0.04) == pytest.approx(0.1 / 0.05)
    assert probe_gain_se(1.0, 0.0, 1.0, 0.0) == 0  # both exact: no gain, no division by zero


def test_spread_out_informative_outputs_are_not_collapsed():
    result = judged({"z": healthy(seed=14), "p": healthy(seed=15)})
    assert result.verdict == "no_collapse" and all(m >= 1 for m in result.margins.values())


def values(**overrides: float) -> dict[str, float]:
    """Hand-set readings: z's energy collapsed unless overridden, everything else healthy."""
    return {"z_energy_decades": -3.0, "h_rank_frac_centred": 0.6, "z_rank_frac_centred": 0.5,
            "h_probe_gain_se": 0.0} | overrides  # fmt: skip


def test_margins_are_signed_distances_in_band_units():
    result = decide(values(z_energy_decades=-1.2), RULE)
    t, b = -RULE.energy_below_decades, RULE.band
    assert result.margins["z_energy_decades"] == pytest.approx((-1.2 - t) / (b * abs(t)))
    assert margin(1.3, 1.0, 0.3) == pytest.approx(1.0) and margin(-1.3, -1.0, 0.3) == pytest.approx(-1.0)
    assert set(result.margins) == set(values())


def test_a_reading_inside_the_band_makes_the_verdict_borderline():
    t, b = RULE.energy_below_decades, RULE.band
    assert decide(values(z_energy_decades=-t * (1 + b) * 1.01), RULE).verdict == "complete_collapse"
    assert decide(values(z_energy_decades=-t * 1.01), RULE).verdict == "borderline"
    assert decide(values(z_energy_decades=-t * 0.99), RULE).verdict == "borderline"  # no knife edge
    assert decide(values(z_energy_decades=-t * (1 - b) * 0.99), RULE).verdict == "no_collapse"


def test_complete_collapse_needs_every_output_and_one_healthy_output_clears_it():
    assert decide(values(p_energy_decades=-4.0), RULE).verdict == "complete_collapse"
    assert decide(values(p_energy_decades=0.0), RULE).verdict == "no_collapse"  # BYOL's p shrinks, z does not


def test_dimensional_collapse_wins_over_a_borderline_complete_test():
    near = values(z_energy_decades=-RULE.energy_below_decades, h_rank_frac_centred=0.001)
    assert decide(near, RULE).verdict == "dimensional_collapse"


@pytest.mark.parametrize("missing", ["z_energy_decades", "h_rank_frac_centred", "h_probe_gain_se"])
def test_a_nan_or_missing_reading_gives_undefined(missing):
    assert decide(values(**{missing: math.nan}), RULE).verdict == "undefined"
    kind = missing.split("_", 1)[1]  # every reading of that kind gone: nothing to judge it by
    without = {k: v for k, v in values().items() if not k.endswith(kind)}
    assert decide(without, RULE).verdict == "undefined"


def test_an_undefined_reference_gives_undefined():
    final = measured({"h": healthy(d=128), "z": healthy(seed=16)})
    assert collapse_verdict(final, {**REFERENCE, "z_std_sqrt_d": 0.0}, RULE).verdict == "undefined"


def test_the_verdicts_order_from_healthy_to_worst_and_the_rule_names_its_numbers():
    worst_first = [decide(values(**v), RULE).verdict for v in (
        {}, {"z_energy_decades": 0.0, "z_rank_frac_centred": 0.001},
        {"z_energy_decades": 0.0, "h_probe_gain_se": -5.0}, {"z_energy_decades": -0.9}, {"z_energy_decades": 0.0},
    )]  # fmt: skip
    assert worst_first == list(reversed(VERDICTS))
    text = RULE.describe()
    assert (
        f"r_energy_decades < {-RULE.energy_below_decades:g}" in text and "{z, p}" in text and "{h, z}" in text
    )


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        (
            "energy_below_decades",
            -0.1,
            "metrics.verdict.energy_below_decades must be a finite number in (0, 8]",
        ),
        ("probe_below_se", math.nan, "metrics.verdict.probe_below_se must be a finite number"),
        ("dimensional_below", 2.0, "metrics.verdict.dimensional_below must be a finite number in (0, 1]"),
        ("band", 1.0, "metrics.verdict.band must be a finite number in (0, 1)"),
        ("complete_on", ["q"], "metrics.verdict.complete_on[k] must be one of h, z, p, got 'q'"),
        ("dimensional_on", [], "metrics.verdict.dimensional_on must be a non-empty list of h, z, p"),
    ],
)
def test_bad_rule_values_are_config_errors_naming_the_key(key, bad, message):
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        VerdictRule.from_settings({**SETTINGS, key: bad})
