"""BatchNorm statistics for measurement, estimated on training batches and thrown away afterwards.

In eval mode BatchNorm normalises with its running statistics. Before the first step those are the
defaults (mean 0, variance 1), so an uncalibrated random-init reference is measured through an identity
BN: not the network that training computes (which normalises with batch statistics), and one whose
features are scaled differently. During training the running statistics are an exponential average
(momentum 0.1) over batches seen by *earlier* weights. Either way the measured network is not quite the
trained one.

So every measurement (the random-init reference included) runs inside ``calibrated_batchnorm``: the
running statistics of the online network's BN layers are reset and re-estimated as a plain cumulative
average (``momentum=None``) over the training batches of steps 0 … n−1 (``metrics.calibration_batches``;
each view forwarded on its own, as in training), in train mode under ``torch.no_grad()``: no gradient,
no optimizer step. The measurement then runs in eval mode, and on exit every buffer, momentum and
training flag is put back exactly, so measuring never changes what training computes (a test checks the
module's ``state_dict`` is bitwise unchanged). Using fixed steps makes the statistics a deterministic
function of the weights: the same network is always measured through the same normalisation.

NOTE: this is the "precise BN" of Wu & Johnson 2021 ("Rethinking 'Batch' in BatchNorm", §3), applied to
measurement only; training itself keeps Lightning's usual running averages.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from src.data.base import SSLDataModule

BATCH_NORM = nn.modules.batchnorm._BatchNorm


def online_batchnorm_layers(module) -> list[nn.Module]:
    """The BN layers that measurement runs through: the encoder's, and the predictor's when it sits on
    the online side (forward_view(with_target=False) never calls a target-side predictor)."""
    networks = [module.encoder] + ([module.predictor] if module.predictor_side == "online" else [])
    return [m for net in networks for m in net.modules() if isinstance(m, BATCH_NORM)]


def training_views(datamodule: SSLDataModule, step: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The two model inputs of training step ``step``, on ``device``, exactly as training sees them
    (image data are augmented on the device by ``on_after_batch_transfer``)."""
    batch = tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in datamodule.train_batch(step))
    batch = datamodule.on_after_batch_transfer(batch, 0)  # Lightning's default hook returns it unchanged
    return tuple(datamodule.to_model_input(x) for x in batch[:2])


@contextmanager
def calibrated_batchnorm(module, datamodule: SSLDataModule, num_batches: int) -> Iterator[None]:
    """Inside: the module in eval mode, its online BN layers normalising with statistics averaged over
    the training batches of steps 0 … num_batches−1. On exit: every BN buffer, momentum and training flag
    restored to what it was. num_batches = 0 measures with the running statistics as they are."""
    layers = online_batchnorm_layers(module)
    modes = {m: m.training for m in module.modules()}
    saved = [(m, m.momentum, {k: b.clone() for k, b in m.named_buffers(recurse=False)}) for m in layers]
    try:
        module.eval()
        if layers and num_batches > 0:
            for layer in layers:
                layer.reset_running_stats()
                layer.momentum = None  # cumulative average: every batch counts the same
                layer.train()  # only the BN layers: they update their statistics, nothing else changes
            with torch.no_grad():
                for step in range(num_batches):
                    for view in training_views(datamodule, step, module.device):
                        module.forward_view(view, with_target=False)
            for layer in layers:
                layer.eval()
        yield
    finally:
        with torch.no_grad():
            for layer, momentum, buffers in saved:
                layer.momentum = momentum
                for name, value in buffers.items():
                    getattr(layer, name).copy_(value)
        for m, training in modes.items():
            m.training = training
