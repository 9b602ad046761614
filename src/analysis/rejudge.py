"""Re-judge a study's finished runs with the current verdict rule, without retraining.

    python -m src.analysis.rejudge experiments/robustness

The verdict is a pure function of statistics every run already stores (src/metrics/verdict.py: the final
measurement and the random-init reference), so a new rule can be applied to the records themselves. Each
finished run's ``summary.json`` gets the rule of conf/metrics/default.yaml in its config (and
``.hydra/config.yaml``), the probe's standard error where the run predates it (√(a(1−a)/n) with n =
``data.num_test``, the formula src/metrics/probes.accuracy_se applies at run time), the new verdict, its
readings and margins, and the config hash of the updated config, so a later invocation of the study skips
the run as done instead of refusing it. Nothing else changes: ``metrics.csv`` and every measured number
stay as trained. The study's reports are regenerated afterwards by its own report command.
NOTE: re-judging collapse_table's records (trained on an Intel Xeon) and re-running it at the new rule (on an
AMD EPYC, whose float32 kernels move single runs by seed-noise amounts) gave the same verdict for every claim
(experiments/collapse_table/CHANGES.md). A run whose data set has its own split (digits) has no
``data.num_test`` and is refused: re-run such a study instead.
"""

import argparse
import json
import time
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from src.analysis.load.runs import load_runs
from src.analysis.provenance import command_line, invocation, record_invocation
from src.core.errors import ConfigError
from src.core.paths import METRICS_DEFAULTS
from src.metrics.probes import accuracy_se
from src.metrics.verdict import MARGIN_PREFIX, READING_PREFIX, VerdictRule, bare_names, collapse_verdict
from src.runs.atomic import write_json_atomic, write_text_atomic
from src.runs.files import SUMMARY_FILE
from src.runs.record import config_hash

SE = "probe/linear_acc_se"


def current_settings() -> dict:
    """The verdict rule and the planted-output switch of conf/metrics/default.yaml."""
    metrics = OmegaConf.to_container(OmegaConf.load(METRICS_DEFAULTS))
    return {"verdict": metrics["verdict"], "planted_output": metrics["planted_output"]}


def rejudged_summary(summary: dict, settings: dict, where: Path) -> dict:
    """``summary`` judged by ``settings``' rule: the config updated, the probe's SE added where missing,
    the old readings and margins replaced. ConfigError (one line naming the file) if the test size is unknown."""
    config = json.loads(json.dumps(summary["config"]))  # a deep copy
    config["metrics"].update(settings)
    num_test = config.get("data", {}).get("num_test")
    final, reference = dict(summary["final"]), dict(summary["reference"])
    for metrics in (final, reference):
        if SE not in metrics:
            if not isinstance(num_test, int):
                raise ConfigError(
                    f"{where}: data.num_test is not set, so the probe's standard error is unknown; re-run the study instead"
                )
            metrics[SE] = accuracy_se(metrics["probe/linear_acc"], num_test)
    final = {k: v for k, v in final.items() if not k.startswith((MARGIN_PREFIX, READING_PREFIX))}
    result = collapse_verdict(
        bare_names(final), bare_names(reference), VerdictRule.from_settings(settings["verdict"])
    )
    final |= result.stored()
    return summary | {
        "config": config, "config_hash": config_hash(config), "final": final, "reference": reference,
        "verdict": result.verdict, "verdict_rule": result.rule,
    }  # fmt: skip


def rejudge_run(run_dir: Path, settings: dict) -> tuple[str, str] | None:
    """Re-judge one run folder in place; (old verdict, new verdict), or None if it did not finish."""
    path = run_dir / SUMMARY_FILE
    summary = json.loads(path.read_text())
    if summary.get("status") != "finished":
        return None
    updated = rejudged_summary(summary, settings, path)
    hydra_config = run_dir / ".hydra" / "config.yaml"
    if hydra_config.exists():
        stored = yaml.safe_load(hydra_config.read_text())
        stored["metrics"].update(settings)
        write_text_atomic(hydra_config, OmegaConf.to_yaml(OmegaConf.create(stored)))
    write_json_atomic(path, updated)
    return summary["verdict"], updated["verdict"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-judge a study's finished runs with the current rule.")
    parser.add_argument("study_dir", type=Path, help="the study's folder (holds runs/)")
    args = parser.parse_args(argv)
    runs = sorted((args.study_dir / "runs").rglob(SUMMARY_FILE))
    if not runs:
        print(f"error: no {SUMMARY_FILE} under {args.study_dir / 'runs'}")
        return 2
    settings, changed, started = current_settings(), {}, time.time()
    try:
        for path in runs:
            pair = rejudge_run(path.parent, settings)
            if pair is not None:
                changed[pair] = changed.get(pair, 0) + 1
    except ConfigError as error:
        print(f"error: {error}")
        return 2
    counts = "; ".join(f"{n} × {old} → {new}" for (old, new), n in sorted(changed.items()))
    print(counts.replace("; ", "\n"))
    print(f"{sum(changed.values())} finished runs re-judged under {args.study_dir / 'runs'}")
    record_rejudging(args.study_dir, started, counts)
    return 0


def record_rejudging(study_dir: Path, started: float, counts: str) -> None:
    """An entry in the study's provenance: this command, its commit, and what it changed; no run trained."""
    entry = invocation(
        load_runs(study_dir / "runs").runs, started, time.time(), command_line(), {"launcher": "none"}
    )
    entry |= {"runs_executed_now": 0, "run_time_sum_s": 0.0}  # summaries rewritten, nothing trained
    entry["note"] = (
        f"re-judged every finished run with the rule of conf/metrics/default.yaml, no training: {counts}"
    )
    record_invocation(study_dir, study_dir.name, entry)


if __name__ == "__main__":
    raise SystemExit(main())
