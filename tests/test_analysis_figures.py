"""Figures: the numbers they draw (bands over seeds, normalised spectra) and which ones a study gets."""

import pandas as pd
import pytest

from src.analysis.figures import is_tau_sweep, mean_spectra, seed_band, write_figures

PNG = b"\x89PNG\r\n\x1a\n"


def steps_frame() -> pd.DataFrame:
    rows = [
        ("byol/seed0", "byol", 0, 0, 0.5),
        ("byol/seed0", "byol", 0, 10, 0.8),
        ("byol/seed1", "byol", 1, 0, 0.3),
        ("byol/seed1", "byol", 1, 10, 0.9),
        ("no_predictor/seed0", "no_predictor", 0, 0, 0.5),
        ("no_predictor/seed0", "no_predictor", 0, 10, 0.05),
    ]
    frame = pd.DataFrame(rows, columns=["run", "row", "seed", "step", "value"])
    return frame.assign(metric="collapse/z_std_sqrt_d")


def spectra_frame() -> pd.DataFrame:
    rows = []
    for run, row, sigmas in (
        ("a", "byol", [4.0, 2.0]),
        ("b", "byol", [2.0, 2.0]),
        ("c", "no_predictor", [1.0, 0.0]),
    ):
        for stage in ("final", "reference"):
            for rep in ("h", "z"):
                rows += [(run, row, 0, stage, rep, i, s) for i, s in enumerate(sigmas)]
    return pd.DataFrame(rows, columns=["run", "row", "seed", "stage", "representation", "index", "sigma"])


def runs_frame(taus, target="ema", schedule="constant") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": [f"ema_tau_{t}" for t in taus],
            "cfg.model.target.tau": taus,
            "cfg.model.target.schedule": schedule,
            "choice.model/target": target,
            "probe/linear_acc": [0.5 + t / 10 for t in taus],
            "ref.probe/linear_acc": 0.4,
            "collapse/z_rank": [10 * t + 1 for t in taus],
        }
    )


def test_seed_band_is_mean_min_and_max_over_seeds_per_step():
    band = seed_band(steps_frame(), "collapse/z_std_sqrt_d").set_index(["row", "step"])
    assert band.loc[("byol", 10)].tolist() == pytest.approx([0.85, 0.8, 0.9])
    assert band.loc[("byol", 0)].tolist() == pytest.approx([0.4, 0.3, 0.5])
    assert band.loc[("no_predictor", 10)].tolist() == pytest.approx([0.05, 0.05, 0.05])


def test_spectra_are_normalised_per_run_then_averaged_over_seeds():
    spectra = mean_spectra(spectra_frame(), "final", "z").set_index(["row", "index"])["sigma"]
    assert spectra[("byol", 0)] == pytest.approx(1.0)
    assert spectra[("byol", 1)] == pytest.approx((0.5 + 1.0) / 2)  # 2/4 and 2/2
    assert spectra[("no_predictor", 1)] == 0.0


def test_only_a_study_of_tau_alone_is_a_tau_sweep():
    assert is_tau_sweep(runs_frame([0.0, 0.9, 1.0]))
    assert not is_tau_sweep(runs_frame([0.99, 0.99]))
    assert not is_tau_sweep(runs_frame([0.9, 0.99], schedule="cosine"))  # BYOL's baseline among the rows
    assert not is_tau_sweep(runs_frame([0.9, 1.0], target="frozen"))


def test_write_figures_writes_pngs_for_what_the_data_supports(tmp_path):
    written = write_figures(runs_frame([0.0, 0.9]), steps_frame(), spectra_frame(), tmp_path, "byol")
    assert set(written) == {"dynamics", "spectra", "tau_sweep"}
    for path in written.values():
        assert path.read_bytes()[:8] == PNG
    assert set(
        write_figures(runs_frame([0.9, 0.9]), steps_frame().iloc[:0], spectra_frame(), tmp_path / "b", "byol")
    ) == {"spectra"}
