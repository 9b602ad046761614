"""Checks made before a run writes anything, each failing with one ConfigError line that names the key
and what is allowed: the settings no component checks itself (the run's length, the checkpoint and
measurement intervals, the seed, the threads, fresh and debug), and, once the model is built, the batch
size against what the model needs. Component values (τ, β, temperature, K, learning rates, data sizes)
are checked where they are used, by their constructors."""

from omegaconf import DictConfig, OmegaConf
from torch import nn

from src.config.checks import require_bool, require_int
from src.config.errors import ConfigError


def check_settings(cfg: DictConfig) -> None:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be set (its default is ???), e.g. {missing[0]}=VALUE")
    require_int("seed", cfg.seed, 0)
    require_int("trainer.max_steps", cfg.trainer.max_steps, 1)  # −1 would train forever on endless data
    require_int("trainer.accumulate_grad_batches", cfg.trainer.accumulate_grad_batches, 1)
    require_int("checkpoint.every_n_steps", cfg.checkpoint.every_n_steps, 1)
    for key in ("every_n_steps", "batch_size", "probe_steps", "knn_k"):
        require_int(f"metrics.{key}", cfg.metrics[key], 1)
    if cfg.metrics.probe_every_n_steps is not None:
        require_int("metrics.probe_every_n_steps", cfg.metrics.probe_every_n_steps, 1)
    if cfg.cpu_threads is not None:
        require_int("cpu_threads", cfg.cpu_threads, 1)
    require_bool("fresh", cfg.fresh)
    for key in ("fail_at_step", "nan_at_step"):
        if cfg.debug[key] is not None:
            require_int(f"debug.{key}", cfg.debug[key], 0)


def check_batch_size(module: nn.Module, batch_size: int, negatives_weight: float) -> None:
    """BatchNorm in training mode and the negatives term both need at least two samples per batch."""
    needs = []
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules()):
        needs.append("BatchNorm layers")
    if negatives_weight > 0:
        needs.append("negatives (model.loss.negatives_weight > 0)")
    if needs and batch_size < 2:
        raise ConfigError(
            f"data.batch_size must be ≥ 2 for this model ({' and '.join(needs)} need two samples), "
            f"got {batch_size}"
        )
