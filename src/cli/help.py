"""`python -m src.run --help`: the suite's own help, generated from conf/ so it never goes stale.

``suite_help`` below: every config group with its options (the default marked), every ablation row,
study and recipe with the first sentence of its header (whole, wrapped under itself), the run options and
the exit codes. ``python -m src.run --help`` prints it before any heavy import (src/cli/app.py); Hydra
prints the same text when it handles --help itself (conf/hydra/help/suite.yaml sets
``hydra.help.template: ${suite_help:}``).
"""

import re
import textwrap
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from src.core.paths import CONFIG_DIR

# Groups a row, study or recipe is added with (`+group=NAME`), listed with descriptions, not as groups.
ADDED = {"ablation": "Ablation rows", "study": "Studies, run with -m", "experiment": "Recipes on real data"}
HIDDEN = ("hydra", "study/setup", "trainer/settings")  # plumbing, not choices a user makes
WIDTH = 110  # a description wraps here (the code's line length); the option lists stay one line each
# A sentence ends at ., ? or ! before a capital or the end ("et al. 2020", "Fig. 2" and "e.g. x" do not).
SENTENCE_END = re.compile(r"[.?!](?=\s+[A-Z]|$)")

EXIT_CODES = """\
  0    finished, diverged or skipped (a result; a sweep: no run failed)
  1    the run failed (summary.json status failed, traceback.txt); a sweep: at least one run failed
  2    bad input: one "error: …" line naming the key and what is allowed; nothing written (a sweep: every
       job was refused)
  130  Ctrl-C, 143 SIGTERM: checkpoint saved, one line; the same command resumes the run"""

OPTIONS = """\
  seed=N                  the seed (model init, data, augmentation); seed=0,1,2 with -m for a sweep
  fresh=true              discard what the run folder holds and start afresh (default: skip a finished
                          run of the same config, resume an interrupted one, refuse a different config)
  logger=csv              no wandb (CSV is always written); WANDB_MODE=online to upload
  hydra.run.dir=PATH      the run folder (default outputs/<row>/seed<seed>_<time>)
  data.loader.verify=false
                          read a CIFAR or STL-10 copy that is not the published one (a subset, a small
                          local copy): the published checksums are skipped, the on-disk format is checked
  KEY=VALUE               any config key, e.g. model.target.tau=0.996 (--cfg job prints them all)"""


def header(path: Path) -> str:
    """The first comment block of a config file (its package line aside) as one line of text."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# @package"):
            lines.append(line.lstrip("#"))
    return " ".join(" ".join(lines).split())


def description(path: Path) -> str:
    """The first sentence of a config file's header, whole, without its "Row: x —"."""
    text = re.sub(r"^(Row|Study|Experiment): \S+ — ", "", header(path))
    end = SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def defaults() -> dict[str, str]:
    """The group → option pairs of conf/config.yaml's defaults list."""
    entries = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())["defaults"]
    return {k: v for entry in entries if isinstance(entry, dict) for k, v in entry.items()}


def groups() -> dict[str, list[str]]:
    """Every config group (a folder of YAML files) → its options, sorted."""
    found = {}
    for folder in sorted(p for p in CONFIG_DIR.rglob("*") if p.is_dir()):
        group = folder.relative_to(CONFIG_DIR).as_posix()
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options and not group.startswith(HIDDEN):
            found[group] = options
    return found


def suite_help() -> str:
    chosen = defaults()
    lines = [
        "collapse-suite: train one configuration of BYOL's parts and measure collapse, or sweep many.",
        "",
        "  python -m src.run [+ablation=ROW] [GROUP=OPTION ...] [KEY=VALUE ...]",
        "  python -m src.run -m '+ablation=glob(*)' seed=0,1,2      every row × 3 seeds",
        "  python -m src.run -m +study=STUDY                         a study (fixed folders; rerun resumes)",
        "",
        "Config groups (GROUP=OPTION; * the default):",
    ]
    all_groups = groups()
    width = 2 + max(len(name) for name in (*all_groups, *(n for g in ADDED for n in all_groups.get(g, []))))
    for group, options in all_groups.items():
        if group not in ADDED:
            marked = [f"{o}*" if chosen.get(group) == o else o for o in options]
            lines.append(f"  {group:<{width}}{', '.join(marked)}")
    for group, title in ADDED.items():
        lines += ["", f"{title} (+{group}=NAME):"]
        for name in all_groups.get(group, []):
            first = f"  {name:<{width}}"
            text = description(CONFIG_DIR / group / f"{name}.yaml")
            lines.append(textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=" " * len(first)))
    lines += ["", "Options:", OPTIONS, "", "Exit codes:", EXIT_CODES, ""]
    return "\n".join(lines)


def print_help() -> None:
    print(suite_help())  # as Hydra prints its help: the text, then a newline


# Hydra passes the template through string.Template: a literal $ is written $$.
if not OmegaConf.has_resolver("suite_help"):
    OmegaConf.register_new_resolver("suite_help", lambda: suite_help().replace("$", "$$"))
