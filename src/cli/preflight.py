"""Every check a run makes before its first training step, each failing with one ConfigError line that
names the key and what is allowed, so that bad input costs no training and leaves nothing written.

- ``check_settings`` (the config alone, before the run folder is touched): the settings no component
  checks itself (the run's length, intervals, seed, threads, fresh, debug), Lightning's precision and
  accelerator, the optimizer's momentum, and every ``_target_`` (it must import);
- ``check_built`` (once the data module and the model exist, before the trainer is built): the batch size
  against what the model needs (BatchNorm, negatives, the key queue), the optimizer's own checks (it is
  built once, on a stand-in parameter, and thrown away) and kNN's k against the probe's train split.

Component values (τ, β, temperature, K, learning rates, data sizes, every other ``metrics.*`` key and the
verdict rule) are checked by their constructors; src.train builds the collapse monitor before the run
folder, so those run early too.
"""

import contextlib
import logging
import typing

import torch
from hydra.utils import get_object
from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT
from omegaconf import DictConfig, OmegaConf
from torch import nn

from src.core.checks import require_bool, require_choice, require_float, require_int
from src.core.errors import ConfigError, SuiteError
from src.runs.fault_injection import HOOKS, PHASE_HOOKS

SEED_MAX = 2**32 - 1  # numpy's seed range (pl.seed_everything seeds numpy too)
# Lightning's accepted `precision` values (its Literal types: "32-true", "bf16-mixed", 32, "16", ...).
# NOTE: a private name: Lightning 2.5–2.6 has no public list of them; `_PRECISION_INPUT` is the Literal
# its accelerator connector validates against (lightning_fabric/plugins/precision/precision.py).
PRECISIONS = tuple(v for literal in typing.get_args(_PRECISION_INPUT) for v in typing.get_args(literal))
CUDA_ACCELERATORS = ("gpu", "cuda")


def _targets(node, key: str = ""):
    """(key of the node, dotted path) of every ``_target_`` in a plain config tree."""
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield key, node["_target_"]
        for k, v in node.items():
            yield from _targets(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _targets(v, f"{key}[{i}]")


def import_target(path: str):
    """The object a dotted ``_target_`` names, imported as Hydra's instantiate will; ImportError if none.
    Hydra's ``get_object`` logs its failure before raising it: silenced, the caller's one line says it."""
    hydra_log = logging.getLogger("hydra.utils")
    with contextlib.ExitStack() as undo:
        undo.callback(setattr, hydra_log, "disabled", hydra_log.disabled)
        hydra_log.disabled = True
        return get_object(path)


def check_targets(cfg: DictConfig) -> None:
    for key, path in _targets(OmegaConf.to_container(cfg, resolve=False)):
        try:
            import_target(path)
        except ImportError as error:
            reason = (str(error).strip().splitlines() or ["not found"])[-1]
            raise ConfigError(
                f"{key}._target_ must name an importable class or function, got {path!r} ({reason})"
            ) from None


def check_trainer(trainer: DictConfig) -> None:
    require_choice("trainer.precision", trainer.precision, PRECISIONS)
    if trainer.accelerator in CUDA_ACCELERATORS and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={trainer.accelerator} needs a CUDA GPU and none is visible here; "
            "use trainer.accelerator=cpu or auto"
        )


def check_settings(cfg: DictConfig) -> None:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be set (its default is ???), e.g. {missing[0]}=VALUE")
    require_int("seed", cfg.seed, 0, SEED_MAX)
    require_int("trainer.max_steps", cfg.trainer.max_steps, 1)  # −1 would train forever on endless data
    require_int("trainer.accumulate_grad_batches", cfg.trainer.accumulate_grad_batches, 1)
    require_int("checkpoint.every_n_steps", cfg.checkpoint.every_n_steps, 1)
    if cfg.cpu_threads is not None:
        require_int("cpu_threads", cfg.cpu_threads, 1)
    require_bool("fresh", cfg.fresh)
    for key in (*HOOKS, "fault_step"):
        if cfg.debug[key] is not None:
            require_int(f"debug.{key}", cfg.debug[key], 0)
    for key, phases in PHASE_HOOKS.items():
        if cfg.debug[key] is not None:
            require_choice(f"debug.{key}", cfg.debug[key], phases)
    check_trainer(cfg.trainer)
    if "momentum" in cfg.optimizer.get("algorithm", {}):
        require_float("optimizer.algorithm.momentum", cfg.optimizer.algorithm.momentum, 0)
    check_targets(cfg)


def check_batch_size(module: nn.Module, batch_size: int) -> None:
    """BatchNorm in training mode and the negatives term both need at least two samples per batch; a
    queue of negatives must hold one step's keys (the objective's own check)."""
    module.objective.check_batch_size(batch_size)
    needs = []
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules()):
        needs.append("BatchNorm layers")
    if module.objective.negatives_weight > 0:
        needs.append("negatives (model.loss.negatives_weight > 0)")
    if needs and batch_size < 2:
        raise ConfigError(
            f"data.batch_size must be ≥ 2 for this model ({' and '.join(needs)} need two samples), "
            f"got {batch_size}"
        )


def check_optimizer(make_optimizer, total_steps: int) -> None:
    """Build the optimizer and its schedule once over a stand-in parameter: its checks, and the
    algorithm's own (torch's), run now instead of when fitting starts."""
    try:
        make_optimizer(parts={"check": nn.Linear(1, 1)}, total_steps=total_steps)
    except SuiteError:
        raise
    except (ValueError, TypeError) as error:  # torch's own argument checks (betas, eps, ...)
        raise ConfigError(f"optimizer.algorithm: {error}") from None


def check_built(cfg: DictConfig, module, datamodule) -> None:
    """The checks that need the model and the set-up data module (module docstring)."""
    check_batch_size(module, datamodule.batch_size)
    check_optimizer(module.make_optimizer, cfg.trainer.max_steps)
    # NOTE: the kNN classifier would clamp a larger k to the split, scoring every sample as the majority.
    require_int("metrics.knn_k", cfg.metrics.knn_k, 1, len(datamodule.probe_splits().train_y))
