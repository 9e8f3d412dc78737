"""``nas bench train``: parallel workers, results written as they arrive, a rerun resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.errors import NasError
from nas.search.bench.train_bench import RESULT_NAME, bench_train

# Two tiny hybrid networks on digits (resized to 1x32x32 as the bench does), 1 epoch on 64 images.
SMALL = dict(spaces=("hybrid",), data="digits", samples=2, max_flops=10e6, epochs=1, seed=0, train_images=64,
             batch_size=32)


def test_two_jobs_write_each_network_and_a_rerun_trains_nothing(tmp_path: Path) -> None:
    logs: list[str] = []
    doc = bench_train(**SMALL, jobs=2, out=tmp_path, log=logs.append)
    saved = json.loads((tmp_path / RESULT_NAME).read_text())
    assert len(saved["finished"]) == 2 and doc["jobs"] == 2
    (space,) = doc["spaces"]
    assert space["samples"] == 2 and len({r["digest"] for r in space["networks"]}) == 2
    tests = [r["test_accuracy"] for r in space["networks"]]
    assert space["test_accuracy"] == {"min": min(tests), "mean": sum(tests) / 2, "max": max(tests)}
    assert all(r["flops"] <= 10e6 and r["epochs"] == 1 for r in space["networks"])

    logs.clear()
    again = bench_train(**SMALL, jobs=1, out=tmp_path, log=logs.append)
    assert logs == [f"2 of 2 networks already trained in {str(tmp_path / RESULT_NAME)!r}"]
    assert again["spaces"] == doc["spaces"]


def test_one_job_matches_the_rows_a_worker_writes(tmp_path: Path) -> None:
    """jobs=1 trains in-process; a worker trains with one thread: the same seeded networks and accuracies."""
    one = bench_train(**{**SMALL, "samples": 1}, jobs=1)
    two = bench_train(**{**SMALL, "samples": 1}, jobs=2)
    (a,), (b,) = one["spaces"][0]["networks"], two["spaces"][0]["networks"]
    assert a["digest"] == b["digest"]
    assert a["valid_accuracy"] == pytest.approx(b["valid_accuracy"], abs=1 / 64)


def test_other_settings_or_a_corrupt_file_in_the_folder_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / RESULT_NAME).write_text(json.dumps({"settings": {"data": "mnist5k"}, "finished": []}))
    with pytest.raises(NasError, match="other settings; pass another --out"):
        bench_train(**SMALL, out=tmp_path)
    (tmp_path / RESULT_NAME).write_text("{trunc")
    with pytest.raises(NasError, match="cannot read"):
        bench_train(**SMALL, out=tmp_path)
    assert (tmp_path / RESULT_NAME).read_text() == "{trunc"
    with pytest.raises(NasError, match="jobs=0 not allowed"):
        bench_train(**SMALL, jobs=0)
