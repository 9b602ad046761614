"""LARS (You et al. 2017), the optimizer of BYOL's and SimCLR's ImageNet recipes.

SGD with momentum whose per-tensor step is scaled by the trust ratio η·‖w‖ / ‖∇ + λw‖. Tensors with
``weight_decay == 0`` in their group (biases and BN parameters, see ``optim.split_decay``) are excluded
from the adaptation, as in BYOL (Appendix C).
"""

import torch


class LARS(torch.optim.Optimizer):
    def __init__(
        self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9, eta: float = 1e-3
    ):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "eta": eta})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad.add(p, alpha=group["weight_decay"])
                if group["weight_decay"] > 0:
                    w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
                    trust = torch.where(
                        (w_norm > 0) & (u_norm > 0), group["eta"] * w_norm / u_norm, torch.ones_like(w_norm)
                    )
                    update = update.mul(trust)
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(update)
                p.add_(buf, alpha=-group["lr"])
        return loss
