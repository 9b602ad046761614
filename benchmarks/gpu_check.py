"""The GPU check: one script, about 4 minutes on one H100/H200 (8 with --compile), that reports in one run

1. the CIFAR-10 BYOL recipe (+experiment=cifar10: ResNet-18, batch 256, bf16, channels_last) trained for a
   fixed number of steps on random CIFAR-shaped images held on the GPU: images per second, peak memory,
   model FLOPs per step and the fraction of the GPU's dense bf16 rate they reach;
2. the step against its floor, with the breakdown of benchmarks/train_step.py;
3. the host-device synchronisations of a few steps, by the Python line that caused them;
4. the on-device batched augmentation against the per-image PIL pipeline in DataLoader workers
   (benchmarks/augment_throughput.py), at 32 px (CIFAR) and 96 px (STL-10, with blur);
5. with --compile and enough of --budget-s left: the same run with model.compile=true.

    python benchmarks/gpu_check.py [--out DIR] [--compile] [--budget-s 420] [--peak-tflops T]
    python benchmarks/gpu_check.py --dry        # CPU, tiny sizes: the same code path, numbers meaningless

Results are printed and, with --out (default $OUT when set), written to DIR/gpu_check.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.augment_throughput import batched_throughput, pil_throughput
from benchmarks.harness import RECIPE, ROOT, synthetic_data
from benchmarks.train_step import (
    LABELS,
    autocast,
    back_on_device,
    forward_backward,
    parts_alone,
    views,
)
from src.bench.clock import CLOCK, clocked_run

# Dense bf16 tensor-core rates (no sparsity) from the vendors' data sheets, TFLOP/s; first match wins.
PEAK_BF16_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "A10G": 70.0,
}
SIZES = {  # full: the recipe on 50k images | dry: tiny, on the CPU
    "full": {
        "data": [*synthetic_data(50_000, 10_000), "data.num_probe_train=10000"],  # probe on 10k: a quicker check
        "warmup": 30, "steps": 200, "sync_steps": 3, "reps": 20, "aug_images": 8192, "aug_workers": os.cpu_count(),
    },
    "dry": {
        "data": [*synthetic_data(64, 16, side=16), "data.batch_size=4", "data.num_eval=8", "metrics.batch_size=16",
                 "metrics.probe_steps=2", "model.projector.hidden_dim=64", "model.projector.out_dim=32"],
        "warmup": 1, "steps": 1, "sync_steps": 1, "reps": 1, "aug_images": 256, "aug_workers": 1,
    },
}  # fmt: skip


def peak_tflops(name: str, given: float | None) -> float | None:
    if given is not None:
        return given
    return next((rate for key, rate in PEAK_BF16_TFLOPS.items() if key in name), None)


def floor_flops(trainer, precision: str) -> int:
    """Model FLOPs of one floor step (online forward + backward and target forward, both views)."""
    device = back_on_device(trainer)
    x1, x2, _ = views(trainer, device)
    with FlopCounterMode(display=False) as counter:
        forward_backward(trainer.lightning_module, x1, x2, autocast(device, precision))
    trainer.lightning_module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def training_run(size: dict, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = clocked_run(
            [*RECIPE, *size["data"], *extra], Path(run_dir), size["warmup"], size["steps"], size["sync_steps"]
        )
    trainer = CLOCK.trainer
    seconds = CLOCK.seconds_per_step
    return {
        "cfg": cfg,
        "trainer": trainer,
        "seconds_per_step": seconds,
        "images_per_s": cfg.data.batch_size / seconds,
        "peak_bytes": CLOCK.peak_bytes,
        "syncs": dict(CLOCK.syncs or {}),
    }


def augmentation(size: dict, device: torch.device) -> dict:
    results = {}
    for name, side in (("cifar", 32), ("byol", 96)):
        pair = instantiate(OmegaConf.load(ROOT / "conf" / "data" / "augment" / f"{name}.yaml"))
        images = torch.randint(0, 256, (size["aug_images"], 3, side, side), dtype=torch.uint8)
        batch = min(256, size["aug_images"] // 4)
        pil = pil_throughput(images, pair, batch, size["aug_workers"])
        batched = batched_throughput(images, pair, batch, device)
        results[f"{name}:{side}"] = {
            "pil_images_per_s": pil,
            "batched_images_per_s": batched,
            "ratio": batched / pil,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--compile", action="store_true", help="also time the run with model.compile=true")
    parser.add_argument("--budget-s", type=float, default=420, help="skip the compiled run past this")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 rate, if not in the table")
    parser.add_argument("--out", default=os.environ.get("OUT"), help="folder for gpu_check.json")
    args = parser.parse_args()
    started = time.perf_counter()
    size = SIZES["dry" if args.dry else "full"]
    device = torch.device("cpu" if args.dry else "cuda")
    if not args.dry and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device visible (use --dry for the CPU code path)")
    extra = ["trainer.accelerator=cpu"] if args.dry else ["trainer.accelerator=gpu"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    report: dict = {"device": name, "torch": torch.__version__, "dry": args.dry}
    print(
        f"gpu_check on {name}, torch {torch.__version__}{' (DRY RUN: numbers meaningless)' if args.dry else ''}"
    )

    run = training_run(size, extra)
    cfg, trainer = run["cfg"], run["trainer"]
    flops = floor_flops(trainer, cfg.trainer.precision)
    rate = peak_tflops(name, args.peak_tflops)
    achieved = flops / run["seconds_per_step"] / 1e12
    report["training"] = {
        "batch": cfg.data.batch_size, "precision": cfg.trainer.precision, "channels_last": cfg.model.channels_last,
        "steps_timed": size["steps"], "ms_per_step": 1e3 * run["seconds_per_step"],
        "images_per_s": run["images_per_s"], "peak_memory_gib": run["peak_bytes"] / 2**30,
        "model_tflop_per_step": flops / 1e12, "achieved_tflops": achieved,
        "fraction_of_bf16_peak": None if rate is None else achieved / rate,
    }  # fmt: skip
    t = report["training"]
    print(
        f"1. CIFAR-10 recipe, batch {t['batch']}, {t['precision']}, channels_last={t['channels_last']}: "
        f"{t['ms_per_step']:.1f} ms/step, {t['images_per_s']:.0f} images/s (two views each), "
        f"peak {t['peak_memory_gib']:.2f} GiB"
    )
    fraction = (
        "(bf16 peak unknown: give --peak-tflops)"
        if rate is None
        else f"= {t['fraction_of_bf16_peak']:.1%} of the {rate:.0f} TFLOP/s bf16 peak"
    )
    print(f"   {t['model_tflop_per_step']:.3f} TFLOP/step (model) → {achieved:.2f} TFLOP/s {fraction}")

    parts = parts_alone(trainer, cfg.trainer.precision, size["reps"], every_n_steps=1950)
    parts["rest"] = run["seconds_per_step"] - sum(parts.values())
    report["floor"] = {
        "ratio": run["seconds_per_step"] / parts["floor"],
        **{k: 1e3 * v for k, v in parts.items()},
    }
    print(f"2. full step = {report['floor']['ratio']:.2f}× the floor (goal ≤ 1.10×)")
    for key, label in LABELS.items():
        print(f"   {label:<58}{1e3 * parts[key]:9.2f} ms {parts[key] / parts['floor']:7.1%}")

    report["syncs_per_step"] = {k: v / size["sync_steps"] for k, v in run["syncs"].items()}
    if device.type == "cuda":
        total = sum(report["syncs_per_step"].values())
        print(f"3. host-device synchronisations per step: {total:.1f}")
        for where, count in sorted(report["syncs_per_step"].items(), key=lambda kv: -kv[1]):
            print(f"   {count:6.1f}  {where}")
    else:
        print("3. host-device synchronisations: CUDA only (skipped)")

    report["augmentation"] = augmentation(size, device)
    print(f"4. augmentation, images/s (PIL with {size['aug_workers']} workers vs batched on {device.type}):")
    for setting, a in report["augmentation"].items():
        print(
            f"   {setting:<10}{a['pil_images_per_s']:>10.0f}{a['batched_images_per_s']:>12.0f}{a['ratio']:>8.1f}×"
        )

    elapsed = time.perf_counter() - started
    if args.compile and elapsed < args.budget_s - 180:
        compiled = training_run(size, [*extra, "model.compile=true"])
        report["compiled"] = {
            "ms_per_step": 1e3 * compiled["seconds_per_step"],
            "speedup": run["seconds_per_step"] / compiled["seconds_per_step"],
        }
        c = report["compiled"]
        print(f"5. model.compile=true: {c['ms_per_step']:.1f} ms/step, {c['speedup']:.2f}× eager")
    elif args.compile:
        print(f"5. model.compile=true: skipped, {elapsed:.0f} s used of a {args.budget_s:.0f} s budget")
    report["wall_s"] = time.perf_counter() - started
    print(f"done in {report['wall_s']:.0f} s")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
