"""Divergence is a result, not a crash: a non-finite training loss, or non-finite representations of
the held-out data, end the run cleanly with status ``diverged`` and the step it happened at, so a sweep
goes on (a learning rate too large for a row is something the suite exists to report).

Steps are numbered as in ``metrics.csv``: the loss of step k is the one computed from the weights after
k optimizer steps, and a measurement at step k is taken after k optimizer steps.
"""

import torch


class Diverged(Exception):
    """The run diverged: ``what`` went non-finite at ``step`` (None until the caller knows the step)."""

    def __init__(self, what: str, step: int | None = None):
        super().__init__(what if step is None else f"{what} at step {step}")
        self.what, self.step = what, step


def require_finite(name: str, x: torch.Tensor) -> None:
    """Raise Diverged unless every entry of ``x`` is finite."""
    if not torch.isfinite(x).all():
        raise Diverged(f"the {name} representation of held-out data is not finite")
