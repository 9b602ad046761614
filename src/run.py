"""Entry point: `python -m src.run [+ablation=ROW] [overrides]`, or `-m` for a Hydra multirun sweep."""

import logging
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import src.config  # noqa: F401  (registers the `choice` resolver before Hydra composes)
from src.errors import SuiteError
from src.train import train

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def user_error(exc: BaseException) -> SuiteError | None:
    """The SuiteError behind an exception (Hydra wraps constructor errors in InstantiationException)."""
    while exc is not None:
        if isinstance(exc, SuiteError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def format_summary(summary: dict) -> str:
    final, ref = summary["final"], summary["reference"]
    lines = [
        f"run {summary['row']} (seed {summary['seed']}) finished in {summary['wall_time_s']:.0f}s "
        f"after {summary['steps']} steps",
        f"  final loss           {final['train/loss']:.4f}",
        f"  linear probe acc     {final['probe/linear_acc']:.3f}   (random init: {ref['probe/linear_acc']:.3f})",
        f"  kNN acc              {final['probe/knn_acc']:.3f}   (random init: {ref['probe/knn_acc']:.3f})",
    ]
    for key in ("z_std_sqrt_d", "z_rank", "h_std_sqrt_d", "h_rank"):
        name = f"collapse/{key}"
        lines.append(f"  {name:<20} {final[name]:.3f}   (random init: {ref[name]:.3f})")
    lines += [
        f"  verdict              {summary['verdict']}   [{summary['verdict_rule']}]",
        f"  run dir {summary['run_dir']}",
    ]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = train(cfg, run_dir)
    except Exception as exc:
        err = user_error(exc)
        if err is None:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(format_summary(summary))


if __name__ == "__main__":
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    main()
