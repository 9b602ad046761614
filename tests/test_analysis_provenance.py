"""A study's provenance says how busy the machine was while it ran (LoadSampler), not only at the start."""

import itertools
import pickle
import time

import pytest

from src.analysis.provenance import LoadSampler, render


def test_the_sampler_summarises_every_sample_from_start_to_stop():
    readings = itertools.count(1.0)  # 1, 2, 3, …: each sample is a new value
    sampler = LoadSampler(every_s=0.01, read=lambda: next(readings))
    sampler.start()
    time.sleep(0.2)
    load = sampler.stop()
    n = load["samples"]
    assert n >= 3  # start, at least one on the thread, stop
    assert sampler.samples == [float(i) for i in range(1, n + 1)]  # nothing read after stop
    assert load["start"] == 1.0 and load["end"] == float(n) and load["max"] == float(n)
    assert load["mean"] == pytest.approx((n + 1) / 2, abs=0.01)


def test_a_sampler_stopped_unstarted_reports_the_one_reading():
    assert LoadSampler(read=lambda: 0.5).stop() == {
        "start": 0.5, "end": 0.5, "mean": 0.5, "max": 0.5, "samples": 1, "every_s": 15.0,
    }  # fmt: skip


def entry(load):
    return {
        "command": "python -m src.run -m +study=smoke",
        "started": "2026-12-01T00:00:00+00:00",
        "wall_time_s": 60.0,
        "git": {"commit": "abc", "dirty": False, "changed_paths": 0},
        "run_commits": [],
        "machine": {"nproc": 2, "cpu": "cpu", "platform": "linux"},
        "launcher": {"n_jobs": 2},
        "load": load,
        "runs_finished": 6,
        "runs_executed_now": 6,
        "run_time_sum_s": 100.0,
        "note": "",
    }


def test_provenance_renders_the_load_and_older_entries_without_it():
    load = {"start": 0.1, "end": 2.0, "mean": 1.9, "max": 2.3, "samples": 5, "every_s": 15.0}
    text = render("smoke", [entry(None), entry(load)])
    assert text.count("- Load (1-min average") == 1
    assert (
        "own 2 worker(s) account for about 2): at the start 0.10, mean 1.90, max 2.30, at the end 2.00 (5 samples"
        in text
    )


def test_a_running_sampler_pickles_without_its_thread():
    sampler = LoadSampler(every_s=0.01)
    sampler.start()
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy.stop()["samples"] >= 2 and sampler.stop()["samples"] >= 2
