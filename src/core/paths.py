"""Where the suite's configs live: one definition for the entry point, --help, the analysis and tests."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"
METRICS_DEFAULTS = CONFIG_DIR / "metrics" / "default.yaml"  # the verdict rule in force
