"""The one collective the objective needs under multi-process training, the identity in a single process.

Under DDP (conf/trainer/ddp.yaml) each of W processes holds B rows of a global batch of W·B. The
negatives of BYOL's Eq. 6 (and SimCLR's NT-Xent) range over the whole global batch, so the loss gathers
the targets of every process (docs/design.md §4). Single-process code never sees a difference: there
``gather_rows`` returns its input and offset 0.

Why the gradients come out right (the factor the DDP test checks): process r computes L_r, the mean of
its own B per-sample losses, from its B predictions and all W·B gathered targets; the global loss is
L = (1/W)·Σ_r L_r. The gather's backward sums, onto each process's own rows, the gradients that every
process's L_r sends to them (a reduce-scatter with SUM), and DDP then averages the parameter gradients
over processes. Together: grad = (1/W)·Σ_r ∂L_r/∂θ = ∂L/∂θ, the gradient of a single-process run on the
W·B batch. (A gather whose backward keeps only the local L_r's share, as some SimCLR ports do, misses
the other processes' terms whenever the targets carry gradient.)
"""

import torch
import torch.distributed as dist
from torch.distributed import _functional_collectives as collectives


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The rows of every process, rank-major, and the index of this process's first row among them.

    x: (B, ...) with the same B on every process → ((W·B, ...), rank·B). Autograd-aware: gradients with
    respect to the gathered rows flow back to the process that owns them, summed over processes. A
    detached x (BYOL's target) costs one all-gather and no backward communication. Single process:
    (x, 0), no copy.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    # NOTE: a private module, this one call: torch 2.14 (pinned) has no public all-gather that autograd
    # runs through and that is not deprecated. torch.distributed.all_gather_into_tensor carries no
    # gradient; torch.distributed.nn.functional.all_gather (what Lightning's all_gather uses) warns that it
    # is deprecated in favour of this functional collective. Both reduce-scatter with SUM in backward.
    rows = collectives.all_gather_single(x.contiguous(), 0, dist.group.WORLD)
    return rows, dist.get_rank() * len(x)
