"""NAS-Bench-201 latency on the HELP devices: the device targets and the few-shot predictor (real data)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from _benchmark_data import load_benchmark

from nas.cli.main import main
from nas.errors import NasError
from nas.hw_models.nb201_latency import (
    DEVICES,
    DevicePredictor,
    HelpLatencyData,
    benchmark,
    design_samples,
    load_help_data,
)
from nas.hw_models.targets import get_target
from nas.searchspace import TensorType, get_space
from nas.searchspace.reference import reference_net


@pytest.fixture(scope="module")
def data() -> HelpLatencyData:
    """The HELP CSV; missing data skips locally and fails under CI=true."""
    return load_benchmark(load_help_data)


def test_data_shape_and_known_values(data: HelpLatencyData) -> None:
    assert data.ms.shape == (15625, 27) and data.devices == DEVICES
    # values quoted in the data's SOURCE.md (HW-NAS-Bench README values for arch 0 and 1)
    assert data.ms[0, data.column("raspi4")] == pytest.approx(10.481976820010459, rel=1e-12)
    assert data.ms[1, data.column("pixel3")] == pytest.approx(17.2381, rel=1e-9)


def test_device_target_returns_the_measured_cell(data: HelpLatencyData) -> None:
    space = get_space("nb201")
    arch_string = data.arch_strings[1]
    spec = space.resolve(space.parse_string(arch_string))
    target = get_target("pixel3")
    assert target.latency_ms(spec) == pytest.approx(17.2381, rel=1e-9)
    per = target.per_layer_ms(spec)
    assert len(per) == len(spec.layers) and min(per) >= 0 and sum(per) == pytest.approx(17.2381, rel=1e-9)
    gpu32 = get_target("2080ti_32")
    assert gpu32.latency_ms(spec) == pytest.approx(data.ms[1, data.column("2080ti_32")], rel=1e-12)
    with pytest.raises(NasError, match="batch 32 only"):
        gpu32.latency_ms(spec, batch=1)


def test_device_target_rejects_other_networks(data: HelpLatencyData) -> None:
    with pytest.raises(NasError, match="covers NB201 cells only"):
        get_target("raspi4").latency_ms(reference_net("resnet18"))
    space = get_space("nb201", input=TensorType.map(3, 64, 64))
    spec = space.resolve(space.sample(np.random.default_rng(0)))
    with pytest.raises(NasError, match="covers NB201 cells only"):
        get_target("fpga").latency_ms(spec)


def test_predictor_never_reads_the_device_column(data: HelpLatencyData) -> None:
    """Parity: corrupting the target device's own column leaves the predictions unchanged."""
    j = data.column("gold_6226")
    idx = design_samples(data, "gold_6226", 10, np.random.default_rng(0))
    y = data.ms[idx, j].copy()
    bad = data.ms.copy()
    bad[:, j] = bad[:, j][::-1]
    corrupted = replace(data, ms=bad)
    a = DevicePredictor(data, "gold_6226").fit(idx, y).predict()
    b = DevicePredictor(corrupted, "gold_6226").fit(idx, y).predict()
    assert np.array_equal(a, b)
    assert np.array_equal(design_samples(corrupted, "gold_6226", 10, np.random.default_rng(0)), idx)


def test_design_is_seeded_and_distinct(data: HelpLatencyData) -> None:
    for design in ("dopt", "random"):
        a = design_samples(data, "pixel3", 10, np.random.default_rng(3), design)
        b = design_samples(data, "pixel3", 10, np.random.default_rng(3), design)
        assert np.array_equal(a, b) and len(set(a.tolist())) == 10
    with pytest.raises(NasError, match="design"):
        design_samples(data, "pixel3", 10, np.random.default_rng(0), "greedy")


def test_ten_samples_rank_tuned_devices_well(data: HelpLatencyData) -> None:
    """With 10 cells of a GPU or Xeon device, the other 15,615 are ranked with Spearman >= 0.96."""
    rows = benchmark(data, 10, seed=0, devices=["1080ti_1", "titan_rtx_32", "gold_6226", "silver_4210r"])
    per = {r["device"]: r for r in rows}
    for d in ("1080ti_1", "titan_rtx_32", "gold_6226", "silver_4210r"):
        assert per[d]["held_out"] == 15615
        assert per[d]["spearman"] >= 0.96, per[d]
        assert per[d]["mape"] < 0.06, per[d]
    assert per["mean"]["spearman"] == pytest.approx(np.mean([per[d]["spearman"] for d in DEVICES if d in per]))


def test_cli_bench_json_rows(data: HelpLatencyData, capsys) -> None:
    rc = main(["bench", "nb201-latency", "--samples", "10", "--devices", "fpga,2080ti_1", "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0
    rows = json.loads(out)
    assert [r["device"] for r in rows][:2] == ["fpga", "2080ti_1"]
    for r in rows:
        assert {"device", "samples", "spearman", "mape"} <= set(r) and r["samples"] == 10
    assert main(["bench", "nb201-latency", "--devices", "tpu"]) == 2
