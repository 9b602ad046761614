"""``metrics.every_n_steps: null`` (the default) cuts any run into MEASUREMENTS_PER_RUN intervals, so a short
run draws a curve as well as a long one; an integer is the interval itself, as before
(src/metrics/monitor.py)."""

import itertools

import pytest

from src.metrics.monitor import MEASUREMENTS_PER_RUN, measurement_interval
from src.train import train
from tests.test_speed_invariance import measured_steps


def measured(max_steps: int, interval: int) -> list[int]:
    """The steps the monitor measures: the reference, every ``interval`` steps, and the end."""
    return sorted({*range(0, max_steps, interval), max_steps})


@pytest.mark.parametrize("max_steps", [1, 5, 11, 12, 13, 23, 150, 299, 300, 600, 1500, 100_003])
def test_null_measures_every_run_often_enough_to_draw_and_not_more(max_steps):
    steps = measured(max_steps, measurement_interval(None, max_steps))
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    assert len(gaps) >= min(max_steps, MEASUREMENTS_PER_RUN)  # every step when the run is shorter
    assert max(gaps) <= max(1.0, max_steps / MEASUREMENTS_PER_RUN)  # no twelfth of the run unseen
    assert len(gaps) <= 2 * MEASUREMENTS_PER_RUN  # the cost stays bounded: the floor at most halves the gap


@pytest.mark.parametrize("every", [1, 50, 100, 10_000])
def test_an_integer_is_the_interval_whatever_the_run_length(every):
    assert {measurement_interval(every, max_steps) for max_steps in (1, 150, 600, 100_003)} == {every}


def test_a_run_with_the_null_default_measures_twelve_times_and_thins_the_probe_as_before(
    tiny_config, tmp_path
):
    # 24 steps: every 2nd measured; the linear probe only where the step is a multiple of 8 (and at the end).
    train(
        tiny_config("trainer.max_steps=24", "metrics.every_n_steps=null", "metrics.probe_every_n_steps=8"),
        tmp_path,
    )
    assert measured_steps(tmp_path, "collapse/z_std") == list(range(0, 25, 2))
    assert len(measured_steps(tmp_path, "collapse/z_std")) == MEASUREMENTS_PER_RUN + 1
    assert measured_steps(tmp_path, "probe/linear_acc") == [0, 8, 16, 24]
