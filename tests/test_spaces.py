"""Every registered search space: sampling, building, costs against torch, and the SearchSpace contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
import torch

from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.searchspace import SPACES, Architecture, TensorType, get_space, load_architecture, save_architecture
from nas.testing import run_forward, tiny_spec
from nas.testing.spaces import small_input

SPACE_NAMES = SPACES.names()
SAMPLES = 50
TRACED = 6


def _samples(space, seed: int, n: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def _inactive(space, a: Architecture) -> set[str]:
    return set(space.inactive(a.genes)) if hasattr(space, "inactive") else set()


def _meaningful_diff(space, a: Architecture, b: Architecture) -> list[str]:
    off = _inactive(space, a) | _inactive(space, b)
    return [k for k in a.genes if a[k] != b[k] and k not in off]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny networks run faster on one thread (and do not stall on a CPU shared with other jobs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=SPACE_NAMES)
def space_and_samples(request) -> Iterator[tuple]:
    space = get_space(request.param)
    yield space, _samples(space, 0, SAMPLES)


def test_expected_spaces_registered() -> None:
    assert {"nb201", "hybrid", "mobilenet", "resnet"} <= set(SPACE_NAMES)


def test_samples_resolve_build_and_run(space_and_samples, one_thread) -> None:
    """50 seeded samples resolve, build with real weights (the analytic params) and run a forward pass
    at 64² (32² for nb201) to the class logits, at tiny width (``nas.testing.tiny_spec``)."""
    space, archs = space_and_samples
    inp = small_input(space)
    torch.manual_seed(0)
    for a in archs:
        spec = tiny_spec(space, a, inp)
        params, _, shape = run_forward(spec)
        assert shape == (1, spec.output.channels) and spec.output.channels == min(space.num_classes, 10)
        assert params == analytic_costs(spec).params, a


def test_analytic_macs_equal_traced(space_and_samples, one_thread) -> None:
    """torch's flop counter sees every MAC except the ops' declared ``uncounted_macs`` (scans, FFTs)."""
    space, archs = space_and_samples
    inp = small_input(space)
    for a in archs[:TRACED]:
        spec = tiny_spec(space, a, inp)
        counted = sum(layer.macs() - layer.spec.uncounted_macs(layer.in_type, layer.hp) for layer in spec.layers)
        _, traced, shape = run_forward(spec, count=True)
        assert traced == counted and shape == (1, spec.output.channels), a


def test_contains_mutate_neighbors(space_and_samples) -> None:
    space, archs = space_and_samples
    rng = np.random.default_rng(1)
    for a in archs[:10]:
        assert space.contains(a)
        m = space.mutate(a, rng)
        assert m != a and space.contains(m)
        assert len(_meaningful_diff(space, a, m)) == 1, (a.genes, m.genes)
    for a in archs[:3]:
        ns = space.neighbors(a)
        assert ns and len(set(ns)) == len(ns) and a not in ns
        for n in ns:
            assert space.contains(n)
            assert len(_meaningful_diff(space, a, n)) == 1
    assert not space.contains(Architecture(space.name, {}))
    assert not space.contains(Architecture("another_space", archs[0].genes))


def test_encode_fixed_length_and_distinct(space_and_samples) -> None:
    space, archs = space_and_samples
    codes = [space.encode(a) for a in archs]
    assert len({c.shape for c in codes}) == 1 and codes[0].ndim == 1
    assert all(((c >= 0) & (c <= 1)).all() for c in codes)
    assert len({c.tobytes() for c in codes}) == len(set(archs))


def test_seeded_sampling(space_and_samples) -> None:
    space, archs = space_and_samples
    assert _samples(space, 0, 5) == archs[:5]
    assert _samples(space, 1, 5) != archs[:5]


def test_to_graph_is_a_dag(space_and_samples) -> None:
    space, archs = space_and_samples
    g = space.to_graph(archs[0])
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g) and g.number_of_nodes() > 0
    assert all("op" in d for *_, d in g.edges(data=True)) or all("op" in d for _, d in g.nodes(data=True))


def test_json_round_trip(space_and_samples, tmp_path) -> None:
    space, archs = space_and_samples
    for a in archs[:5]:
        b = Architecture.from_json(json.loads(a.canonical_json()))
        assert b == a and b.digest() == a.digest() and space.contains(b)
    path = save_architecture(tmp_path / "arch.json", archs[0], **space.config())
    loaded, cfg = load_architecture(path)
    assert loaded == archs[0] and cfg["input"] == space.config()["input"]


def test_digest_is_stable_literal() -> None:
    nb = get_space("nb201")
    a = nb.parse_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                        "skip_connect~2|")
    assert a.canonical_json() == ('{"genes":{"edge01":"nor_conv_3x3","edge02":"nor_conv_3x3","edge03":"skip_connect",'
                                  '"edge12":"avg_pool_3x3","edge13":"nor_conv_3x3","edge23":"skip_connect"},'
                                  '"space":"nb201"}')
    assert a.digest() == DIGEST_NB201
    assert _samples(get_space("hybrid"), 7, 1)[0].digest() == DIGEST_HYBRID_SEED7


DIGEST_NB201 = "736f0d5b93f84c2d"
DIGEST_HYBRID_SEED7 = "8ab8d6f2f443c3cc"  # also pins the sampler: same seed, same architecture


# -- hybrid --------------------------------------------------------------------------------------

def test_hybrid_cost_range_at_224() -> None:
    """Smallest network well under a 600M-flops budget; samples span ~100M to a few G."""
    space = get_space("hybrid")
    smallest = {d.name: "identity" if d.name.endswith("mixer") else d.choices[0] for d in space.dims}
    assert analytic_costs(space.resolve(space.make(**smallest))).flops == 99_805_184
    flops = np.array([analytic_costs(space.resolve(a)).flops for a in _samples(space, 0, 200)])
    assert flops.min() < 300e6 and flops.max() > 3e9
    assert 0.1 < (flops <= 600e6).mean() < 0.5


def test_hybrid_covers_every_family_and_adapts_window() -> None:
    from nas.searchspace.spaces.hybrid import MIXERS

    space = get_space("hybrid")
    assert {m.family for m in MIXERS.values()} == {"conv", "attention", "ssm", "mlp", "spectral", "paramfree"}
    genes = {**{f"s{s}_mixer": "window_attention" for s in range(1, 5)},
             **{f"s{s}_depth": 1 for s in range(1, 5)}, "s1_width": 64, "s2_width": 128, "s3_width": 256,
             "s4_width": 512, **{f"s{s}_mlp": 4 for s in range(1, 5)}}
    a = space.make(**genes)
    def windows(spec):
        return [layer.hp["mixer_hp"]["window"] for layer in spec.layers if layer.op == "metaformer"]
    heads = [layer.hp["mixer_hp"]["heads"] for layer in space.resolve(a).layers if layer.op == "metaformer"]
    assert windows(space.resolve(a)) == [7, 7, 7, 7] and heads == [2, 4, 8, 16]
    assert windows(space.resolve(a, TensorType.map(3, 64, 64))) == [4, 4, 4, 2]
    layers = [layer.op for layer in space.resolve(a).layers]
    assert layers.count("map_to_seq") == 1 and layers.count("seq_to_map") == 0  # downsample and head take SEQ
    with pytest.raises(NasError, match="no window"):
        space.resolve(a, TensorType.map(3, 96, 96))   # grid 24, 12, 6, 3: no allowed window divides 3


def test_hybrid_rejects_decreasing_widths() -> None:
    space = get_space("hybrid")
    a = _samples(space, 0, 1)[0]
    bad = a.replace(s1_width=96, s2_width=64)
    assert not space.contains(bad)


# -- mobilenet -----------------------------------------------------------------------------------

def test_mobilenet_size_counts_distinct_networks() -> None:
    space = get_space("mobilenet")
    assert space.size() == (9 ** 2 + 9 ** 3 + 9 ** 4) ** 5 == 21_758_655_492_572_485_851


def test_mobilenet_unused_genes_are_canonical() -> None:
    space = get_space("mobilenet")
    a = _samples(space, 3, 1)[0]
    stage = next(s for s in range(1, 6) if a[f"d{s}"] < 4)
    d = a[f"d{stage}"]
    assert a[f"k{stage}_4"] == 3 and a[f"e{stage}_4"] == 3
    with pytest.raises(NasError, match=f"gene k{stage}_4=7 carries no meaning"):
        space.validate(a.replace(**{f"k{stage}_4": 7}))
    # dropping a block resets its genes; adding one brings it in at the smallest values
    shallower = [n for n in space.neighbors(a) if n[f"d{stage}"] == d - 1] if d > 2 else []
    deeper = [n for n in space.neighbors(a) if n[f"d{stage}"] == d + 1]
    for n in shallower:
        assert n[f"k{stage}_{d}"] == 3 and n[f"e{stage}_{d}"] == 3
    assert deeper and deeper[0][f"k{stage}_{d + 1}"] == 3
    # equal networks are equal architectures: the unused gene changes no layer, and canonical() removes it
    noisy = a.genes.replace(**{f"k{stage}_4": 7, f"e{stage}_4": 6})
    assert space.layers(noisy, space.input) == space.layers(a.genes, space.input)
    assert space.canonical(noisy) == a.genes


def test_mobilenet_largest_and_smallest_costs() -> None:
    space = get_space("mobilenet")
    big = space.canonical({d.name: d.choices[-1] for d in space.dims})
    small = space.canonical({d.name: d.choices[0] for d in space.dims})
    cb = analytic_costs(space.resolve(space.make(**big)))
    cs = analytic_costs(space.resolve(space.make(**small)))
    assert (cb.flops, cb.params) == (566_170_656, 7_666_040)
    assert (cs.flops, cs.params) == (121_278_672, 3_412_072)


# -- resnet --------------------------------------------------------------------------------------

def test_resnet_expresses_deepmad_r50() -> None:
    from nas.searchspace.spaces.resnet import deepmad_r50_genes

    space = get_space("resnet")
    a = space.make(**deepmad_r50_genes())
    spec = space.resolve(a)
    c = analytic_costs(spec)
    assert (c.flops, c.params) == (4_042_761_408, 25_441_144)
    # TinyNAS publishes 24.21 M: its count leaves out the classifier (1232·1000 + 1000)
    assert c.params - (1232 * 1000 + 1000) == 24_208_144
    assert len([l for l in spec.layers if l.op == "resnet_bottleneck"]) == 1 + 11 + 12 + 13 + 15
    small = space.resolve(a, TensorType.map(3, 64, 64))
    assert run_forward(small, count=True) == (c.params, analytic_costs(small).flops, (1, 1000))


def test_resnet_basic_blocks_use_mid() -> None:
    """A basic block is TinyNAS's ResKXKX: its ``mid`` gene is the width between its two k×k convs."""
    from nas.searchspace.spaces.resnet import deepmad_r50_genes

    space = get_space("resnet")
    genes = {**deepmad_r50_genes(), "s1_block": "resnet_basic"}
    a, b = space.make(**genes), space.make(**{**genes, "s1_mid": 64})
    first = space.resolve(a).layers[1]
    assert (first.name, first.op, first.hp["mid"]) == ("stage1.1", "resnet_basic", 40)
    # 32→(40)→128, k5, stride 2, 112² → 56²: conv1 3136·32·40·25 = 100,352,000;
    # conv2 3136·40·128·25 = 401,408,000; downsample 3136·32·128 = 12,845,056.
    # params 32,000 + 128,000 + 4,096 + BN 2·(40 + 128 + 128) = 164,688
    assert (first.macs(), first.params()) == (514_605_056, 164_688)
    assert space.resolve(b).layers[1].macs() > first.macs()
    assert space.size() == 7 * (2 * 255 * 64 * 3 * 16) ** 5 == 66_077_709_042_868_929_023_075_942_400_000


def test_resnet_prior_is_log_scaled_within_tinynas_rules() -> None:
    """Seeded samples keep TinyNAS's mutation rules, have log-scaled depths, and a fair share of them
    fits a 600M-FLOPs budget at 224²; the space itself is the whole box."""
    space = get_space("resnet")
    archs = _samples(space, 0, 200)
    for a in archs:
        widths = [a["stem"]] + [a[f"s{s}_out"] for s in range(1, 6)]
        assert all(out <= 4 * c_in for c_in, out in pairwise(widths)), a
        assert all(a[f"s{s}_mid"] <= a[f"s{s}_out"] for s in range(1, 6)) and a["s1_depth"] <= 3, a
    # log-uniform over 1..16: depth 1 takes log(1.5)/log(16) = 14.6 % of the draws (uniform: 6.25 %)
    depths = np.array([a[f"s{s}_depth"] for a in archs for s in range(2, 6)])
    assert 0.10 < (depths == 1).mean() < 0.19 and depths.max() > 12
    flops = np.array([analytic_costs(space.resolve(a)).flops for a in archs])
    assert 0.3 < (flops <= 600e6).mean() < 0.7 and flops.min() < 100e6 and flops.max() > 5e9
    outside = space.make(**{**archs[0].genes, "stem": 16, "s1_out": 2048, "s1_mid": 512, "s1_depth": 16})
    assert space.contains(outside) and space.contains(space.mutate(outside, np.random.default_rng(0)))


def test_resnet_width_mult_and_max_depth_shrink_its_box_and_default_to_the_whole_box() -> None:
    from nas.supernet.network import space_from_config

    whole = get_space("resnet")
    assert whole.config() == get_space("resnet", width_mult=1.0).config() and "width_mult" not in whole.config()
    choices = {d.name: d.choices for d in whole.dims}
    assert choices["s1_out"] == tuple(range(16, 2049, 8)) and choices["s3_depth"] == tuple(range(1, 17))
    small = get_space("resnet", width_mult=0.125, max_depth=2)
    choices = {d.name: d.choices for d in small.dims}
    assert choices["stem"] == (8,)  # 16..64 x 0.125, at least 8
    assert choices["s2_out"] == tuple(range(8, 257, 8)) and choices["s2_mid"] == tuple(range(8, 65, 8))
    assert choices["s4_depth"] == (1, 2) and choices["s4_kernel"] == (3, 5, 7)
    assert small.size() == 1 * (2 * 32 * 8 * 3 * 2) ** 5
    assert space_from_config(small.config()).dims == small.dims  # settings travel with results and checkpoints
    for a in _samples(small, 0, 50):
        assert small.contains(a) and all(a[f"s{s}_depth"] <= 2 for s in range(1, 6))
    with pytest.raises(NasError, match=r"resnet width_mult=1\.5 not allowed; give a number in \(0, 1\]"):
        get_space("resnet", width_mult=1.5)
    with pytest.raises(NasError, match="resnet max_depth=0 not allowed"):
        get_space("resnet", max_depth=0)
