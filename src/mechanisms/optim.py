"""Parameter groups and the learning-rate schedule.

Explicit groups, one per part: no weight decay on biases and normalisation weights (BYOL, Appendix C:
"we exclude the biases and batch normalization parameters from weight decay and LARS adaptation"), and
the predictor's learning-rate policy (SimSiam §4.4 keeps the predictor's rate fixed while the rest
decays). Target networks are never passed here, so they can never be in the optimizer.

The learning rate optionally follows the batch: with ``lr_reference_batch`` set, ``lr`` is the rate at
that batch and the rate used is lr × (samples per optimizer step) / lr_reference_batch, the linear rule of
BYOL (Appendix C: "0.2 × BatchSize/256") and SimCLR; null (the default) uses ``lr`` as written.
"""

import math
from collections.abc import Callable

import torch
from torch import nn

from src.core.checks import require_choice, require_float, require_int

PREDICTOR_POLICIES = ("same", "scaled", "fixed")


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the base rate at ``step``: linear warm-up, then cosine decay to 0 or constant."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def split_decay(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(with weight decay, without): parameters of ≤ 1 dimension (biases, BN scales) go without.
    Frozen parameters (requires_grad False) are left out."""
    trainable = [p for p in module.parameters() if p.requires_grad]
    return [p for p in trainable if p.ndim > 1], [p for p in trainable if p.ndim <= 1]


def parameter_groups(
    parts: dict[str, nn.Module],
    lr: float,
    weight_decay: float,
    exclude_bias_and_norm: bool,
    lr_scales: dict[str, float],
    unscheduled: set[str],
    weight_decays: dict[str, float] | None = None,
) -> list[dict]:
    """One or two groups per named part. Each group carries ``name`` and ``scheduled`` (False: the
    learning rate stays at its base value, as SimSiam's fixed predictor rate). ``weight_decays`` overrides
    the weight decay of a named part."""
    groups = []
    for name, module in parts.items():
        decay, no_decay = split_decay(module)
        if not exclude_bias_and_norm:
            decay, no_decay = decay + no_decay, []
        part_decay = (weight_decays or {}).get(name, weight_decay)
        for suffix, params, wd in (("", decay, part_decay), ("/no_decay", no_decay, 0.0)):
            if params:
                groups.append(
                    {
                        "params": params,
                        "name": name + suffix,
                        "lr": lr * lr_scales.get(name, 1.0),
                        "weight_decay": wd,
                        "scheduled": name not in unscheduled,
                    }
                )
    return groups


def build_optimizer(
    algorithm: Callable[..., torch.optim.Optimizer],
    parts: dict[str, nn.Module],
    lr: float,
    weight_decay: float,
    exclude_bias_and_norm: bool,
    warmup_fraction: float,
    schedule: str,
    predictor_lr: str,
    predictor_lr_scale: float,
    total_steps: int,
    step_batch: int,
    lr_reference_batch: int | None,
    predictor_weight_decay: float | None = None,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The optimizer over ``parts`` (online encoder, predictor, probe, learned ensemble weights) and a
    per-step scheduler whose horizon is the trainer's total step count. ``step_batch`` is the samples per
    optimizer step (data.batch_size × trainer.accumulate_grad_batches), read only with
    ``lr_reference_batch`` (module docstring). ``predictor_weight_decay`` (None: the shared
    ``weight_decay``) sets the predictor's own."""
    require_float("optimizer.lr", lr, 0, open_low=True)
    if lr_reference_batch is not None:
        lr = lr * step_batch / require_int("optimizer.lr_reference_batch", lr_reference_batch, 1)
    require_float("optimizer.weight_decay", weight_decay, 0)
    require_float("optimizer.warmup_fraction", warmup_fraction, 0, 1, open_high=True)
    require_choice("optimizer.schedule", schedule, ("cosine", "constant"))
    require_choice("optimizer.predictor_lr", predictor_lr, PREDICTOR_POLICIES)
    require_float("optimizer.predictor_lr_scale", predictor_lr_scale, 0, open_low=True)
    decays = {}
    if predictor_weight_decay is not None:
        decays["predictor"] = require_float("optimizer.predictor_weight_decay", predictor_weight_decay, 0)
    scales = {"predictor": predictor_lr_scale} if predictor_lr == "scaled" else {}
    unscheduled = {"predictor"} if predictor_lr == "fixed" else set()
    groups = parameter_groups(parts, lr, weight_decay, exclude_bias_and_norm, scales, unscheduled, decays)
    optimizer = algorithm(groups, lr=lr, weight_decay=weight_decay)
    warmup = int(warmup_fraction * total_steps)
    factors = [
        (lambda step: lr_factor(step, total_steps, warmup, schedule))
        if g["scheduled"]
        else (lambda step: 1.0)
        for g in groups
    ]
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
