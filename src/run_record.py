"""What a run writes about itself (DESIGN.md §6): provenance, and files written atomically so that a
reader never sees half of one."""

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "torchvision", "pytorch-lightning", "hydra-core", "wandb", "numpy", "pandas")


def write_json_atomic(path: Path, obj) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path`` (atomic on POSIX)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, allow_nan=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git_state(cwd: Path | None = None) -> dict:
    """The commit the code came from and whether the working tree differed from it."""
    cwd = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(accelerator_device: torch.device) -> str:
    if accelerator_device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(accelerator_device)}"
    return f"cpu:{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def config_hash(resolved_config: dict) -> str:
    """A short hash of the resolved config (seed included): two runs with the same hash are the same run."""
    blob = json.dumps(resolved_config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
