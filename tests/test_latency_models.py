"""Latency models on small synthetic data: roofline arithmetic, lookup table, learned correction, targets."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from nas.errors import NasError
from nas.hw_models.learned import FEATURES, LearnedCorrection, network_features, spec_layer_features
from nas.hw_models.lookup_table import LatencyTable, TableEntry, layer_key
from nas.hw_models.profiles import DeviceProfile, load_profile, profile_names
from nas.hw_models.roofline import Kernel, RooflineModel, layer_kernels
from nas.hw_models.targets import get_target, target_names
from nas.searchspace import OPS, TensorType, get_space, resolve_layers

#: A round-number device: 1 GFLOP/s... scaled so hand arithmetic is easy.
TOY = DeviceProfile(name="toy", kind="cpu", description="toy", peak_gflops={"fp32": 100.0}, bandwidth_gbs=10.0,
                    compute_efficiency=0.5, memory_efficiency=1.0, kernel_overhead_us=10.0, source="test")


def _conv_spec(c_in: int = 8, c_out: int = 16, size: int = 16, kernel: int = 3):
    return resolve_layers(TensorType.map(c_in, size), [("c", "conv", {"out": c_out, "kernel": kernel, "act": "relu"})])


def test_shipped_profiles_load_and_cover_required_devices() -> None:
    names = profile_names()
    assert {"h100_sxm", "a100_sxm", "rtx2080ti", "amd_epyc_2c"} <= set(names)
    kinds = {n: load_profile(n).kind for n in names}
    assert kinds["h100_sxm"] == "gpu" and kinds["amd_epyc_2c"] == "cpu"
    with pytest.raises(NasError, match="allowed: .*h100_sxm"):
        load_profile("tpu9000")


def test_roofline_conv_matches_hand_arithmetic() -> None:
    spec = _conv_spec()
    layer = spec.layers[0]
    model = RooflineModel(TOY)
    # conv 8->16, 3x3 on 16x16: MACs = 16*16*16*8*9; the conv op is one aggregate of 3 launches
    macs = 16 * 16 * 16 * 8 * 9
    assert layer.macs() == macs
    terms = model.layer_terms(layer)
    assert terms.kernels == 3
    assert terms.compute_ms == pytest.approx(2 * macs / (100e9 * 0.5) * 1e3, rel=1e-12)
    assert terms.memory_ms == pytest.approx(layer.bytes() / 10e9 * 1e3, rel=1e-12)
    assert terms.overhead_ms == pytest.approx(3 * 10e-3, rel=1e-12)
    assert terms.total_ms == pytest.approx(max(terms.compute_ms, terms.memory_ms) + terms.overhead_ms, rel=1e-12)
    assert model.latency_ms(spec) == pytest.approx(terms.total_ms, rel=1e-12)


def test_roofline_batch_scales_activations_not_weights() -> None:
    model = RooflineModel(TOY)
    k = Kernel(macs=1000, act_bytes=4000, weight_bytes=8000)
    c1, m1, o1 = model.kernel_ms(k, 1)
    c8, m8, o8 = model.kernel_ms(k, 8)
    assert c8 == pytest.approx(8 * c1)
    assert m1 == pytest.approx(12000 / 10e9 * 1e3) and m8 == pytest.approx((8 * 4000 + 8000) / 10e9 * 1e3)
    assert o1 == o8 == pytest.approx(0.01)


@pytest.mark.parametrize("name", [n for n, s in OPS.items() if callable(getattr(s, "parts", None))] + ["metaformer"])
def test_kernels_account_for_every_mac_and_byte(name: str) -> None:
    """Parity: the kernels the roofline charges add up to the op's closed-form MACs (and bytes for parts ops)."""
    spec = OPS.get(name)
    for t, hp in spec.examples():
        full, _ = spec.resolve(t, hp)
        layer = resolve_layers(t, [("x", name, full)]).layers[0]
        ks = layer_kernels(layer)
        assert sum(k.macs for k in ks) == spec.macs(t, full)
        if name != "metaformer":
            assert sum(k.act_bytes + k.weight_bytes for k in ks) == spec.bytes(t, full)


def test_mamba_roofline_is_a_fused_scan() -> None:
    """Mamba on the gpu roofline: six kernels (in_proj, conv1d+SiLU, x_proj, dt_proj, ONE scan, out_proj)
    whatever the sequence length, never a launch per token; at 56×56, D = 96 the layer costs well under
    a millisecond on an H100 (it was ~130 ms: 7 launches per token, 6 µs each)."""
    spec = OPS.get("mamba")
    model = RooflineModel(load_profile("h100_sxm"))
    for side in (8, 56):
        t = TensorType.seq(96, side, side)
        full, _ = spec.resolve(t, {})
        layer = resolve_layers(t, [("m", "mamba", full)]).layers[0]
        terms = model.layer_terms(layer)
        assert terms.kernels == 6
    assert terms.total_ms < 0.2


def _hybrid_specs(n: int, seed: int = 0, size: int = 64):
    space = get_space("hybrid", input=TensorType.map(3, size))
    rng = np.random.default_rng(seed)
    return [space.resolve(space.sample(rng)) for _ in range(n)]


def test_table_returns_measured_times_and_interpolates_by_roofline_ratio() -> None:
    """On a device whose every layer takes exactly 3x its roofline time, interpolation is exact."""
    model = RooflineModel(TOY)
    specs = _hybrid_specs(6)
    layers = {layer_key(l): l for s in specs[:4] for l in s.layers}
    table = LatencyTable({"id": "toy"}, model, [TableEntry(l, 1, "fp32", 3 * model.layer_terms(l).total_ms)
                                               for l in layers.values()])
    assert len(table) == len(layers)
    seen = specs[0].layers[0]
    assert table.layer_ms(seen) == pytest.approx(3 * model.layer_terms(seen).total_ms, rel=1e-12)
    for spec in specs[4:]:
        for layer in spec.layers:
            assert table.interpolate(layer) == pytest.approx(3 * model.layer_terms(layer).total_ms, rel=1e-9)
    # an op never measured falls back on the table-wide ratio
    cell = resolve_layers(TensorType.map(16, 8), [("n", "nb201_cell", {"edges": ("nor_conv_3x3",) * 6})]).layers[0]
    assert table.layer_ms(cell) == pytest.approx(3 * model.layer_terms(cell).total_ms, rel=1e-9)
    assert 0 < table.coverage(specs[5]) <= 1
    back = LatencyTable.from_json(json.loads(json.dumps(table.to_json())), model)
    assert back.latency_ms(specs[5]) == pytest.approx(table.latency_ms(specs[5]), rel=1e-12)


def test_table_interpolation_prefers_nearest_size() -> None:
    """A layer between two measured sizes gets a time between their (roofline-scaled) measurements."""
    model = RooflineModel(TOY)
    small, mid, big = (_conv_spec(size=s).layers[0] for s in (8, 16, 32))
    table = LatencyTable({"id": "toy"}, model, [TableEntry(small, 1, "fp32", 2 * model.layer_terms(small).total_ms),
                                               TableEntry(big, 1, "fp32", 4 * model.layer_terms(big).total_ms)])
    ratio = table.layer_ms(mid) / model.layer_terms(mid).total_ms
    assert 2 < ratio < 4
    with pytest.raises(NasError, match="bad time"):
        table.add(TableEntry(mid, 1, "fp32", -1.0))


def test_learned_correction_recovers_a_known_linear_device() -> None:
    """Networks whose time is 1.5x their table sum plus 0.3 ms: the fit predicts held-out ones within 1%."""
    model = RooflineModel(TOY)
    specs = _hybrid_specs(30, seed=1)
    rows = [spec_layer_features(s, [model.layer_terms(l).total_ms for l in s.layers],
                                [model.layer_terms(l) for l in s.layers]) for s in specs]
    X = np.stack([network_features(r) for r in rows])
    base = X[:, :7].sum(axis=1)
    y = 1.5 * base + 0.3
    corr = LearnedCorrection.fit(X[:20], y[:20], base="roofline", prior=1e-4)
    pred = corr.predict(X[20:])
    assert np.max(np.abs(pred - y[20:]) / y[20:]) < 0.01
    per = corr.per_layer(rows[25])
    assert len(per) == len(specs[25].layers)
    assert sum(per) == pytest.approx(float(corr.predict(X[25:26])[0]), rel=1e-9)
    assert min(corr.weights) >= 0
    # on the fitted networks the base alone is 1/1.5 of the truth; the correction beats it out of sample
    assert corr.report["base_mape"] > 0.3 and corr.report["loo_mape"] < 0.01 and corr.beats_base
    again = LearnedCorrection.from_json(json.loads(json.dumps(corr.to_json())))
    assert again.weights == corr.weights and len(again.weights) == len(FEATURES)
    with pytest.raises(NasError, match="at least 3"):
        LearnedCorrection.fit(X[:2], y[:2])


def test_registry_has_gpu_cpu_and_every_help_device() -> None:
    names = set(target_names())
    assert {"gpu", "cpu", "pixel3", "raspi4", "eyeriss", "fpga", "2080ti_32", "gold_6226"} <= names
    assert len([n for n in names if not n.startswith(("gpu", "cpu"))]) == 27
    gpu = get_target("gpu")
    assert "roofline estimate: no measured table" in gpu.describe()
    assert "h100" in gpu.describe().lower()
    spec = get_space("mobilenet").resolve(get_space("mobilenet").sample(np.random.default_rng(0)))
    per = gpu.per_layer_ms(spec)
    assert len(per) == len(spec.layers) and min(per) >= 0
    assert gpu.latency_ms(spec) == pytest.approx(sum(per))
    # batch 64 costs more than batch 1 but (weights read once) less than 64x
    assert gpu.latency_ms(spec) < gpu.latency_ms(spec, 64) < 64 * gpu.latency_ms(spec)
    with pytest.raises(NasError, match="unknown target 'tpu'.*allowed: .*gpu"):
        get_target("tpu")


def test_cpu_target_without_calibration_falls_back_to_roofline(tmp_path, monkeypatch) -> None:
    import nas.hw_models.calibrate as cal_mod

    monkeypatch.setenv("NAS_HOME", str(tmp_path))
    monkeypatch.setattr(cal_mod, "shipped_calibration_path", lambda: tmp_path / "absent.json")
    t = get_target("cpu")
    assert "roofline estimate: no CPU calibration found" in t.describe()
    spec = _conv_spec()
    assert t.latency_ms(spec) > 0


def test_profile_rejects_bad_values() -> None:
    with pytest.raises(NasError, match="compute_efficiency"):
        replace(TOY, compute_efficiency=1.5)
    with pytest.raises(NasError, match="unknown keys"):
        DeviceProfile.from_json({**TOY.to_json(), "color": "red"})


@pytest.mark.parametrize("shape,layout", [((1, 8, 5, 6), "0123"), ((2, 8, 5, 6), "0231"), ((1, 7, 4), "021"),
                                          ((3, 7, 4), "012")])
def test_layout_roundtrip(shape: tuple[int, ...], layout: str) -> None:
    from nas.hw_models.layout import layout_of, make_input

    x = make_input(shape, layout)
    assert tuple(x.shape) == shape and layout_of(x) == layout


def test_table_follows_layouts_through_a_network() -> None:
    """A layer measured on the layout its predecessor gives (channels-last) is looked up with that layout."""
    model = RooflineModel(TOY)
    spec = resolve_layers(TensorType.map(3, 16), [("a", "conv", {"out": 8}), ("b", "conv", {"out": 8})])
    a, b = spec.layers
    table = LatencyTable({"id": "toy"}, model, [TableEntry(a, 1, "fp32", 1.0), TableEntry(b, 1, "fp32", 5.0),
                                               TableEntry(b, 1, "fp32", 2.0, layout="0231")])
    assert table.layouts(spec) == ["0123", "0123"] and table.per_layer_ms(spec) == [1.0, 5.0]
    table.record_transition(a, 1, "fp32", "0123", "0231")
    assert table.layouts(spec) == ["0123", "0231"] and table.per_layer_ms(spec) == [1.0, 2.0]
    back = LatencyTable.from_json(json.loads(json.dumps(table.to_json())), model)
    assert back.per_layer_ms(spec) == [1.0, 2.0] and back.coverage(spec) == 1.0
