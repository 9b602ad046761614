"""The distribution of the verdict's statistics over a study's runs, and where each threshold sits in it:
the measured table behind docs/verdict.md.

    python -m src.analysis.verdict_distribution RUNS_DIR [--rule conf/metrics/default.yaml]

reads every finished run under RUNS_DIR (the loader), re-judges it with the rule of ``--rule`` (the
defaults unless given: the question is where *these* thresholds fall) and prints markdown: per row and
representation the range over seeds of each deciding statistic, the verdicts, and per statistic the
closest values on either side of its threshold. Regenerate it on the final testbed; never type it.
"""

import argparse
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from src.analysis.loader import load_runs
from src.metrics.verdict import REPRESENTATIONS, THRESHOLD_KEYS, VerdictRule, collapse_verdict

DEFAULT_RULE = Path(__file__).resolve().parents[2] / "conf" / "metrics" / "default.yaml"
STATISTICS = tuple(THRESHOLD_KEYS.values())  # std_sqrt_d, cos_gap_centred, rank_frac_centred
PROBE_GAIN = "probe gain"  # linear probe minus the run's own calibrated random-init reference


def load_rule(path: Path = DEFAULT_RULE) -> VerdictRule:
    return VerdictRule.from_settings(OmegaConf.to_container(OmegaConf.load(path).verdict))


def final_scalars(run: pd.Series) -> dict[str, float]:
    """A run's final collapse scalars without their namespace, as the verdict reads them."""
    prefix = "collapse/"
    return {k[len(prefix) :]: v for k, v in run.items() if k.startswith(prefix) and pd.notna(v)}


def statistics_frame(runs: pd.DataFrame, rule: VerdictRule) -> pd.DataFrame:
    """One line per run and representation: the three statistics, the probe gain, and the verdict
    recomputed with ``rule`` (next to the one the run stored)."""
    lines = []
    for _, run in runs.iterrows():
        scalars = final_scalars(run)
        judged = collapse_verdict(scalars, rule)
        gain = run["probe/linear_acc"] - run["ref.probe/linear_acc"]
        for rep in REPRESENTATIONS:
            if f"{rep}_std_sqrt_d" not in scalars:
                continue
            line = {"row": run["row"], "seed": run["seed"], "representation": rep}
            line |= {s: scalars.get(f"{rep}_{s}", float("nan")) for s in STATISTICS}
            line |= {PROBE_GAIN: gain, "verdict": judged.verdict, "stored verdict": run["verdict"]}
            lines.append(line)
    return pd.DataFrame(lines)


def value_range(values: pd.Series) -> str:
    return f"{values.min():.3f}" if values.min() == values.max() else f"{values.min():.3f}–{values.max():.3f}"


def per_row_markdown(stats: pd.DataFrame) -> str:
    """Range over seeds of each statistic, per row and representation, with the verdicts."""
    table = stats.groupby(["row", "representation"], sort=True).agg(
        seeds=("seed", "nunique"),
        **{s: (s, value_range) for s in (*STATISTICS, PROBE_GAIN)},
        verdicts=("verdict", lambda v: ", ".join(f"{k} ×{n}" for k, n in v.value_counts().items())),
    )
    return table.to_markdown()


def threshold_markdown(stats: pd.DataFrame, rule: VerdictRule) -> str:
    """Per statistic: its threshold, the band, and the nearest observed values below and above it."""
    lines = []
    reps_for = {"std_sqrt_d": rule.complete_on, "cos_gap_centred": rule.complete_on}
    for key, statistic in THRESHOLD_KEYS.items():
        threshold = getattr(rule, key)
        reps = reps_for.get(statistic, rule.dimensional_on)
        judged = stats[stats["representation"].isin(reps)]
        label = judged["row"] + "/" + judged["representation"] + "/s" + judged["seed"].astype(str)
        values = pd.Series(judged[statistic].to_numpy(), index=label).dropna()
        below, above = values[values < threshold], values[values >= threshold]
        near = values[(values - threshold).abs() < rule.band * threshold]
        lines.append(
            {
                "statistic": f"{statistic} on {', '.join(reps)}",
                "threshold": threshold,
                "band": f"[{threshold * (1 - rule.band):.3g}, {threshold * (1 + rule.band):.3g}]",
                "highest below": f"{below.max():.3f} ({below.idxmax()})" if len(below) else "–",
                "lowest above": f"{above.min():.3f} ({above.idxmin()})" if len(above) else "–",
                "runs in band": len(near),
                "of": len(values),
            }
        )
    return pd.DataFrame(lines).to_markdown(index=False)


def distribution_markdown(runs: pd.DataFrame, rule: VerdictRule) -> str:
    stats = statistics_frame(runs, rule)
    return "\n".join(
        [
            f"Rule: {rule.describe()}",
            "",
            threshold_markdown(stats, rule),
            "",
            per_row_markdown(stats),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path, help="a study's runs, e.g. experiments/collapse_table/runs")
    parser.add_argument("--rule", type=Path, default=DEFAULT_RULE, help="a metrics config with a verdict")
    args = parser.parse_args()
    print(distribution_markdown(load_runs(args.runs_dir).runs, load_rule(args.rule)))


if __name__ == "__main__":
    main()
