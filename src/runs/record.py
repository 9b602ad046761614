"""What a run writes about itself (docs/design.md §6): provenance, the summary of each outcome, and files
written atomically so that a reader never sees half of one.

A summary's ``status`` is one of STATUSES. ``finished`` and ``diverged`` are results (a rerun of the same
config skips them); ``failed`` is an error (an exception in the run: a bug, out of memory), recorded with
the error line and a ``traceback.txt``, and retried by a rerun. A run interrupted by a signal writes no
summary: its checkpoint is what it leaves, and the analysis lists it as unfinished.
"""

import hashlib
import json
import os
import platform
import subprocess
import traceback
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from src.runs.atomic import root_os_error, write_json_atomic, write_text_atomic
from src.runs.files import HYDRA_DIR, SUMMARY_FILE, TRACEBACK_FILE

if TYPE_CHECKING:
    import torch

PACKAGES = ("torch", "torchvision", "pytorch-lightning", "hydra-core", "wandb", "numpy", "pandas")
STATUSES = ("finished", "diverged", "failed")
RESULTS = ("finished", "diverged")  # outcomes a rerun of the same config keeps instead of redoing
# Config keys that say how to run, not what: two configs that differ only here are the same run.
NOT_IDENTITY = ("fresh",)


def git_state(cwd: Path | None = None) -> dict:
    """The commit the code came from and whether the working tree's tracked files (the study records under
    experiments/ aside) differed from it."""
    cwd = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    # NOTE: the studies' committed run records (experiments/) are results, not code: a study re-run over
    # its own previous records must not mark its runs as made from modified code.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)experiments")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(accelerator_device: "torch.device") -> str:
    if accelerator_device.type == "cuda":
        # NOTE: torch is imported where it is used: a sweep's main process imports this module (the sweep
        # callbacks, the resolvers) and never trains, and torch's import alone takes seconds.
        import torch

        return f"cuda:{torch.cuda.get_device_name(accelerator_device)}"
    return f"cpu:{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def hydra_choices() -> dict[str, str]:
    """Hydra's config-group choices for this job ({} outside a Hydra job)."""
    if not HydraConfig.initialized():
        return {}
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if v is not None and "hydra" not in k}


def config_hash(resolved_config: dict) -> str:
    """A short hash of the resolved config (seed included): two runs with the same hash are the same run.
    Keys in NOT_IDENTITY are left out."""
    identity = {k: v for k, v in resolved_config.items() if k not in NOT_IDENTITY}
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def resolved(cfg: DictConfig) -> dict:
    """The config as plain data; unresolved where an interpolation cannot be resolved (a failed run's
    record must still be written)."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        return OmegaConf.to_container(cfg, resolve=False)


def run_identity(cfg: DictConfig, run_dir: Path, device: "torch.device") -> dict:
    """What every summary holds, whatever the outcome: enough to rerun the run exactly (the resolved
    config, the overrides and choices, the seed, the code's commit, the package versions, the device)."""
    config = resolved(cfg)
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return {
        "row": config.get("row"),
        "study": config.get("study"),
        "seed": config.get("seed"),
        "config_hash": config_hash(config),
        "choices": hydra_choices(),
        "overrides": overrides,
        "git": git_state(),
        "packages": package_versions(),
        "device": device_description(device),
        "run_dir": str(run_dir),
        "config": config,
    }


def write_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """``.hydra/{config,hydra,overrides}.yaml`` as Hydra writes them, but by the run, under its folder's
    lock and only once its checks have passed (conf/hydra/default.yaml sets ``output_subdir: null``)."""
    folder = Path(run_dir) / HYDRA_DIR
    folder.mkdir(exist_ok=True)
    files = {"config.yaml": cfg}
    if HydraConfig.initialized():
        files["hydra.yaml"] = OmegaConf.create({"hydra": HydraConfig.get()})
        files["overrides.yaml"] = OmegaConf.create(list(HydraConfig.get().overrides.task))
    for name, node in files.items():
        write_text_atomic(folder / name, OmegaConf.to_yaml(node))


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


class Unreadable(Exception):
    """A run file that exists but cannot be read; the message is the reason, in one line."""


def read_summary(path: Path) -> dict | None:
    """A run's summary.json as a dict, None if there is none; raises Unreadable if it cannot be read (cut
    short, not JSON, not an object, or a finished summary without its final metrics and config)."""
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(one_line(exc)) from exc
    if not isinstance(summary, dict):
        raise Unreadable(f"not a JSON object but {type(summary).__name__}")
    if summary.get("status") == "finished":
        lacking = [k for k in ("final", "config") if not isinstance(summary.get(k), dict)]
        if lacking:
            raise Unreadable(f"a finished summary without {' and '.join(lacking)}")
    return summary


def error_line(exc: BaseException) -> str:
    """A failed run's error: for a resource fault (a full disk, a denied permission, a read-only folder,
    a missing file: an OSError anywhere in the chain) the OS's own error with its file, e.g.
    ``OSError [Errno 28] No space left on device: '<path>'`` (torch reports a full disk as
    ``unexpected pos …``, which names neither the cause nor the file); else ``one_line``."""
    cause = root_os_error(exc)
    return f"{type(cause).__name__} {cause}" if cause is not None else one_line(exc)


def record_failure(cfg: DictConfig, run_dir: Path, exc: BaseException, wall_time_s: float) -> dict:
    """Write ``summary.json`` with status ``failed`` and the error, and the traceback next to it."""
    run_dir = Path(run_dir)
    write_text_atomic(run_dir / TRACEBACK_FILE, "".join(traceback.format_exception(exc)))
    import torch  # where it is used, as in device_description

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # what accelerator=auto picks
    summary = {
        "status": "failed",
        "error": error_line(exc),
        "traceback_file": TRACEBACK_FILE,
        "wall_time_s": round(wall_time_s, 2),
        **run_identity(cfg, run_dir, device),
    }
    write_json_atomic(run_dir / SUMMARY_FILE, summary)
    return summary
