"""MoCo's queue of negatives (He et al. 2020; MoCo v2, Chen et al. 2020): a FIFO of the last Q target
projections ("keys"). The LightningModule owns it (its buffers are in the checkpoint, so a resumed run
continues with the same queue), reads it during the step and pushes the step's keys after the optimizer
step, so a sample's own key is never among its negatives: they are all keys of earlier steps.

NOTE: MoCo fills the queue with random unit vectors at the start; here unfilled slots are masked out
instead, so every negative is a real key (the first step has only positives). Any Q ≥ the keys one step
pushes works: writes wrap around modulo Q, so Q need not be a multiple of the batch.
"""

import torch
from torch import nn


class KeyQueue(nn.Module):
    def __init__(self, size: int, dim: int):
        super().__init__()
        self.size = size
        self.register_buffer("keys", torch.zeros(size, dim))  # (Q, d); the loss normalises them
        self.register_buffer(
            "pointer", torch.zeros((), dtype=torch.long)
        )  # the slot written next (the oldest)
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))  # how many slots hold a key

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys (Q, d), valid (Q,) bool): the slots that hold a key; no host sync."""
        return self.keys, torch.arange(self.size, device=self.keys.device) < self.filled

    @torch.no_grad()
    def push(self, new: torch.Tensor) -> None:
        """Enqueue new: (n, d), n ≤ Q; the n oldest keys leave."""
        if len(new) > self.size:
            raise ValueError(f"cannot push {len(new)} keys into a queue of {self.size}")
        slots = (self.pointer + torch.arange(len(new), device=self.keys.device)) % self.size  # (n,)
        self.keys[slots] = new.to(self.keys.dtype)
        self.pointer.copy_((self.pointer + len(new)) % self.size)
        self.filled.copy_(torch.clamp(self.filled + len(new), max=self.size))
