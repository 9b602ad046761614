"""The collapse verdict: a written rule over a run's final metrics, stored with the run together with its
margins (docs/design.md §5; thresholds and their justification: docs/verdict.md).

Three statistics per representation r (src/metrics/collapse.py), each read as "collapsed if below":

- spread ``r_std_sqrt_d``: SimSiam's std of the ℓ2-normalised output × √d (1 = spread like a Gaussian);
- information ``r_cos_gap_centred``: how much closer the two views of one input are than two different
  inputs, around the outputs' common mean direction (0 = the output says nothing about its input);
- dimension ``r_rank_frac_centred``: effective rank of the centred directions / min(N, d).

Complete collapse of r needs BOTH a small spread and no information: a small spread alone is also what
a large mean shared by informative outputs looks like (the uncentred std cannot tell them apart), and no
information alone is also what an untrained, spread-out network looks like (a failure to learn, which
the probe measures, not collapse). The run's output (``complete_on``: z, and p where the model has one)
collapses completely when every one of those representations does. Dimensional collapse: any
representation in ``dimensional_on`` (h, z) varies in too few directions.

Every statistic is compared with its threshold t through a band of relative half-width b: the margin
m = (value − t) / (b·t) is the signed distance from the threshold in band units, positive on the healthy
side. |m| < 1 is *near* the threshold. The combinations use three-valued logic (collapsed / near /
healthy), and the verdict is ``borderline`` whenever the answer depends on a statistic that is near its
threshold or when the output representations disagree.
"""

import math
from dataclasses import dataclass

from src.config.checks import require_choice, require_float
from src.config.errors import ConfigError

COLLAPSED, NEAR, HEALTHY = "collapsed", "near", "healthy"  # the three states of one reading
VERDICTS = ("no_collapse", "borderline", "dimensional_collapse", "complete_collapse")  # healthy → worst
UNDEFINED = "undefined"  # a statistic was NaN or missing (e.g. the run diverged): no verdict
REPRESENTATIONS = ("h", "z", "p")
THRESHOLD_KEYS = {  # config key → the statistic it thresholds
    "spread_below": "std_sqrt_d",
    "information_below": "cos_gap_centred",
    "dimensional_below": "rank_frac_centred",
}


@dataclass(frozen=True)
class VerdictRule:
    complete_on: tuple[str, ...]  # representations whose complete collapse is the output's
    dimensional_on: tuple[str, ...]  # representations checked for dimensional collapse
    spread_below: float
    information_below: float
    dimensional_below: float
    band: float  # relative half-width of the band around every threshold

    @classmethod
    def from_settings(cls, settings: dict) -> "VerdictRule":
        """The rule of ``metrics.verdict``, each value checked (one ConfigError line naming its key)."""
        lists = {}
        for key in ("complete_on", "dimensional_on"):
            value = settings[key]
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(f"metrics.verdict.{key} must be a non-empty list of h, z, p, got {value!r}")
            for name in value:
                require_choice(f"metrics.verdict.{key}[k]", name, REPRESENTATIONS)
            lists[key] = tuple(dict.fromkeys(value))
        thresholds = {key: require_float(f"metrics.verdict.{key}", settings[key], 0, 1, open_low=True)
                      for key in THRESHOLD_KEYS}  # fmt: skip
        band = require_float("metrics.verdict.band", settings["band"], 0, 1, open_low=True, open_high=True)
        return cls(**lists, **thresholds, band=band)

    def describe(self) -> str:
        """The rule in words, with its numbers."""
        spread, info, dim = (f"r_{statistic}" for statistic in THRESHOLD_KEYS.values())
        return (
            f"complete_collapse if for every r in {{{', '.join(self.complete_on)}}}: "
            f"{spread} < {self.spread_below:g} and {info} < {self.information_below:g}; "
            f"else dimensional_collapse if for some r in "
            f"{{{', '.join(self.dimensional_on)}}}: {dim} < {self.dimensional_below:g}; else borderline if a deciding statistic is within "
            f"±{self.band:.0%} of its threshold or the representations disagree; else no_collapse"
        )


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of VERDICTS, or UNDEFINED
    margins: dict[str, float]  # statistic → (value − threshold) / (band · threshold); > 0 healthy side
    values: dict[str, float]  # the statistics the rule read
    rule: str


def margin(value: float, threshold: float, band: float) -> float:
    """Signed distance of ``value`` from ``threshold`` in units of the band (b·threshold)."""
    return (value - threshold) / (band * threshold)


def reading(m: float) -> str:
    """A margin as one of the three states."""
    return COLLAPSED if m <= -1 else HEALTHY if m >= 1 else NEAR


def both(states: list[str]) -> str:
    """Three-valued AND of "collapsed": collapsed if all are, healthy if any is healthy, else near."""
    return HEALTHY if HEALTHY in states else COLLAPSED if all(s == COLLAPSED for s in states) else NEAR


def any_of(states: list[str]) -> str:
    """Three-valued OR of "collapsed": collapsed if any is, healthy if all are, else near."""
    return COLLAPSED if COLLAPSED in states else HEALTHY if all(s == HEALTHY for s in states) else NEAR


def agree(states: list[str]) -> str:
    """The common state of representations that should collapse together; near if they disagree."""
    return states[0] if len(set(states)) == 1 else NEAR


def collapse_verdict(final: dict[str, float], rule: VerdictRule) -> Verdict:
    """The verdict of one measurement. ``final`` holds the monitor's scalars without namespace
    (``z_std_sqrt_d`` …); representations the model does not have (p without an online predictor) are
    skipped, and the rule needs at least one of each list present."""
    present = {name for name in REPRESENTATIONS if f"{name}_std_sqrt_d" in final}
    complete_on = [r for r in rule.complete_on if r in present]
    dimensional_on = [r for r in rule.dimensional_on if r in present]
    thresholds = {statistic: getattr(rule, key) for key, statistic in THRESHOLD_KEYS.items()}
    wanted = [f"{r}_{s}" for r in complete_on for s in ("std_sqrt_d", "cos_gap_centred")]
    wanted += [f"{r}_rank_frac_centred" for r in dimensional_on]
    values = {key: float(final.get(key, math.nan)) for key in wanted}
    if not complete_on or not dimensional_on or any(math.isnan(v) for v in values.values()):
        return Verdict(UNDEFINED, {}, values, rule.describe())
    margins = {key: margin(v, thresholds[key.split("_", 1)[1]], rule.band) for key, v in values.items()}
    state = {key: reading(m) for key, m in margins.items()}
    complete = agree([both([state[f"{r}_std_sqrt_d"], state[f"{r}_cos_gap_centred"]]) for r in complete_on])
    dimensional = any_of([state[f"{r}_rank_frac_centred"] for r in dimensional_on])
    if complete == COLLAPSED:
        verdict = "complete_collapse"
    elif dimensional == COLLAPSED:  # collapsed whichever way the complete test would fall
        verdict = "dimensional_collapse"
    elif NEAR in (complete, dimensional):
        verdict = "borderline"
    else:
        verdict = "no_collapse"
    return Verdict(verdict, margins, values, rule.describe())
