"""Peak memory of a CIFAR-10 run, variants side by side (each in a fresh process, so no variant inherits
another's allocations), as ratios to the first.

    python benchmarks/peak_memory.py [--steps 2] [--full-size] [--variants NAME ...] [OVERRIDE ...]

Each variant is a real run (``src.train.train``) of the CIFAR-10 recipe (+experiment=cifar10) on random
CIFAR-shaped images. The peak is taken over training steps 1 … 1 + steps (after the first step has created
gradients and optimizer state; the random-init measurement before step 0 is not in the window): on a GPU
the CUDA allocator's peak of allocated tensors, on a CPU the process's peak resident set (which includes
the Python interpreter, the libraries and the images). "model state" is what a step holds before any
activation: parameters and buffers of the online, target and head networks, gradients and optimizer state.

Without --full-size the recipe is shrunk to a batch of 8 and few images, and on a CPU only the fp32
variants run (bf16 there is emulated and 10-20× slower): a smoke of the measurement, not a GPU figure.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RECIPE, model_state_bytes, synthetic_data
from src.bench.clock import CLOCK, clocked_run

SMALL = [
    *synthetic_data(num_train=256, num_test=64),
    "data.batch_size=8",
    "data.num_eval=32",
    "data.num_probe_train=64",
    "metrics.batch_size=32",
    "metrics.probe_steps=2",
]
VARIANTS = {  # name -> overrides on top of the recipe (which is bf16 with channels_last)
    "fp32": ["trainer.precision=32-true", "model.channels_last=false"],
    "fp32+channels_last": ["trainer.precision=32-true"],
    "bf16": ["model.channels_last=false"],
    "bf16+channels_last": [],
}
GPU_DEFAULT = ["fp32", "bf16", "bf16+channels_last"]
CPU_DEFAULT = ["fp32", "fp32+channels_last"]


def child(variant: str, steps: int, overrides: list[str]) -> None:
    """One variant in this process; prints one JSON line."""
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = clocked_run([*RECIPE, *overrides, *VARIANTS[variant]], Path(run_dir), warmup=1, steps=steps)
    trainer = CLOCK.trainer
    record = {
        "variant": variant,
        "device": str(trainer.strategy.root_device),
        "batch": cfg.data.batch_size,
        "peak": CLOCK.peak_bytes,
        "at_start": CLOCK.start_bytes,
        "model_state": model_state_bytes(trainer.lightning_module, trainer.optimizers[0]),
    }
    print("RESULT " + json.dumps(record))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2, help="training steps in the measured window")
    parser.add_argument("--full-size", action="store_true", help="the recipe's batch and 50k images")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="default: by device")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="config overrides, as for python -m src.run")
    args = parser.parse_args()
    size = synthetic_data(num_train=50_000, num_test=10_000) if args.full_size else SMALL
    if args.child:
        child(args.child, args.steps, [*size, *args.overrides])
        return
    variants = args.variants or (GPU_DEFAULT if torch.cuda.is_available() else CPU_DEFAULT)
    records = []
    for variant in variants:
        command = [sys.executable, __file__, "--child", variant, "--steps", str(args.steps)]
        if args.full_size:
            command.append("--full-size")
        out = subprocess.run([*command, *args.overrides], capture_output=True, text=True, check=False)
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode != 0 or not lines:
            sys.exit(f"variant {variant} failed:\n{out.stderr[-3000:]}")
        records.append(json.loads(lines[-1].removeprefix("RESULT ")))
    first = records[0]
    mib = 2**20
    print(
        f"peak memory over {args.steps} steps of +experiment=cifar10, batch {first['batch']}, on {first['device']}"
    )
    print(
        f"{'variant':<20}{'peak MiB':>10}{'vs first':>10}{'at start':>10}{'step adds':>11}{'model state':>13}"
    )
    for r in records:
        print(
            f"{r['variant']:<20}{r['peak'] / mib:>10.0f}{r['peak'] / first['peak']:>9.2f}×{r['at_start'] / mib:>10.0f}"
            f"{(r['peak'] - r['at_start']) / mib:>11.0f}{r['model_state'] / mib:>13.0f}"
        )


if __name__ == "__main__":
    main()
