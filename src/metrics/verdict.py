"""The collapse verdict: a written rule over a run's final measurement AND its own calibrated random-init
reference, stored with the run together with its margins (definitions, the labelled panel that validates
the thresholds and the literature behind them: docs/verdict.md).

Three readings, each scale-aware or carrying its own uncertainty:

- energy ``r_energy_decades`` (r = z, p: the output): log10 of the output's input-varying energy over the
  same quantity at random init. The energy is (SimSiam's std of the ℓ2-normalised output · √d)², the
  share of each unit-length output that is not the mean direction shared by all inputs; −2 means the
  residual around the shared mean carries 1/100 of the energy it had at init. It reads collapse by how
  much of the output varies at all, so a residual orders of magnitude below the shared mean is collapse
  even if it still follows the input (Zhang et al. 2022 decompose SimSiam's output the same way into a
  centre and a residual). The centred cosine gap, which renormalises that residual, no longer decides:
  in float32 at a finite budget, a 50× smaller residual that follows the input is what collapse looks like.
- dimension ``r_rank_frac_centred`` (r = h, z): effective rank of the centred directions / min(N, d)
  (Jing et al. 2022's dimensional collapse; RankMe's entropy formula).
- information of h ``h_probe_gain_se``: the linear probe on h minus the run's random-init reference, in
  units of the difference's binomial standard error. BatchNorm in the backbone keeps h's spread near 0.8
  whatever happens, so h is judged by what it carries, not by its spread.

Verdicts, worst first: ``complete_collapse`` when every output representation (``complete_on``: z, and p
where the model has an online predictor) lost more than ``energy_below_decades``; else
``dimensional_collapse`` when some representation of ``dimensional_on`` varies in too few directions; else
``partial_collapse`` when h carries significantly less than the random network did (probe below its
reference by more than ``probe_below_se`` standard errors): training destroyed information the
initialisation had. ``borderline`` when the answer depends on a reading inside its band; else
``no_collapse``.

Every reading is compared with its threshold t through a band of half-width b·|t|: the margin
m = (value − t) / (b·|t|) is the signed distance in band units, positive on the healthy side; |m| < 1 is
*near*. The combinations use three-valued logic (collapsed / near / healthy).
"""

import math
from dataclasses import dataclass, field

from src.core.checks import require_choice, require_float
from src.core.errors import ConfigError

COLLAPSED_SIDE, NEAR, HEALTHY_SIDE = (
    "collapsed",
    "near",
    "healthy",
)  # the three states of one reading (not verdicts)
VERDICTS = (  # healthy → worst
    "no_collapse",
    "borderline",
    "partial_collapse",
    "dimensional_collapse",
    "complete_collapse",
)
COLLAPSE_VERDICTS = (
    "partial_collapse",
    "dimensional_collapse",
    "complete_collapse",
)  # what "collapsed" counts
NO_COLLAPSE, BORDERLINE = VERDICTS[:2]
UNDEFINED = "undefined"  # a statistic was NaN or missing (e.g. the run diverged): no verdict
REPRESENTATIONS = ("h", "z", "p")
ENERGY, DIMENSION, PROBE = "energy_decades", "rank_frac_centred", "probe_gain_se"  # the readings' names
# A run's record stores each reading and its margin with its final metrics under these prefixes.
READING_PREFIX, MARGIN_PREFIX = "verdict/", "margin/"


@dataclass(frozen=True)
class VerdictRule:
    complete_on: tuple[str, ...]  # representations whose complete collapse is the output's
    dimensional_on: tuple[str, ...]  # representations checked for dimensional collapse
    energy_below_decades: float  # complete collapse: energy below its reference by more than this
    dimensional_below: float  # dimensional collapse: centred rank fraction below this
    probe_below_se: float  # partial collapse: h's probe below its reference by more than this many SE
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
        return cls(
            **lists,
            energy_below_decades=require_float(
                "metrics.verdict.energy_below_decades", settings["energy_below_decades"], 0, 8, open_low=True
            ),
            dimensional_below=require_float(
                "metrics.verdict.dimensional_below", settings["dimensional_below"], 0, 1, open_low=True
            ),
            probe_below_se=require_float(
                "metrics.verdict.probe_below_se", settings["probe_below_se"], 0, 10, open_low=True
            ),
            band=require_float("metrics.verdict.band", settings["band"], 0, 1, open_low=True, open_high=True),
        )

    def thresholds(self) -> dict[str, float]:
        """Reading name → its threshold (collapsed below it)."""
        return {
            ENERGY: -self.energy_below_decades,
            DIMENSION: self.dimensional_below,
            PROBE: -self.probe_below_se,
        }

    def describe(self) -> str:
        """The rule in words, with its numbers."""
        return (
            f"complete_collapse if for every r in {{{', '.join(self.complete_on)}}}: r_{ENERGY} < "
            f"{-self.energy_below_decades:g} (log10 of the output's input-varying energy over its random-init "
            f"reference); else dimensional_collapse if for some r in {{{', '.join(self.dimensional_on)}}}: "
            f"r_{DIMENSION} < {self.dimensional_below:g}; else partial_collapse if h_{PROBE} < "
            f"{-self.probe_below_se:g} (the probe on h below its random-init reference, in standard errors); "
            f"else borderline if a deciding reading is within ±{self.band:.0%} of its threshold; else no_collapse"
        )


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of VERDICTS, or UNDEFINED
    margins: dict[str, float]  # reading → (value − threshold) / (band · |threshold|); > 0 healthy side
    values: dict[str, float]  # the readings the rule judged
    rule: str
    thresholds: dict[str, float] = field(default_factory=dict)  # reading → its threshold

    def stored(self) -> dict[str, float]:
        """The readings and their margins as a run's record stores them with its final metrics."""
        return {
            **{f"{READING_PREFIX}{k}": v for k, v in self.values.items()},
            **{f"{MARGIN_PREFIX}{k}": m for k, m in self.margins.items()},
        }


def margin(value: float, threshold: float, band: float) -> float:
    """Signed distance of ``value`` from ``threshold`` in units of the band (b·|threshold|)."""
    return (value - threshold) / (band * abs(threshold))


def reading(m: float) -> str:
    """A margin as one of the three states."""
    return COLLAPSED_SIDE if m <= -1 else HEALTHY_SIDE if m >= 1 else NEAR


def both(states: list[str]) -> str:
    """Three-valued AND of "collapsed": collapsed if all are, healthy if any is healthy, else near."""
    return (
        HEALTHY_SIDE
        if HEALTHY_SIDE in states
        else COLLAPSED_SIDE
        if all(s == COLLAPSED_SIDE for s in states)
        else NEAR
    )


def any_of(states: list[str]) -> str:
    """Three-valued OR of "collapsed": collapsed if any is, healthy if all are, else near."""
    return (
        COLLAPSED_SIDE
        if COLLAPSED_SIDE in states
        else HEALTHY_SIDE
        if all(s == HEALTHY_SIDE for s in states)
        else NEAR
    )


def energy_decades(std_sqrt_d: float, reference_std_sqrt_d: float) -> float:
    """log10 of (std·√d)² over its random-init value: decades of input-varying energy gained (> 0) or
    lost (< 0). A reference with no spread leaves it undefined.
    NOTE: the spread is floored at 1e-12 (an output with none reads ≈ −24 decades, not −inf), so the stored
    record stays finite JSON."""
    if not reference_std_sqrt_d > 0:
        return math.nan
    return 2 * math.log10(max(std_sqrt_d, 1e-12) / reference_std_sqrt_d)


def probe_gain_se(acc: float, acc_se: float, reference: float, reference_se: float) -> float:
    """(probe − reference) / √(se² + se_ref²): the gain in standard errors of the difference.
    NOTE: the two accuracies are treated as independent; on the same test set they correlate positively,
    so this SE is an upper bound and the reading errs towards "no change". A zero SE (both accuracies
    exactly 0 or 1) is floored at 1e-3 so the reading stays finite."""
    se = math.sqrt(acc_se**2 + reference_se**2)
    return (acc - reference) / max(se, 1e-3)


def readings(final: dict[str, float], reference: dict[str, float], rule: VerdictRule) -> dict[str, float]:
    """The values the rule judges, from the monitor's scalars (no namespace: ``z_std_sqrt_d`` …) of the
    final measurement and of the random-init reference; NaN where a statistic is missing."""

    def get(scalars: dict, key: str) -> float:
        return float(scalars.get(key, math.nan))

    present = [r for r in REPRESENTATIONS if f"{r}_std_sqrt_d" in final]
    values = {
        f"{r}_{ENERGY}": energy_decades(get(final, f"{r}_std_sqrt_d"), get(reference, f"{r}_std_sqrt_d"))
        for r in rule.complete_on
        if r in present
    }
    values |= {
        f"{r}_{DIMENSION}": get(final, f"{r}_{DIMENSION}") for r in rule.dimensional_on if r in present
    }
    values[f"h_{PROBE}"] = probe_gain_se(
        get(final, "linear_acc"), get(final, "linear_acc_se"), get(reference, "linear_acc"),
        get(reference, "linear_acc_se"),
    )  # fmt: skip
    return values


def decide(values: dict[str, float], rule: VerdictRule) -> Verdict:
    """The verdict from the readings alone, each named ``<anything>_<reading>`` (``z_energy_decades``,
    ``h_rank_frac_centred``, ``h_probe_gain_se``): complete collapse needs every energy reading collapsed,
    dimensional collapse any rank reading. Undefined without an energy and a rank reading, or with a NaN."""
    has = [any(k.endswith(statistic) for k in values) for statistic in (ENERGY, DIMENSION, PROBE)]
    if not all(has) or any(math.isnan(v) for v in values.values()):
        return Verdict(UNDEFINED, {}, values, rule.describe())
    thresholds = {k: next(t for name, t in rule.thresholds().items() if k.endswith(name)) for k in values}
    margins = {k: margin(v, thresholds[k], rule.band) for k, v in values.items()}
    state = {key: reading(m) for key, m in margins.items()}
    complete = both([s for k, s in state.items() if k.endswith(ENERGY)])
    dimensional = any_of([s for k, s in state.items() if k.endswith(DIMENSION)])
    partial = any_of([s for k, s in state.items() if k.endswith(PROBE)])
    if complete == COLLAPSED_SIDE:
        verdict = "complete_collapse"
    elif dimensional == COLLAPSED_SIDE:  # collapsed whichever way the complete test would fall
        verdict = "dimensional_collapse"
    elif partial == COLLAPSED_SIDE:
        verdict = "partial_collapse"
    elif NEAR in (complete, dimensional, partial):
        verdict = "borderline"
    else:
        verdict = "no_collapse"
    return Verdict(verdict, margins, values, rule.describe(), thresholds)


def collapse_verdict(final: dict[str, float], reference: dict[str, float], rule: VerdictRule) -> Verdict:
    """The verdict of one run: its final measurement judged against its own random-init reference.
    Representations the model does not have (p without an online predictor) are skipped."""
    return decide(readings(final, reference, rule), rule)


def bare_names(metrics: dict[str, float]) -> dict[str, float]:
    """A stored record's metrics (``collapse/z_std_sqrt_d``, ``probe/linear_acc``) under the bare names the
    rule reads (the monitor's names before src.metrics.monitor.namespaced)."""
    return {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith(("collapse/", "probe/"))}


def stored_readings(final: dict[str, float]) -> dict[str, float]:
    """The readings a run's record stores (``verdict/z_energy_decades`` …) under the names decide reads."""
    return {k.removeprefix(READING_PREFIX): v for k, v in final.items() if k.startswith(READING_PREFIX)}
