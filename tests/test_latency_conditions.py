"""Latency measurements that notice load, and layers measured on demand (structure, not timings)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import pytest
import torch

from nas.cli.main import main
from nas.hw_models.calibrate import Calibration, CalibrationConfig, calibrate, calibration_path
from nas.hw_models.conditions import Conditions, CpuUse, LoadError, LoadGuard, contended
from nas.hw_models.lookup_table import INTERPOLATED, MEASURED
from nas.hw_models.on_demand import cache_path
from nas.hw_models.targets import CpuTarget
from nas.searchspace import TensorType
from nas.searchspace.reference import reference_net


@pytest.fixture(autouse=True)
def _private_nas_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NAS_HOME", str(tmp_path))
    monkeypatch.delenv("NAS_THREADS", raising=False)


def fake_guard(others: list[float], wait_s: float = 0.0, sample: float = 0.0) -> LoadGuard:
    """A guard whose blocks see ``others`` busy cores in turn (then 0), on a 2-core machine."""
    seq = list(others)

    @contextlib.contextmanager
    def observe(t: int):
        out: list[Conditions] = []
        yield out
        o = seq.pop(0) if seq else 0.0
        out.append(Conditions(t, o + t, o, 2, torch.__version__, "2026-01-01T00:00:00+00:00"))

    return LoadGuard(1, wait_s=wait_s, observe=observe, sample=lambda s: sample, poll_s=0.01)


def test_contention_threshold_on_two_cores() -> None:
    # 1 thread on 2 cores needs 1.5 cores left: another process using more than half a core distorts it
    assert not contended(0.4, 1, 2) and contended(0.6, 1, 2) and contended(2.0, 1, 2)
    assert not contended(None, 1, 2) and not contended(6.0, 1, 16)
    assert not contended(0.05, 2, 2) and contended(0.3, 2, 2)  # all cores measuring: 0.1 core tolerated
    c = Conditions(1, 4.1, 1.9, 2, "2.13.0", "now")
    assert c.contended and Conditions.from_json(c.to_json()) == c


def test_cpu_use_sees_a_busy_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<3: pass"])
    try:
        time.sleep(0.3)
        use = CpuUse().start()
        time.sleep(1.5)
        others = use.stop(threads=0)
    finally:
        child.kill()
    assert others is not None and others >= 0.5


def test_guard_remeasures_a_distorted_block_and_refuses_a_busy_machine() -> None:
    calls = []
    g = fake_guard([1.8])
    result, cond = g.run(lambda: calls.append(1) or 42, "layers")
    assert result == 42 and len(calls) == 2 and g.remeasured == 1 and not cond.contended

    busy = fake_guard([1.9, 1.9, 1.9], sample=1.9)
    with pytest.raises(LoadError) as e:
        busy.run(lambda: None, "layers 1-12")
    msg = str(e.value)
    assert "\n" not in msg and "layers 1-12" in msg and "1.9 of" in msg
    with pytest.raises(LoadError, match="refused"):
        fake_guard([], sample=1.5).before("calibration refused before it started")


CFG = dict(space="hybrid", input="3x32x32", threads=1, enumerate_archs=2, networks=3, layer_runs=1,
           net_runs=1, budget_s=60, measure_peak=False, passes=1)


def test_calibration_records_conditions_keeps_clean_entries_and_remeasures_loaded_ones() -> None:
    cal, path = calibrate(CalibrationConfig(**CFG), log=lambda s: None, guard=fake_guard([]))
    assert cal.table.entries and all(e.conditions is not None and e.trusted for e in cal.table.entries)
    assert all(n["conditions"]["threads"] == 1 for n in cal.networks)
    stored = Calibration.load(path)
    assert [e.conditions for e in stored.table.entries] == [e.conditions for e in cal.table.entries]

    # an entry taken under load is measured again by the next calibration; the clean ones are kept
    loaded = stored.table.entries[0]
    from dataclasses import replace
    stored.table.add(replace(loaded, ms=999.0, conditions=Conditions(1, 5.0, 1.9, 2, torch.__version__, "x")))
    stored.save(path)
    again, _ = calibrate(CalibrationConfig(**CFG), log=lambda s: None, guard=fake_guard([]))
    by_key = {e.key: e for e in again.table.entries}
    assert by_key[loaded.key].ms != 999.0 and by_key[loaded.key].trusted
    other = stored.table.entries[1]
    assert by_key[other.key].ms == other.ms  # kept, not re-measured

    # --remeasure (fresh) measures every layer again
    fresh, _ = calibrate(CalibrationConfig(**CFG, fresh=True), log=lambda s: None, guard=fake_guard([]))
    assert {e.key: e.conditions.at for e in fresh.table.entries} .keys() == by_key.keys()


def test_calibration_under_load_refuses_and_leaves_the_stored_table_alone() -> None:
    cal, path = calibrate(CalibrationConfig(**CFG), log=lambda s: None, guard=fake_guard([]))
    before = path.read_bytes()
    with pytest.raises(LoadError):
        calibrate(CalibrationConfig(**CFG, fresh=True), log=lambda s: None,
                  guard=fake_guard([1.9] * 50, sample=1.9))
    assert path.read_bytes() == before


def test_cli_calibrate_refuses_one_line_exit_2_under_load(capsys, monkeypatch) -> None:
    import nas.hw_models.conditions as cond_mod

    monkeypatch.setattr(cond_mod, "sample_others", lambda seconds=1.0: 1.95)
    rc = main(["latency", "calibrate", "--space", "hybrid", "--input", "3x32x32", "--wait", "0",
               "--networks", "3", "--archs", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "other processes used 1.9" in err[-1] and not calibration_path(1).exists()


def _tiny_calibration() -> None:
    calibrate(CalibrationConfig(**CFG), log=lambda s: None, guard=fake_guard([]))


def test_layers_missing_from_the_table_are_measured_on_demand_and_cached() -> None:
    _tiny_calibration()
    spec = reference_net("resnet18", input=TensorType.map(3, 32, 32))
    plain = CpuTarget(threads=1)
    before = plain.sources(spec)
    assert before[MEASURED] < len(spec.layers) and before[INTERPOLATED] + before["modelled"] > 0
    assert not cache_path(1).exists()  # without measure_on_demand nothing is measured

    t = CpuTarget(threads=1).measure_on_demand(guard=fake_guard([]))
    ms = t.latency_ms(spec)
    assert ms > 0 and t.sources(spec) == {MEASURED: len(spec.layers), INTERPOLATED: 0, "modelled": 0}
    stored = json.loads(cache_path(1).read_text())
    assert all(e["conditions"]["threads"] == 1 for e in stored["entries"])
    assert "1 thread" in t.describe()

    # another process (a new target) finds them in the cache and measures nothing
    mtime = cache_path(1).stat().st_mtime_ns
    again = CpuTarget(threads=1).measure_on_demand(guard=fake_guard([]))
    assert again.latency_ms(spec) == pytest.approx(ms)
    assert again.sources(spec)[MEASURED] == len(spec.layers) and cache_path(1).stat().st_mtime_ns == mtime


def test_on_demand_under_load_interpolates_and_stores_nothing() -> None:
    _tiny_calibration()
    spec = reference_net("mobilenetv2_100", input=TensorType.map(3, 32, 32))
    t = CpuTarget(threads=1).measure_on_demand(guard=fake_guard([1.9] * 10, sample=1.9))
    assert t.latency_ms(spec) > 0 and t.sources(spec)[MEASURED] < len(spec.layers)
    assert not cache_path(1).exists()


def test_cli_cost_no_measure_says_how_layers_were_predicted(capsys) -> None:
    _tiny_calibration()
    rc = main(["cost", "resnet18", "--input", "3x32x32", "--target", "cpu", "--no-measure", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["latency_threads"] == 1
    assert sum(out["latency_layers"].values()) == out["layers"] and out["latency_layers"][MEASURED] < out["layers"]
    assert not cache_path(1).exists()


def test_layers_timed_inside_their_network_cover_every_layer_with_its_layout() -> None:
    from nas.hw_models.in_context import measure_in_context
    from nas.hw_models.lookup_table import layer_key
    from nas.hw_models.targets import CpuTarget

    spec = reference_net("mobilenetv2_100", input=TensorType.map(3, 32, 32))
    table = CpuTarget(threads=1).calibration.table
    got = measure_in_context([spec], batch=1, runs=2, threads=1, guard=fake_guard([]), table=table, passes=1)
    keys = {layer_key(layer, 1, "fp32", lay) for layer, lay in zip(spec.layers, table.layouts(spec))}
    assert {e.key for e in got} == keys  # one entry per distinct (layer, input layout) of the network
    assert all(e.ms > 0 and e.trusted and e.conditions.threads == 1 for e in got)
