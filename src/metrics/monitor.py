"""Measures collapse during training (docs/design.md §5): before the first step (the run's own random-init
reference), every ``every_n_steps`` optimizer steps (null: MEASUREMENTS_PER_RUN times a run, whatever its
length), and at the end. Always in eval mode, without gradient, on the data module's fixed held-out set,
with BatchNorm statistics calibrated on training batches for that measurement only
(src/metrics/calibration.py).
"""

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from src.core.checks import require_bool, require_choice, require_int
from src.data.base import SSLDataModule
from src.metrics.background import BackgroundMeasurement, Measured, can_fork, measured_at
from src.metrics.calibration import calibrated_batchnorm
from src.metrics.collapse import representation_metrics, singular_values
from src.metrics.divergence import Diverged, require_finite
from src.metrics.planted import PLANTED_OUTPUTS, planted
from src.metrics.predictor import predictor_metrics
from src.metrics.probes import accuracy_se, knn_accuracy, linear_probe_accuracy
from src.metrics.verdict import Verdict, VerdictRule, collapse_verdict

# Intervals a run is cut into when metrics.every_n_steps is null: 13 points with the reference, so a curve
# resolves what happens in the first twelfth of any budget (experiments/collapse_table/figures/dynamics.png:
# the collapsing rows have fallen by step 50 of 300, its first measurement after the reference). The
# 600-step default run measures every 50 steps.
MEASUREMENTS_PER_RUN = 12


@torch.no_grad()
def encode(module, datamodule: SSLDataModule, x: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    """Representations (h, z, p) of stored inputs x, in chunks; float32 on the CPU. Raises Diverged if
    any is not finite (the metrics of a diverged network are undefined; an SVD of them would fail)."""
    chunks: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(x), batch_size):
        batch = datamodule.to_model_input(x[start : start + batch_size].to(module.device))
        outputs = module.forward_view(batch, with_target=False)
        for name in module.measured:
            value = outputs[name]
            require_finite(name, value)
            chunks.setdefault(name, []).append(value.float().cpu())
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def measure(
    module, datamodule: SSLDataModule, settings: dict, linear_probe: bool = True, plant: str | None = None
) -> tuple[dict[str, float], dict[str, list]]:
    """All metrics of the module as it is now: (scalars, singular spectra); without ``linear_probe`` all
    but ``linear_acc`` (the L-BFGS fit, most of a measurement's time); with ``plant`` the output
    representations (z, p) replaced by a planted case (src/metrics/planted.py). Leaves the module's state
    and training mode as they were."""
    with calibrated_batchnorm(module, datamodule, settings["calibration_batches"]):
        eval_set = datamodule.eval_set()
        probe = datamodule.probe_splits()
        bs = settings["batch_size"]
        view1 = encode(module, datamodule, eval_set.view1, bs)
        view2 = encode(module, datamodule, eval_set.view2, bs)
        for name in ("z", "p") if plant else ():
            if name in view1:
                view1[name], view2[name] = planted(plant, view1[name], view2[name])
        scalars: dict[str, float] = {}
        for name in view1:
            scalars.update(representation_metrics(view1[name], view2[name], name))
        spectra = {name: singular_values(view1[name]).tolist() for name in view1}
        if not isinstance(module.predictor, torch.nn.Identity):  # W or the MLP's Jacobian, vs F of z
            z = view1["z"].to(module.device)
            scalars.update(predictor_metrics(module.predictor, z, settings["predictor_top_k"]))
        train_h = encode(module, datamodule, probe.train_x, bs)["h"]
        test_h = encode(module, datamodule, probe.test_x, bs)["h"]
        k = datamodule.num_classes
        if linear_probe:
            scalars["linear_acc"] = linear_probe_accuracy(
                train_h, probe.train_y, test_h, probe.test_y, k, steps=settings["probe_steps"]
            )
            scalars["linear_acc_se"] = accuracy_se(scalars["linear_acc"], len(probe.test_y))
        scalars["knn_acc"] = knn_accuracy(
            train_h, probe.train_y, test_h, probe.test_y, k, k=settings["knn_k"]
        )
    return scalars, spectra


def measurement_interval(every_n_steps: int | None, max_steps: int) -> int:
    """Optimizer steps between two measurements: ``every_n_steps`` as given, or, when it is None, the
    run's ``max_steps`` cut into MEASUREMENTS_PER_RUN intervals (at least 1 step; the remainder of the
    division leaves a shorter last interval before the final measurement)."""
    if every_n_steps is not None:
        return every_n_steps
    return max(1, max_steps // MEASUREMENTS_PER_RUN)


def batches_run(trainer: pl.Trainer) -> int:
    """Training batches whose forward and backward have run: while it stays the same, the module's state
    (weights, BatchNorm buffers) is the one a measurement started at that count saw."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.processed


def namespaced(scalars: dict[str, float]) -> dict[str, float]:
    """The fixed metric names: probe accuracies (and their standard errors) under ``probe/``, the rest
    under ``collapse/`` (names that already carry a namespace, ``predictor/…``, are kept)."""
    return {
        (k if "/" in k else f"probe/{k}" if "_acc" in k else f"collapse/{k}"): v for k, v in scalars.items()
    }


class CollapseMonitor(pl.Callback):
    """Keeps the reference (before training) and the latest measurement; logs every measurement.

    With ``metrics.background`` every measurement but the final one runs in the run's measuring process, of
    the networks as they were at its step (src/metrics/background.py), and is logged, under its own step, when
    the next one starts; the final one runs on the training thread, after the last pending one is logged.
    Without it each is taken and logged at its step on the training thread. The numbers are the same either way; the
    position of a measurement's row among the training rows of ``metrics.csv`` is not."""

    def __init__(self, settings: dict):
        # Every metrics.* key is checked here, once (src.train builds the monitor before the run folder);
        # metrics.knn_k is checked against the probe's split once the data exist (src/cli/preflight.py).
        for key in ("batch_size", "probe_steps", "predictor_top_k"):
            require_int(f"metrics.{key}", settings[key], 1)
        for key in ("every_n_steps", "probe_every_n_steps"):  # null: scaled to the run / at every measurement
            if settings[key] is not None:
                require_int(f"metrics.{key}", settings[key], 1)
        require_int("metrics.calibration_batches", settings["calibration_batches"], 0)
        if settings["planted_output"] is not None:
            require_choice("metrics.planted_output", settings["planted_output"], PLANTED_OUTPUTS)
        require_bool("metrics.background", settings["background"])
        self.rule = VerdictRule.from_settings(settings["verdict"])
        self.settings = settings
        self.reference: dict[str, float] | None = None
        self.reference_spectra: dict[str, list] | None = None
        self.final: dict[str, float] | None = None
        self.final_spectra: dict[str, list] | None = None
        self._last_measured_step = -1
        self.every_n_steps: int | None = None  # the interval, once the run's length is known (on_train_start)
        self._background = BackgroundMeasurement()
        self._unlogged: Measured | None = None  # taken in the background, to be logged at the next start
        self._retake: int | None = None  # a resumed run's step whose measurement was in flight at the save
        self._trainer: pl.Trainer | None = None
        self._started_after: int | None = None  # batches run when the measurement in flight started

    def state_dict(self) -> dict:
        # The random-init reference survives a resume: it is measured once, before the very first step.
        # So does the final measurement: a run killed after its final checkpoint resumes with nothing to do.
        # A measurement still unlogged is carried too, so the resumed run logs it where this one would have;
        # one still running of the very state being saved is measured again by the resumed run instead of
        # being waited for (every checkpoint step that is also a measurement step would otherwise wait).
        unchanged = self._trainer is not None and batches_run(self._trainer) == self._started_after
        retake = self._background.step if unchanged else None
        if retake is None:
            self._settle()
        return {
            "reference": self.reference,
            "reference_spectra": self.reference_spectra,
            "final": self.final,
            "final_spectra": self.final_spectra,
            "unlogged": None if self._unlogged is None else self._unlogged.as_state(),
            "retake": retake,
        }

    def load_state_dict(self, state: dict) -> None:
        self.reference, self.reference_spectra = state["reference"], state["reference_spectra"]
        self.final, self.final_spectra = state["final"], state["final_spectra"]
        unlogged = state.get("unlogged")  # absent from checkpoints written before metrics.background
        self._unlogged = None if unlogged is None else Measured(**unlogged)
        self._retake = state.get("retake")

    def _start(self, trainer: pl.Trainer, module, linear_probe: bool = True) -> None:
        """Measure the step training is at: in the background (logged later, by ``_log_unlogged``), or
        here and logged now."""
        step, datamodule = trainer.global_step, trainer.datamodule

        def work(probe: bool) -> tuple[dict, dict]:
            return measure(module, datamodule, self.settings, probe)

        # NOTE: where a fork is unsafe (an accelerator, several threads) the training thread measures.
        if self.settings["background"] and can_fork(module.device):
            self._background.start(step, module.state_dict(), work, linear_probe)
            self._started_after = batches_run(trainer)
            return
        self._unlogged = measured_at(step, lambda: work(linear_probe))
        self._log_unlogged(trainer)

    def _settle(self) -> None:
        """Wait for the background measurement, if one runs, and hold it as unlogged."""
        measured = self._background.settle()
        if measured is not None:
            self._unlogged = measured

    def _log_unlogged(self, trainer: pl.Trainer) -> None:
        self._settle()
        measured, self._unlogged = self._unlogged, None
        if measured is None:
            return
        if measured.diverged is not None:
            raise Diverged(measured.diverged, measured.step)
        if measured.step == 0:
            self.reference, self.reference_spectra = measured.scalars, measured.spectra
        for logger in trainer.loggers:
            logger.log_metrics(namespaced(measured.scalars), step=measured.step)

    def on_train_start(self, trainer: pl.Trainer, module) -> None:
        # The step training starts from is measured already (the reference, or before the checkpoint):
        # under gradient accumulation its first batch would otherwise measure it again.
        self._trainer = trainer
        self._last_measured_step = trainer.global_step
        self.every_n_steps = measurement_interval(self.settings["every_n_steps"], trainer.max_steps)
        if trainer.global_step in (0, self._retake):  # the reference, or the one in flight at the save
            self._start(trainer, module)
        self._retake = None

    def on_train_batch_end(self, trainer: pl.Trainer, module, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step  # under gradient accumulation several batches share a step
        if (
            step % self.every_n_steps == 0
            and step != self._last_measured_step
            and step < trainer.max_steps  # the last step is measured once, by on_train_end
        ):
            self._last_measured_step = step
            probe_every = self.settings["probe_every_n_steps"]  # null: at every measurement
            self._log_unlogged(trainer)
            self._start(trainer, module, linear_probe=probe_every is None or step % probe_every == 0)

    def on_train_end(self, trainer: pl.Trainer, module) -> None:
        self._log_unlogged(trainer)
        # The panel's planted cases replace the final measurement's outputs only (never the reference).
        plant = self.settings["planted_output"]
        step = trainer.global_step
        final = measured_at(step, lambda: measure(module, trainer.datamodule, self.settings, plant=plant))
        self._unlogged = final
        self._log_unlogged(trainer)
        self.final, self.final_spectra = final.scalars, final.spectra
        self.close()

    def close(self) -> None:
        """End the measuring process, if one runs (after the final measurement; and by the run, whatever
        way it ends: after an exception the checkpoint may still wait for the measurement in flight)."""
        self._background.close()

    def on_exception(self, trainer: pl.Trainer, module, exception: BaseException) -> None:
        # A run that stops on an error keeps the measurement it had taken, as without the background: its
        # row is logged (SIGTERM instead carries it in the checkpoint, for the resumed run to log).
        if isinstance(exception, SIGTERMException):
            return
        try:
            self._settle()
        except Exception:  # the run is failing already; the error reported is the first one
            return
        if self._unlogged is not None and self._unlogged.diverged is None:
            self._log_unlogged(trainer)

    def verdict(self) -> Verdict:
        """The written rule applied to the final measurement against the random-init reference."""
        return collapse_verdict(self.final, self.reference, self.rule)
