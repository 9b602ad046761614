"""Downstream probes on frozen features (docs/design.md §5): a linear probe and a cosine kNN classifier.

Both are deterministic functions of their inputs: no random initialisation, no shuffling, no minibatches.
Each touches the test split exactly once, so the accuracy returned is the final one, never the best over
several test evaluations. Features are detached and used in float32 on whatever device they are on.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from src.core.errors import ConfigError


def _as_split(x: Tensor, y: Tensor, num_classes: int, split: str) -> tuple[Tensor, Tensor]:
    """Detached float32 (N, d) features and int64 (N,) labels in [0, num_classes) for one split."""
    if x.dim() != 2 or x.shape[0] < 1 or y.shape != (x.shape[0],):
        raise ValueError(
            f"{split}: features must be (N, d) with N >= 1 and labels (N,), "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    y = y.detach().to(torch.int64)
    if bool(((y < 0) | (y >= num_classes)).any()):
        raise ValueError(f"{split}: labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    return x.detach().to(torch.float32), y


def _as_splits(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if num_classes < 1:
        raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes}")
    train_x, train_y = _as_split(train_x, train_y, num_classes, "train")
    test_x, test_y = _as_split(test_x, test_y, num_classes, "test")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train and test features differ in width: {train_x.shape[1]} vs {test_x.shape[1]}")
    return train_x, train_y, test_x, test_y


def linear_probe_accuracy(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    *,
    steps: int = 100,
    weight_decay: float = 1e-4,
) -> float:
    """Test accuracy in [0, 1] of a multinomial logistic regression fitted on frozen train features.

    Features are standardised with the train split's per-dimension mean and std (constant dimensions are
    left at 0). Weights and bias start at zero and are fitted full-batch with L-BFGS (strong-Wolfe line
    search, at most `steps` iterations), minimising mean cross-entropy + weight_decay/2 · ‖W‖² (the bias is
    not decayed; the gradient of the penalty is weight_decay · W, as for SGD's weight decay). With no
    randomness anywhere, two calls on the same tensors return the same number.

    Safe to call from validation code that runs under torch.no_grad or torch.inference_mode.
    """
    if steps < 1:
        raise ConfigError(f"metrics.probe_steps must be an integer ≥ 1, got {steps}")
    if weight_decay < 0:
        raise ConfigError(f"linear probe weight_decay must be >= 0, got {weight_decay}")
    train_x, train_y, test_x, test_y = _as_splits(train_x, train_y, test_x, test_y, num_classes)
    # Lightning evaluates under inference_mode; its tensors cannot be saved for backward, so leave that
    # mode and clone them into ordinary tensors before fitting.
    with torch.inference_mode(False), torch.enable_grad():
        train_x, train_y, test_x = train_x.clone(), train_y.clone(), test_x.clone()
        mean = train_x.mean(dim=0)  # (d,)
        std = train_x.std(dim=0, correction=0).clamp_min(1e-6)  # (d,); constant dims: (x − mean) is 0 anyway
        train_x = (train_x - mean) / std  # (N_train, d)
        test_x = (test_x - mean) / std  # (N_test, d)

        device = train_x.device
        weight = torch.zeros(num_classes, train_x.shape[1], device=device, requires_grad=True)  # (C, d)
        bias = torch.zeros(num_classes, device=device, requires_grad=True)  # (C,)
        optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            optimizer.zero_grad()
            logits = train_x @ weight.T + bias  # (N_train, C)
            loss = F.cross_entropy(logits, train_y) + 0.5 * weight_decay * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)  # one call runs up to max_iter L-BFGS iterations

        with torch.no_grad():
            predictions = (test_x @ weight.T + bias).argmax(dim=1)  # (N_test,)
    return (predictions == test_y).to(torch.float32).mean().item()


def knn_accuracy(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    *,
    k: int = 20,
    chunk_size: int = 1024,
) -> float:
    """Test accuracy in [0, 1] of a k-nearest-neighbour classifier under cosine similarity.

    Each test row takes the k train rows of highest cosine similarity (k is clamped to N_train) and
    predicts their majority label, one vote each (unweighted, unlike the temperature-weighted kNN of
    Wu et al. 2018). A tie between labels goes to the smallest label. Test rows are processed
    `chunk_size` at a time, so memory is O(chunk_size × N_train).
    """
    if k < 1:
        raise ConfigError(f"metrics.knn_k must be an integer ≥ 1, got {k}")
    if chunk_size < 1:
        raise ConfigError(f"kNN chunk_size must be an integer >= 1, got {chunk_size}")
    train_x, train_y, test_x, test_y = _as_splits(train_x, train_y, test_x, test_y, num_classes)
    k = min(k, train_x.shape[0])
    train_x = F.normalize(train_x, dim=1)  # (N_train, d)
    correct = 0
    for start in range(0, test_x.shape[0], chunk_size):
        chunk = F.normalize(test_x[start : start + chunk_size], dim=1)  # (c, d)
        neighbours = (chunk @ train_x.T).topk(k, dim=1).indices  # (c, k)
        votes = torch.zeros(chunk.shape[0], num_classes, device=chunk.device)  # (c, C)
        votes.scatter_add_(1, train_y[neighbours], torch.ones_like(neighbours, dtype=votes.dtype))
        # argmax returns the first maximal index, i.e. the smallest label among tied ones.
        predictions = votes.argmax(dim=1)  # (c,)
        correct += int((predictions == test_y[start : start + chunk_size]).sum())
    return correct / test_x.shape[0]


def accuracy_se(accuracy: float, num_test: int) -> float:
    """Binomial standard error of an accuracy measured on ``num_test`` independent test samples:
    √(a(1−a)/n), the probe's own uncertainty from its finite test set (the verdict's h reading)."""
    return math.sqrt(accuracy * (1 - accuracy) / num_test)
