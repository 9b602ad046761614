"""What the benchmark scripts share beyond the clock (src/bench/clock.py): the repository root, the CIFAR-10
recipe with its periodic work out of the timed window, and random CIFAR-shaped images held in
memory in place of the data set's files.

- ``synthetic_images`` is an ``ImageDataModule`` loader (``data.loader._target_``) that reads nothing.
- ``model_state_bytes``: the memory a step needs before any activation, to read a peak against.
"""

from pathlib import Path

import torch

from src.data.image_datasets import ImageSplits

ROOT = Path(__file__).resolve().parents[1]

# The CIFAR-10 recipe with the periodic measurement and checkpoint out of the timed window.
RECIPE = [
    "+experiment=cifar10",
    "logger=csv",
    "metrics.every_n_steps=1000000",
    "checkpoint.every_n_steps=1000000",
]


def synthetic_images(root: str, download: bool, num_train: int, num_test: int, side: int) -> ImageSplits:
    """Uniform random uint8 images (3, side, side) and labels of 10 classes; ``root`` is not read."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randint(0, 256, (n, 3, side, side), generator=g, dtype=torch.uint8), torch.arange(n) % 10

    train_x, train_y = split(num_train)
    test_x, test_y = split(num_test)
    return ImageSplits(train_x, train_y, train_x, train_y, test_x, test_y, tuple(f"c{i}" for i in range(10)))


def synthetic_data(num_train: int, num_test: int, side: int = 32) -> list[str]:
    """Overrides that feed a CIFAR-like data config (data=cifar10) random images instead of files."""
    return [
        "data.loader._target_=benchmarks.harness.synthetic_images",
        f"+data.loader.num_train={num_train}",
        f"+data.loader.num_test={num_test}",
        f"+data.loader.side={side}",
        f"data.input_shape=[3,{side},{side}]",
    ]


def model_state_bytes(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Parameters and buffers (online, target, heads) plus gradients and optimizer state of the trained ones:
    the memory a step needs before any activation."""
    tensors = [*module.parameters(), *module.buffers()]
    size = sum(t.numel() * t.element_size() for t in tensors)
    size += sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)
    size += sum(
        v.numel() * v.element_size()
        for s in optimizer.state.values()
        for v in s.values()
        if torch.is_tensor(v)
    )
    return size
