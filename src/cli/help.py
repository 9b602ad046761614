"""`python -m src.run --help`: the suite's own help, generated from conf/ so it never goes stale.

conf/hydra/help/suite.yaml sets ``hydra.help.template: ${suite_help:}``; Hydra resolves it when it prints
the help, which calls ``suite_help`` below: every config group with its options (the default marked),
every ablation row, study and recipe with the first line of its header, the run options and exit codes.
"""

import re
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from src.core.paths import CONFIG_DIR

# Groups a row, study or recipe is added with (`+group=NAME`), listed with descriptions, not as groups.
ADDED = {"ablation": "Ablation rows", "study": "Studies, run with -m", "experiment": "Recipes on real data"}
HIDDEN = ("hydra", "study/setup", "trainer/settings")  # plumbing, not choices a user makes

EXIT_CODES = """\
  0    finished, diverged or skipped (a result; a sweep: no run failed)
  1    the run failed (summary.json status failed, traceback.txt); a sweep: at least one run failed
  2    bad input: one "error: …" line naming the key and what is allowed; nothing written
  130  Ctrl-C, 143 SIGTERM: checkpoint saved, one line; the same command resumes the run"""

OPTIONS = """\
  seed=N                  the seed (model init, data, augmentation); seed=0,1,2 with -m for a sweep
  fresh=true              discard what the run folder holds and start afresh (default: skip a finished
                          run of the same config, resume an interrupted one, refuse a different config)
  logger=csv              no wandb (CSV is always written); WANDB_MODE=online to upload
  hydra.run.dir=PATH      the run folder (default outputs/<row>/seed<seed>_<time>)
  KEY=VALUE               any config key, e.g. model.target.tau=0.996 (--cfg job prints them all)"""


def description(path: Path) -> str:
    """The first comment line of a config file that is not a package line, without its "Row: x —"."""
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith("# @package"):
            text = line.lstrip("# ").strip()
            return re.sub(r"^(Row|Study|Experiment): \S+ — ", "", text)
    return ""


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
            lines.append(f"  {name:<{width}}{description(CONFIG_DIR / group / f'{name}.yaml')}")
    lines += ["", "Options:", OPTIONS, "", "Exit codes:", EXIT_CODES, ""]
    return "\n".join(lines).replace("$", "$$")  # Hydra passes the template through string.Template


if not OmegaConf.has_resolver("suite_help"):
    OmegaConf.register_new_resolver("suite_help", suite_help)
