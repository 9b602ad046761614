"""The collapse verdict: on synthetic outputs whose answer is known (a large shared mean plus isotropic
noise is not collapse, a constant plus tiny noise is, a rank-k subspace is dimensional collapse), its
margins against a hand computation, borderline cases, NaN, and bad thresholds."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from src.config.errors import ConfigError
from src.metrics.collapse import representation_metrics
from src.metrics.verdict import VERDICTS, VerdictRule, collapse_verdict, margin
from tests.conftest import CONF

SETTINGS = OmegaConf.to_container(OmegaConf.load(CONF / "metrics" / "default.yaml").verdict)
RULE = VerdictRule.from_settings(SETTINGS)


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def judged(outputs: dict[str, tuple[torch.Tensor, torch.Tensor]], rule: VerdictRule = RULE):
    """The verdict of measured pairs of views, one pair per representation."""
    scalars = {}
    for name, (view1, view2) in outputs.items():
        scalars.update(representation_metrics(view1, view2, name))
    return collapse_verdict(scalars, rule)


def healthy(n: int = 512, d: int = 64, seed: int = 0):
    """Isotropic, input-specific outputs; the second view is the first plus a little view noise."""
    x = torch.randn(n, d, generator=_g(seed))
    return x, x + 0.3 * torch.randn(n, d, generator=_g(seed + 100))


def shared_mean(n: int = 512, d: int = 64, seed: int = 1, mean_norm: float = 80.0):
    x, y = healthy(n, d, seed)
    mean = torch.zeros(d)
    mean[0] = mean_norm  # ‖mean‖ ≈ 10 × the noise's norm (√64 = 8): every output points nearly one way
    return x + mean, y + mean


def constant(n: int = 512, d: int = 64, seed: int = 2, noise: float = 1e-3):
    c = torch.randn(d, generator=_g(seed))
    return (
        c + noise * torch.randn(n, d, generator=_g(seed + 1)),
        c + noise * torch.randn(n, d, generator=_g(seed + 2)),
    )


def subspace(n: int = 512, d: int = 64, k: int = 1, seed: int = 3):
    """Informative outputs (views agree) that vary in only k of d directions."""
    basis, _ = torch.linalg.qr(torch.randn(d, k, generator=_g(seed)))  # (d, k)
    w = torch.randn(n, k, generator=_g(seed + 1))
    return w @ basis.T, (w + 0.1 * torch.randn(n, k, generator=_g(seed + 2))) @ basis.T


def test_a_large_shared_mean_plus_isotropic_noise_is_not_collapse():
    x, y = shared_mean()
    result = judged({"h": healthy(d=128), "z": (x, y)})
    assert result.values["z_std_sqrt_d"] < RULE.spread_below  # the uncentred std alone would say collapsed
    assert result.verdict == "no_collapse"
    assert result.margins["z_cos_gap_centred"] >= 1  # clearly informative around the mean


def test_a_constant_plus_tiny_noise_is_complete_collapse():
    result = judged({"h": healthy(d=128), "z": constant(), "p": constant(seed=5)})
    assert result.verdict == "complete_collapse"
    assert result.margins["z_std_sqrt_d"] <= -1 and result.margins["z_cos_gap_centred"] <= -1


@pytest.mark.parametrize(("where", "d", "k"), [("z", 64, 1), ("h", 128, 2)])
def test_a_rank_k_subspace_is_dimensional_collapse(where, d, k):
    outputs = {"h": healthy(d=128), "z": healthy(d=64, seed=7)}
    outputs[where] = subspace(d=d, k=k)
    result = judged(outputs)
    assert result.verdict == "dimensional_collapse"
    assert result.margins[f"{where}_rank_frac_centred"] <= -1


def test_spread_out_informative_outputs_are_not_collapsed():
    result = judged({"h": healthy(d=128), "z": healthy(seed=8), "p": healthy(seed=9)})
    assert result.verdict == "no_collapse" and all(m >= 1 for m in result.margins.values())


def scalars(**values: float) -> dict[str, float]:
    """Hand-set statistics: z collapsed unless overridden, h healthy."""
    base = {
        "h_std_sqrt_d": 0.8, "h_cos_gap_centred": 0.01, "h_rank_frac_centred": 0.6,
        "z_std_sqrt_d": 0.02, "z_cos_gap_centred": 0.005, "z_rank_frac_centred": 0.9,
    }  # fmt: skip
    return {**base, **values}


def test_margins_are_signed_distances_in_band_units():
    result = collapse_verdict(scalars(z_std_sqrt_d=0.03), RULE)
    t, b = RULE.spread_below, RULE.band
    assert result.margins["z_std_sqrt_d"] == pytest.approx((0.03 - t) / (b * t))
    assert margin(t * (1 + b), t, b) == pytest.approx(1.0) and margin(t, t, b) == 0
    assert set(result.margins) == {"z_std_sqrt_d", "z_cos_gap_centred", "h_rank_frac_centred",
                                   "z_rank_frac_centred"}  # fmt: skip
    assert result.values["z_std_sqrt_d"] == 0.03


def test_a_statistic_inside_the_band_makes_the_verdict_borderline():
    t, b = RULE.spread_below, RULE.band
    assert collapse_verdict(scalars(z_std_sqrt_d=t * (1 - b) * 0.99), RULE).verdict == "complete_collapse"
    assert collapse_verdict(scalars(z_std_sqrt_d=t * 0.99), RULE).verdict == "borderline"
    assert collapse_verdict(scalars(z_std_sqrt_d=t * 1.01), RULE).verdict == "borderline"  # no knife edge
    assert collapse_verdict(scalars(z_std_sqrt_d=t * (1 + b) * 1.01), RULE).verdict == "no_collapse"


def test_one_healthy_statistic_clears_complete_collapse_whatever_the_other_says():
    # Small spread but clearly informative: the shared-mean case; a near spread no longer matters.
    info = RULE.information_below * (1 + RULE.band) * 1.5
    assert collapse_verdict(scalars(z_std_sqrt_d=0.099, z_cos_gap_centred=info), RULE).verdict == (
        "no_collapse"
    )


def test_output_representations_that_disagree_are_borderline():
    collapsed_p = {"p_std_sqrt_d": 0.01, "p_cos_gap_centred": 0.0, "p_rank_frac_centred": 0.5}
    healthy_p = {"p_std_sqrt_d": 0.9, "p_cos_gap_centred": 0.5, "p_rank_frac_centred": 0.5}
    assert collapse_verdict(scalars(**collapsed_p), RULE).verdict == "complete_collapse"
    assert collapse_verdict(scalars(**healthy_p), RULE).verdict == "borderline"


def test_dimensional_collapse_wins_over_a_borderline_complete_test():
    near = scalars(z_std_sqrt_d=RULE.spread_below, h_rank_frac_centred=0.001)
    assert collapse_verdict(near, RULE).verdict == "dimensional_collapse"


@pytest.mark.parametrize("missing", ["z_cos_gap_centred", "h_rank_frac_centred"])
def test_a_nan_or_missing_statistic_gives_undefined(missing):
    assert collapse_verdict(scalars(**{missing: math.nan}), RULE).verdict == "undefined"
    values = scalars()
    del values[missing]
    assert collapse_verdict(values, RULE).verdict == "undefined"


def test_verdicts_are_ordered_from_healthy_to_worst_and_the_rule_is_written_out():
    assert VERDICTS == ("no_collapse", "borderline", "dimensional_collapse", "complete_collapse")
    text = collapse_verdict(scalars(), RULE).rule
    assert f"r_std_sqrt_d < {RULE.spread_below:g}" in text and "{z, p}" in text and "{h, z}" in text


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("spread_below", -0.1, "metrics.verdict.spread_below must be a finite number in (0, 1]"),
        ("information_below", math.nan, "metrics.verdict.information_below must be a finite number"),
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
