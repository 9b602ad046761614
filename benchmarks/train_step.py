"""The training step against its floor, measured side by side in one run, with a breakdown of the rest.

    python benchmarks/train_step.py [--warmup 2] [--steps 4] [--full-size] [OVERRIDE ...]

The full step is a real run (``src.train.train``: Lightning's loop, the run's callbacks, CSV logging) of the
CIFAR-10 recipe (+experiment=cifar10) on random CIFAR-shaped images, timed from the start of step
``warmup`` to the start of step ``warmup + steps``. The floor is what no implementation of the method can
skip: the online branch's forward and backward and the target's forward, for both views, on views that
are already on the device, in the run's precision and memory format. Each remaining part is then timed
alone on the same module, data and optimizer: building the views (data), the objective and the online
probe (loss), the optimizer step, the EMA update, the collapse measurement (amortised over
``metrics.every_n_steps``); what is left of the full step is Lightning's loop, the callbacks and
logging. Goal: the full step within 1.10× the floor.

Without --full-size (and on a CPU) the recipe is shrunk to a batch of 8 in fp32 (a CPU without bf16
units runs the ResNet 10-20× slower in bf16) and a small held-out set, so that it runs in about a minute;
ratios on a CPU say little about a GPU. Any config override can follow.
"""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning_fabric.utilities.apply_func import move_data_to_device

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RECIPE, synthetic_data
from src.bench.clock import CLOCK, clocked_run, synchronize
from src.metrics.monitor import CollapseMonitor, measure

FULL_DATA = synthetic_data(num_train=50_000, num_test=10_000)
SMALL = [
    *synthetic_data(num_train=512, num_test=128),
    "data.batch_size=8",
    "data.num_eval=64",
    "data.num_probe_train=128",
    "metrics.batch_size=64",
    "metrics.probe_steps=5",
    "trainer.precision=32-true",
]
RECIPE_METRICS_EVERY = 1950  # conf/experiment/cifar10.yaml; the benchmark run itself never measures mid-run


def autocast(device: torch.device, precision: str):
    """The autocast Lightning's precision plugin wraps the step in."""
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def per_call(fn, device: torch.device, reps: int) -> float:
    """Median seconds of ``fn()`` over ``reps`` calls, the device synchronised around each."""
    times = []
    for _ in range(reps):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def back_on_device(trainer) -> torch.device:
    """Undo Lightning's teardown, which moved the module and the optimizer state to the CPU."""
    device = trainer.strategy.root_device
    trainer.lightning_module.to(device).train()
    for state in trainer.optimizers[0].state.values():
        for key, value in state.items():
            if torch.is_tensor(value):
                state[key] = value.to(device)
    return device


def views(trainer, device: torch.device) -> tuple:
    """The training step's (view1, view2, labels), built as the run builds them."""
    batch = move_data_to_device(trainer.datamodule.train_batch(trainer.global_step), device)
    return trainer.datamodule.on_after_batch_transfer(batch, 0)


def forward_backward(module, x1: torch.Tensor, x2: torch.Tensor, cast) -> None:
    """The floor's work: online forward and backward and target forward of both views."""
    with cast:
        p1, p2 = module.forward_view(x1)["p"], module.forward_view(x2)["p"]
    (p1.float().sum() + p2.float().sum()).backward()


def parts_alone(trainer, precision: str, reps: int, every_n_steps: int) -> dict[str, float]:
    """Seconds per step of the floor and of each other part of the step, each timed alone."""
    module, datamodule, optimizer = trainer.lightning_module, trainer.datamodule, trainer.optimizers[0]
    device = back_on_device(trainer)
    cast = autocast(device, precision)
    step = trainer.global_step
    x1, x2, y = views(trainer, device)

    def floor():
        forward_backward(module, x1, x2, cast)
        optimizer.zero_grad(set_to_none=True)  # Lightning's too, before each step's backward

    with cast:
        v1, v2 = module.forward_view(x1), module.forward_view(x2)
        h1, p1, t1, h2, p2, t2 = v1["h"], v1["p"], v1["t"], v2["h"], v2["p"], v2["t"]
    leaves = [t.detach().requires_grad_() for t in (h1, h2, p1, p2, t1, t2)]

    def loss():
        hh1, hh2, pp1, pp2, tt1, tt2 = leaves
        with cast:
            total = module.objective(pp1, pp2, tt1, tt2)["loss"]
            logits = module.online_probe(torch.cat([hh1, hh2]))
            total = total + F.cross_entropy(logits.float(), torch.cat([y, y]))
        total.backward()

    def optimizer_step():
        optimizer.step()
        trainer.lr_scheduler_configs[0].scheduler.step()

    settings = next(c for c in trainer.callbacks if isinstance(c, CollapseMonitor)).settings
    seconds = {
        "floor": per_call(floor, device, reps),
        "data": per_call(lambda: views(trainer, device), device, reps),
        "loss": per_call(loss, device, reps),
    }
    forward_backward(module, x1, x2, cast)  # every trainable parameter holds a gradient for the optimizer
    return seconds | {
        "optimizer": per_call(optimizer_step, device, reps),
        "ema": per_call(lambda: module.target.update(module.encoder, step, trainer.max_steps), device, reps),
        "metrics": per_call(lambda: measure(module, datamodule, settings), device, 1) / every_n_steps,
    }


LABELS = {
    "floor": "floor: online forward + backward, target forward, 2 views",
    "data": "data: select the batch, transfer, build the two views",
    "loss": "loss: objective and online probe, forward + backward",
    "optimizer": "optimizer: step and learning-rate schedule",
    "ema": "EMA update of the target",
    "metrics": f"collapse metrics and probes, 1 per {RECIPE_METRICS_EVERY} steps",
    "rest": "the rest: Lightning's loop, callbacks, logging",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warmup", type=int, default=1, help="steps before the clock starts")
    parser.add_argument("--steps", type=int, default=3, help="steps timed, and repetitions of each part")
    parser.add_argument("--full-size", action="store_true", help="the recipe's batch, precision and data")
    parser.add_argument("overrides", nargs="*", help="config overrides, as for python -m src.run")
    args = parser.parse_args()
    overrides = [*RECIPE, *(FULL_DATA if args.full_size else SMALL), *args.overrides]
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = clocked_run(overrides, Path(run_dir), args.warmup, args.steps)
        parts = parts_alone(CLOCK.trainer, cfg.trainer.precision, args.steps, RECIPE_METRICS_EVERY)
    full = CLOCK.seconds_per_step
    parts["rest"] = full - sum(parts.values())
    device = CLOCK.trainer.strategy.root_device
    print(
        f"torch {torch.__version__} on {device} ({torch.get_num_threads()} threads); +experiment=cifar10, "
        f"batch {cfg.data.batch_size}, {cfg.trainer.precision}, channels_last={cfg.model.channels_last}; "
        f"{args.steps} steps after {args.warmup}"
    )
    print(f"full step {1e3 * full:8.1f} ms = {full / parts['floor']:.2f}× the floor (goal ≤ 1.10×)")
    for key, label in LABELS.items():
        print(f"  {label:<58}{1e3 * parts[key]:9.1f} ms {parts[key] / parts['floor']:7.1%} of the floor")


if __name__ == "__main__":
    main()
