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


class _GatherRows(torch.autograd.Function):
    """All-gather of the rows whose backward is a reduce-scatter with SUM (the module docstring's factor):
    public collectives only (all_gather_into_tensor, reduce_scatter_tensor; torch ≥ 2.0)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        rows = x.new_empty((dist.get_world_size() * x.shape[0], *x.shape[1:]))  # (W·B, ...)
        dist.all_gather_into_tensor(rows, x)
        return rows

    @staticmethod
    def backward(ctx, grad_rows: torch.Tensor) -> torch.Tensor:
        grad = grad_rows.new_empty((grad_rows.shape[0] // dist.get_world_size(), *grad_rows.shape[1:]))
        dist.reduce_scatter_tensor(grad, grad_rows.contiguous(), op=dist.ReduceOp.SUM)  # (B, ...)
        return grad


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The rows of every process, rank-major, and the index of this process's first row among them.

    x: (B, ...) with the same B on every process → ((W·B, ...), rank·B). Autograd-aware: gradients with
    respect to the gathered rows flow back to the process that owns them, summed over processes. A
    detached x (BYOL's target) costs one all-gather and no backward communication. Single process:
    (x, 0), no copy.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    return _GatherRows.apply(x.contiguous()), dist.get_rank() * len(x)
