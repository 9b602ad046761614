"""Predictor measurements: analytic limits, an independent Jacobian of the MLP head, the expected
alignment of a random orthogonal W, the values in a run's summary, and the figure."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from src.analysis.render.predictor_figures import plot_predictor_dynamics, predictor_figure
from src.metrics.predictor import (
    asymmetry,
    eigenvector_alignment,
    predictor_matrix,
    predictor_metrics,
    symmetric_eigenvalues,
)
from src.models.heads import LinearHead, MLPHead
from src.train import train


def random_orthogonal(d: int, g: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]  # Haar-distributed


def known_correlation(d: int, g: torch.Generator) -> torch.Tensor:
    q = random_orthogonal(d, g)
    return q @ torch.diag(torch.linspace(2.0, 0.1, d, dtype=torch.float64)) @ q.T


def test_alignment_is_one_when_w_is_f():
    f = known_correlation(16, torch.Generator().manual_seed(0))
    assert eigenvector_alignment(f, f, 8).item() == pytest.approx(1.0, abs=1e-9)


def test_alignment_of_a_random_orthogonal_w_is_about_one_over_sqrt_d():
    d, g = 32, torch.Generator().manual_seed(1)
    f = known_correlation(d, g)
    values = [eigenvector_alignment(random_orthogonal(d, g), f, 8).item() for _ in range(300)]
    # The symmetric part of a Haar W has Haar eigenvectors: E|cos| with a fixed unit vector is
    # Γ(d/2) / (√π Γ((d+1)/2)) ≈ sqrt(2/(π d)), i.e. of order 1/√d.
    exact = math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)
    assert np.mean(values) == pytest.approx(exact, rel=0.1)
    assert 0.5 / math.sqrt(d) < np.mean(values) < 1.5 / math.sqrt(d)


def test_eigenvalues_and_asymmetry_limits():
    s = torch.diag(torch.tensor([3.0, -1.0, 2.0]))
    torch.testing.assert_close(symmetric_eigenvalues(s), torch.tensor([3.0, 2.0, -1.0]))
    a = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # antisymmetric: symmetric part 0, ‖W − Wᵀ‖ = 2‖W‖
    torch.testing.assert_close(symmetric_eigenvalues(a), torch.zeros(2))
    assert asymmetry(a).item() == pytest.approx(2.0)
    assert asymmetry(s).item() == 0.0


def test_jacobian_of_a_linear_head_is_its_weight_and_of_the_mlp_matches_the_chain_rule():
    torch.manual_seed(0)
    linear = LinearHead(5)
    torch.testing.assert_close(predictor_matrix(linear, torch.randn(5)), linear.weight.detach())
    mlp = MLPHead(5, hidden_dim=7)
    mlp[1].running_mean.uniform_(-0.5, 0.5)
    mlp[1].running_var.uniform_(0.5, 2.0)
    mlp.eval()
    z = torch.randn(5)
    first, bn, _, last = mlp
    pre = bn(first(z[None]))[0]  # (7,)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (7,)
    expected = last.weight @ torch.diag((pre > 0).float() * scale) @ first.weight  # (5, 5)
    torch.testing.assert_close(predictor_matrix(mlp, z).detach(), expected.detach())


def test_metrics_of_the_identity_map():
    z = torch.randn(100, 6, generator=torch.Generator().manual_seed(0))
    identity = LinearHead(6, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(6))
    out = predictor_metrics(identity, z, k=4)
    assert out["predictor/eig0"] == pytest.approx(1.0) and out["predictor/eig_min"] == pytest.approx(1.0)
    assert out["predictor/asymmetry"] == 0.0
    assert out["predictor/rank"] == pytest.approx(6.0, rel=1e-4)
    assert {f"predictor/eig{j}" for j in range(4)} <= out.keys() and "predictor/eig4" not in out


@pytest.mark.parametrize("row", ["linear_predictor", "byol"])
def test_a_run_logs_the_predictor_metrics_and_keeps_them_in_its_summary(tiny_config, tmp_path, row):
    train(tiny_config(f"+ablation={row}"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for stage in ("final", "reference"):
        assert {"predictor/eig0", "predictor/alignment", "predictor/asymmetry"} <= summary[stage].keys()
    steps = pd.read_csv(tmp_path / "metrics.csv")
    assert steps["predictor/alignment"].notna().sum() >= 3  # reference, every 2 steps, final


def test_no_predictor_means_no_predictor_metrics(tiny_config, tmp_path):
    train(tiny_config("+ablation=no_predictor"), tmp_path)
    assert not any(
        k.startswith("predictor/") for k in json.loads((tmp_path / "summary.json").read_text())["final"]
    )


def test_the_figure_plots_eigenvalues_and_alignment_per_row(tmp_path):
    rows = []
    for r, row in enumerate(("directpred", "linear_predictor", "no_ema", "simsiam")):
        for seed in (0, 1):
            for step in (0, 100, 200):
                for metric, value in (("predictor/eig0", 1 + step / 100 + min(r, 2)), ("predictor/eig1", 0.5),
                                      ("predictor/alignment", step / 400), ("collapse/z_std", 0.1)):  # fmt: skip
                    rows.append({"run": f"{row}-{seed}", "row": row, "seed": seed, "step": step,
                                 "metric": metric, "value": value})  # fmt: skip
    fig = predictor_figure(pd.DataFrame(rows), "directpred")
    eig, alignment = fig.axes
    # One line per row and eigenvalue, one per row of alignment; rows with equal numbers drawn once.
    assert len(eig.get_lines()) == 2 * 3 and len(alignment.get_lines()) == 3
    entries = [text.get_text() for text in fig.legends[0].get_texts()]
    assert entries == ["directpred", "linear_predictor", "no_ema = simsiam"]
    path = plot_predictor_dynamics(pd.DataFrame(rows), tmp_path / "predictor.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_predictor_dynamics(pd.DataFrame(rows[-1:]), tmp_path / "none.png") is None
