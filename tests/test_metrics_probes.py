"""Linear probe and kNN: analytic cases, determinism, and kNN against a brute-force loop."""

from collections import Counter

import numpy as np
import pytest
import torch

from src.core.errors import ConfigError
from src.metrics.probes import knn_accuracy, linear_probe_accuracy


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clusters(n_per_class: int, num_classes: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters of std 1 around 10·e_c: linearly separable with overwhelming probability."""
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)  # (N,)
    centres = 10.0 * torch.eye(num_classes, d)  # (C, d)
    return centres[labels] + torch.randn(len(labels), d, generator=_generator(seed)), labels


def test_linear_probe_separates_well_separated_clusters():
    train_x, train_y = _clusters(100, 4, 16, seed=0)
    test_x, test_y = _clusters(50, 4, 16, seed=1)
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y, 4) == 1.0


def test_linear_probe_is_at_chance_on_random_labels():
    # Test labels independent of everything: accuracy ~ Binomial(2000, 1/4)/2000, std ≈ 0.0097.
    # The band ±0.06 is six standard deviations.
    g = _generator(2)
    train_x, test_x = torch.randn(400, 16, generator=g), torch.randn(2000, 16, generator=g)
    train_y, test_y = torch.randint(0, 4, (400,), generator=g), torch.randint(0, 4, (2000,), generator=g)
    accuracy = linear_probe_accuracy(train_x, train_y, test_x, test_y, 4)
    assert abs(accuracy - 0.25) < 0.06


def test_linear_probe_is_deterministic_and_does_not_mutate_inputs():
    g = _generator(3)
    train_x, test_x = torch.randn(200, 8, generator=g), torch.randn(100, 8, generator=g)
    train_y, test_y = (train_x[:, 0] > 0).long(), (test_x[:, 0] + 0.3 * test_x[:, 1] > 0).long()
    originals = [t.clone() for t in (train_x, train_y, test_x, test_y)]
    first = linear_probe_accuracy(train_x, train_y, test_x, test_y, 2)
    second = linear_probe_accuracy(train_x, train_y, test_x, test_y, 2)
    assert first == second
    for before, after in zip(originals, (train_x, train_y, test_x, test_y), strict=True):
        assert torch.equal(before, after)


def test_linear_probe_standardises_test_with_train_statistics():
    # Two classes at ±1 along dim 0. Shifting only the test split by +10 along that axis moves every test
    # point to the class-1 side when the train mean/std are used (accuracy 1/2); standardising the test
    # split with its own statistics would undo the shift (accuracy 1).
    g = _generator(4)
    labels = torch.arange(2).repeat(100)  # (200,)
    features = torch.randn(200, 3, generator=g) * 0.1
    features[:, 0] += 2.0 * labels - 1.0
    shifted = features + torch.tensor([10.0, 0.0, 0.0])
    assert linear_probe_accuracy(features, labels, features, labels, 2) == 1.0
    assert linear_probe_accuracy(features, labels, shifted, labels, 2) == 0.5


def test_linear_probe_with_huge_weight_decay_predicts_the_train_majority():
    # weight_decay → ∞ pins W at 0, so only the (undecayed) bias is left: every test row gets the train
    # majority class (class 0, 50 of 90 rows), which is right for half of the balanced test split.
    train_x, train_y = _clusters(50, 2, 4, seed=10)
    train_x, train_y = train_x[:-10], train_y[:-10]  # 50 of class 0, 40 of class 1
    test_x, test_y = _clusters(20, 2, 4, seed=11)
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y, 2) == 1.0
    assert linear_probe_accuracy(train_x, train_y, test_x, test_y, 2, weight_decay=1e4) == 0.5


def test_linear_probe_works_under_inference_mode_and_on_bf16():
    train_x, train_y = _clusters(30, 3, 6, seed=5)
    test_x, test_y = _clusters(20, 3, 6, seed=6)
    expected = linear_probe_accuracy(train_x, train_y, test_x, test_y, 3)
    with torch.inference_mode():
        inference = [t.clone() for t in (train_x, train_y, test_x, test_y)]
        assert linear_probe_accuracy(*inference, 3) == expected
    bf16 = linear_probe_accuracy(train_x.bfloat16(), train_y, test_x.bfloat16(), test_y, 3)
    assert bf16 == 1.0


def test_probes_reject_labels_outside_num_classes_and_bad_settings():
    x, y = torch.randn(10, 4), torch.arange(10) % 3
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        linear_probe_accuracy(x, y, x, y, 2)
    with pytest.raises(ConfigError, match="k"):
        knn_accuracy(x, y, x, y, 3, k=0)
    with pytest.raises(ConfigError, match="steps"):
        linear_probe_accuracy(x, y, x, y, 3, steps=0)


def _brute_force_knn(train_x, train_y, test_x, test_y, k: int) -> float:
    """Independent reference: float64 loops, stable sort, majority vote, ties to the smallest label."""
    train = [row / np.linalg.norm(row) for row in train_x.double().numpy()]
    correct = 0
    for row, label in zip(test_x.double().numpy(), test_y.tolist(), strict=True):
        row = row / np.linalg.norm(row)
        similarities = [float(row @ other) for other in train]
        nearest = sorted(range(len(train)), key=lambda i: -similarities[i])[:k]
        counts = Counter(int(train_y[i]) for i in nearest)
        best = max(counts.values())
        correct += min(c for c, n in counts.items() if n == best) == label
    return correct / len(test_y)


@pytest.mark.parametrize(("k", "chunk_size"), [(1, 1024), (4, 7), (5, 1), (6, 1024)])
def test_knn_against_brute_force(k, chunk_size):
    # Random labels on random features give many tied votes, which exercises the tie rule.
    g = _generator(7)
    train_x, test_x = torch.randn(60, 5, generator=g), torch.randn(25, 5, generator=g)
    train_y, test_y = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (25,), generator=g)
    expected = _brute_force_knn(train_x, train_y, test_x, test_y, k)
    assert knn_accuracy(train_x, train_y, test_x, test_y, 3, k=k, chunk_size=chunk_size) == expected


def test_knn_k1_on_its_own_train_set_is_perfect():
    g = _generator(8)
    x, y = torch.randn(40, 6, generator=g), torch.randint(0, 5, (40,), generator=g)
    assert knn_accuracy(x, y, x, y, 5, k=1) == 1.0


def test_knn_k_is_clamped_to_train_size():
    # With k >= N_train every test row votes over the whole train set: the prediction is the train
    # majority label (label 2 here), whatever the features.
    g = _generator(9)
    train_x, test_x = torch.randn(30, 4, generator=g), torch.randn(10, 4, generator=g)
    train_y = torch.tensor([2] * 12 + [0] * 9 + [1] * 9)
    test_y = torch.tensor([2] * 7 + [1] * 3)
    assert knn_accuracy(train_x, train_y, test_x, test_y, 3, k=1000) == 0.7
    assert knn_accuracy(train_x, train_y, test_x, test_y, 3, k=30) == 0.7
