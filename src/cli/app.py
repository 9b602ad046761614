"""The suite's Hydra application, and its help without the heavy imports.

``python -m src.run --help`` is answered before src.run imports torch and Lightning (seconds of start-up
that help never uses): the suite's help text (src/cli/help.py) is printed as Hydra would print it, and
``--hydra-help`` is left to Hydra itself, on the same config, which prints it and exits.
"""

import sys

import hydra

from src.cli.help import print_help
from src.core.paths import CONFIG_DIR

HYDRA_VERSION_BASE = "1.3"
HELP_FLAGS = frozenset({"--help", "-h"})  # Hydra's flags of the application's help (conf/hydra/help/)
HYDRA_HELP_FLAG = "--hydra-help"


def hydra_app(task):
    """``task`` as the suite's Hydra entry point on conf/config.yaml."""
    app = hydra.main(version_base=HYDRA_VERSION_BASE, config_path=str(CONFIG_DIR), config_name="config")
    return app(task)


def answer_help(argv: list[str]) -> None:
    """Print the help a flag in ``argv`` asks for and exit 0, as Hydra would (--help before --hydra-help);
    return when there is none."""
    if HELP_FLAGS.intersection(argv):
        print_help()
        sys.exit(0)
    if HYDRA_HELP_FLAG in argv:
        hydra_app(lambda cfg: None)()  # Hydra prints its help and exits before the task would run
