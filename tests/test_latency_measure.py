"""Measurement, calibration and the ``nas latency`` CLI on tiny networks (structure, not timings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nas.cli.main import main
from nas.errors import NasError
from nas.hw_models.calibrate import Calibration, CalibrationConfig, calibrate, calibration_path, settings_id
from nas.hw_models.conditions import Conditions, LoadGuard
from nas.hw_models.machine import machine_id
from nas.hw_models.measure import fixed_threads, measure_spec, summarize, time_interleaved
from nas.hw_models.targets import CpuTarget, get_target
from nas.searchspace import TensorType, get_space
from nas.searchspace.reference import reference_net


@pytest.fixture(autouse=True)
def _private_nas_home(tmp_path, monkeypatch) -> None:
    """Calibrations go to a temporary NAS_HOME, never the user's."""
    monkeypatch.setenv("NAS_HOME", str(tmp_path))


NB201 = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def test_summarize_statistics() -> None:
    m = summarize([5.0, 1.0, 3.0, 2.0, 4.0], warmup=1, threads=1, device="cpu")
    assert (m.median_ms, m.p25_ms, m.p75_ms, m.min_ms, m.runs) == (3.0, 2.0, 4.0, 1.0, 5)
    assert m.iqr_rel == pytest.approx(2 / 3)
    with pytest.raises(NasError):
        summarize([], 0, 1, "cpu")


def test_interleaved_timing_calls_each_function_per_round_and_restores_threads() -> None:
    calls = {"a": 0, "b": 0}

    def fa() -> None:
        calls["a"] += 1

    def fb() -> None:
        calls["b"] += 1

    before = torch.get_num_threads()
    ms = time_interleaved([fa, fb], runs=4, warmup=2, threads=1)
    assert [m.runs for m in ms] == [4, 4] and all(m.threads == 1 for m in ms)
    assert calls == {"a": 6, "b": 6}
    assert torch.get_num_threads() == before
    with pytest.raises(NasError, match="runs"):
        time_interleaved([fa], runs=0)
    with pytest.raises(NasError, match="thread"), fixed_threads(0):
        pass


def test_measure_spec_on_a_tiny_network() -> None:
    space = get_space("nb201", input=TensorType.map(3, 8, 8))
    spec = space.resolve(space.parse_string(NB201))
    m = measure_spec(spec, runs=3, warmup=1, threads=1)
    assert m.runs == 3 and m.min_ms <= m.median_ms and m.median_ms > 0 and m.device == "cpu"


def quiet_guard(threads: int = 1) -> LoadGuard:
    """A guard that sees no other work (the tests' own machine may be busy)."""
    import contextlib

    @contextlib.contextmanager
    def observe(t: int):
        out: list[Conditions] = []
        yield out
        out.append(Conditions(t, 0.0, 0.0, 2, torch.__version__, "2026-01-01T00:00:00+00:00"))

    return LoadGuard(threads, wait_s=0, observe=observe, sample=lambda s: 0.0)


def test_calibration_is_stored_where_the_cpu_target_finds_it(tmp_path) -> None:
    cfg = CalibrationConfig(space="hybrid", input="3x32x32", threads=1, enumerate_archs=3, networks=3,
                            layer_runs=1, net_runs=1, budget_s=60, measure_peak=False)
    cal, path = calibrate(cfg, log=lambda s: None, guard=quiet_guard())
    assert path == calibration_path(1) == tmp_path / "latency" / f"{settings_id(1)}.json"
    assert settings_id(1).startswith(machine_id(1) + "-")
    assert cal.machine["id"] == machine_id(1) and cal.machine["threads"] == 1
    assert len(cal.table) > 0 and len(cal.networks) == 3
    assert set(cal.corrections["hybrid"]) == {"table", "roofline"}

    target = CpuTarget(threads=1)
    assert target.path == path and not target.foreign
    assert "measured on this machine" in target.describe()
    space = get_space("hybrid", input=TensorType.map(3, 32, 32))
    spec = space.resolve(space.sample(np.random.default_rng(7)))
    per = target.per_layer_ms(spec)
    assert len(per) == len(spec.layers)
    assert target.latency_ms(spec) == pytest.approx(sum(per))
    # a calibrated layer of the table is returned as measured
    entry = cal.table.entries[0]
    assert Calibration.load(path).table.layer_ms(entry.layer) == entry.ms

    # running it again resumes: the layers already measured are kept, not measured again
    again, _ = calibrate(cfg, log=lambda s: None, guard=quiet_guard())
    assert len(again.table) == len(cal.table)
    assert again.table.layer_ms(entry.layer) == entry.ms

    # a second space merges into the same file, keeping the first
    cfg2 = CalibrationConfig(space="mobilenet", input="3x32x32", threads=1, enumerate_archs=2, networks=3,
                             layer_runs=1, net_runs=1, budget_s=60, measure_peak=False)
    cal2, path2 = calibrate(cfg2, log=lambda s: None, guard=quiet_guard())
    assert path2 == path and set(cal2.corrections) == {"hybrid", "mobilenet"}
    assert len(cal2.table) > len(cal.table)


def test_calibration_config_rejects_bad_values() -> None:
    with pytest.raises(NasError, match="networks"):
        CalibrationConfig(networks=2)
    with pytest.raises(NasError, match="batch"):
        CalibrationConfig(batch=0)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_measure_json(capsys) -> None:
    rc, out, _ = _run(["latency", "measure", NB201, "--input", "3x8x8", "--runs", "2", "--warmup", "1",
                       "--threads", "1", "--no-measure", "--format", "json"], capsys)
    assert rc == 0
    row = json.loads(out)
    assert row["runs"] == 2 and row["threads"] == 1 and row["median_ms"] > 0 and row["batch"] == 1
    assert row["predicted_ms"] > 0 and "latency_model" in row
    assert row["conditions"]["threads"] == 1 and row["latency_threads"] == 1 and isinstance(row["contended"], bool)


def test_cli_errors_are_one_line_exit_2(capsys) -> None:
    rc, _, err = _run(["latency", "measure", NB201, "--target", "pixel3"], capsys)
    assert rc == 2 and "measured elsewhere" in err and len(err.strip().splitlines()) == 1
    rc, _, err = _run(["latency", "calibrate", "--target", "gpu"], capsys)
    assert rc == 2 and "only --target cpu" in err
    rc, _, err = _run(["latency", "measure", NB201, "--target", "nope"], capsys)
    assert rc == 2 and "unknown target 'nope'" in err


def test_cli_targets_and_cost_latency(capsys) -> None:
    rc, out, _ = _run(["latency", "targets", "--format", "json"], capsys)
    assert rc == 0
    rows = {r["target"]: r for r in json.loads(out)}
    assert "roofline estimate: no measured table" in rows["gpu"]["model"]
    assert rows["pixel3"]["kind"] == "mobile" and rows["cpu"]["kind"] == "cpu"
    rc, out, _ = _run(["cost", "resnet18", "--target", "gpu", "--format", "json"], capsys)
    assert rc == 0
    cost = json.loads(out)
    assert cost["latency_ms"] == pytest.approx(get_target("gpu").latency_ms(reference_net("resnet18")))
    assert "roofline estimate" in cost["latency_model"]
