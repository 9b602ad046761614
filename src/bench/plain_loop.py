"""What Lightning runs for the suite's module, written out as a plain PyTorch loop: the yardstick of the loop
overhead and study floor benchmarks, which time it against real runs. It trains to bitwise the suite's
weights (tests/test_speed_invariance.py), so a ratio against it compares like with like.

The same process-wide settings (``src.train.set_kernels``, and Lightning's ``trainer.deterministic`` as its
Trainer applies it), networks (``src.train.build_module`` of the composed config), optimizer and scheduler
(``make_optimizer`` with the parts ``configure_optimizers`` passes), batches (``train_batch(step)``), loss
(``forward_view``, the objective with the MoCo queue where a row has one, the online probe), then in
Lightning's order zero_grad, backward, optimizer step, target update, DirectPred's predictor refresh, the
queue's push, scheduler step. It logs nothing, checkpoints nothing and checks nothing.
"""

import time

import pytorch_lightning as pl
import torch

from src.cli.resolvers import build
from src.metrics.monitor import measure
from src.ssl_module import online_probe_loss
from src.train import build_module, set_kernels


class PlainLoop:
    """A composed config's networks, optimizer and data, trained by hand."""

    def __init__(self, cfg):
        set_kernels(cfg)
        deterministic = cfg.trainer.deterministic  # as Lightning's Trainer applies it (True, "warn", False)
        if deterministic is not None:
            torch.use_deterministic_algorithms(bool(deterministic), warn_only=deterministic == "warn")
        pl.seed_everything(cfg.seed, workers=True, verbose=False)  # as src.train.train
        self.cfg = cfg
        self.datamodule = build(cfg.data)
        self.module = build_module(cfg, self.datamodule)
        self.datamodule.setup("fit")
        self.total_steps = cfg.trainer.max_steps
        module = self.module
        parts = {"encoder": module.encoder, "predictor": module.predictor, "probe": module.online_probe}
        if any(p.requires_grad for p in module.target.parameters()):
            parts["target"] = module.target
        self.optimizer, self.scheduler = module.make_optimizer(parts=parts, total_steps=self.total_steps)

    def step(self, step: int) -> None:
        module = self.module
        x1, x2, y = self.datamodule.on_after_batch_transfer(self.datamodule.train_batch(step), 0)
        v1, v2 = module.forward_view(x1), module.forward_view(x2)
        queue = module.negatives_queue
        losses = module.objective(v1["p"], v2["p"], v1["t"], v2["t"], queue)
        if module.predictor_tracks:  # DirectPred/DirectCopy: F̂ from this step's projections
            module.predictor.observe(torch.cat([v1["z"], v2["z"]]).detach())
        logits = module.online_probe(torch.cat([v1["h"], v2["h"]]).detach())
        probe_loss, _ = online_probe_loss(logits, torch.cat([y, y]))
        total = losses["loss"] + probe_loss
        self.optimizer.zero_grad()  # Lightning: inside the closure, after the forward
        total.backward()
        self.optimizer.step()
        module.target.update(module.encoder, step, self.total_steps)
        if module.predictor_tracks:
            module.predictor.refresh(step)  # as the suite: global_step, which does not yet count this step
        if queue is not None:  # MoCo: this step's keys join the queue after the optimizer step
            queue.push(torch.cat([v1["t"], v2["t"]]).detach())
        self.scheduler.step()

    def run(self, clock_from: int, clock_steps: int, measure_every: int | None = None) -> tuple[float, float]:
        """Train every step, with a clock from the start of step ``clock_from`` (as the suite's StepClock)
        over ``clock_steps`` steps; with ``measure_every``, measure as the collapse monitor does (before the
        first step, every ``measure_every`` steps, once at the end). Returns (wall, CPU) seconds per
        clocked step."""
        module, settings = self.module, self.cfg.metrics
        probe_every = settings.probe_every_n_steps
        module.train()
        if measure_every:
            measure(module, self.datamodule, settings)
        start = seconds = (0.0, 0.0)
        for step in range(self.total_steps):
            if step == clock_from:
                start = (time.perf_counter(), time.process_time())
            elif step == clock_from + clock_steps:
                seconds = (
                    (time.perf_counter() - start[0]) / clock_steps,
                    (time.process_time() - start[1]) / clock_steps,
                )
            self.step(step)
            done = step + 1
            if measure_every and (done % measure_every == 0 or done == self.total_steps):
                probe = probe_every is None or done % probe_every == 0 or done == self.total_steps
                measure(module, self.datamodule, settings, linear_probe=probe)
        return seconds


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Bitwise the same state: every parameter and buffer, by name."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
