"""``nas analyze`` and ``nas.searchspace.analysis``: seeded sampling, exact costs, family histogram, CLI."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from nas.cli.main import main
from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.searchspace import (
    OPS,
    SPACES,
    Dimension,
    HParams,
    SearchSpace,
    TensorType,
    get_space,
    resolve_layers,
)
from nas.searchspace.analysis import (
    METRICS,
    Distribution,
    analyze_space,
    family_counts,
    has_constraints,
    layer_families,
    spec_costs,
)


class ToyConvSpace(SearchSpace):
    """Stem conv, then ``depth`` convs of one kernel and width. 3 × 2 × 2 = 12 architectures."""

    name = "toy_conv"
    default_input = TensorType.map(3, 8, 8)
    default_num_classes = 10

    def dimensions(self) -> Sequence[Dimension]:
        return [Dimension("width", (4, 8, 16)), Dimension("kernel", (1, 3)), Dimension("depth", (1, 2))]

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        out: list[tuple[str, str, Mapping[str, Any]]] = [("stem", "conv", {"out": 4, "stride": 2})]
        for i in range(genes["depth"]):
            out.append((f"block{i}", "conv", {"out": genes["width"], "kernel": genes["kernel"]}))
        return out


class ToyConstrainedSpace(ToyConvSpace):
    """The toy space without its widest, deepest networks (10 of 12 valid)."""

    name = "toy_constrained"

    def is_valid(self, genes: HParams) -> bool:
        return not (genes["width"] == 16 and genes["depth"] == 2)


def _toy_all(space: SearchSpace) -> list[dict[str, int]]:
    out = []
    for values in itertools.product(*(d.choices for d in space.dims)):
        genes = HParams(dict(zip((d.name for d in space.dims), values)))
        if space.is_valid(genes):
            out.append(spec_costs(space.resolve(space.make(**genes))))
    return out


def test_toy_flops_are_the_hand_count() -> None:
    space = ToyConvSpace()
    spec = space.resolve(space.make(width=8, kernel=3, depth=2))
    # stem: 4·3·9 MACs at 4×4; block0: 8·4·9 at 4×4; block1: 8·8·9 at 4×4
    assert spec_costs(spec)["flops"] == 16 * (4 * 3 * 9 + 8 * 4 * 9 + 8 * 8 * 9)
    assert spec_costs(spec)["params"] == (4 * 3 * 9 + 8) + (8 * 4 * 9 + 16) + (8 * 8 * 9 + 16)


def test_spec_costs_agree_with_analytic_costs() -> None:
    space = ToyConvSpace()
    for arch in [space.sample(np.random.default_rng(s)) for s in range(5)]:
        spec = space.resolve(arch)
        ours, ref = spec_costs(spec), analytic_costs(spec)
        assert (ours["flops"], ours["params"], ours["memory"], ours["bytes"], ours["peak_memory"]) == (
            ref.flops, ref.params, ref.activations, ref.bytes, ref.peak_activation)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    space = ToyConvSpace()
    a = analyze_space(space, 40, np.random.default_rng(7))
    b = analyze_space(space, 40, np.random.default_rng(7))
    c = analyze_space(space, 40, np.random.default_rng(8))
    assert a.rows == b.rows and a.families == b.families
    assert [r["digest"] for r in a.rows] != [r["digest"] for r in c.rows]


def test_distribution_spans_the_whole_small_space() -> None:
    space = ToyConvSpace()
    everything = _toy_all(space)
    result = analyze_space(space, 400, np.random.default_rng(0))
    for m in METRICS:
        d = result.distributions[m]
        assert d.min == min(r[m] for r in everything) and d.max == max(r[m] for r in everything)
        assert d.min <= d.p10 <= d.median <= d.p90 <= d.max
    assert result.size == 12 and not result.constrained and result.failures == 0
    assert len(result.frame()) == 400 and list(result.frame().columns) == ["digest", *METRICS]


def test_distribution_quantiles() -> None:
    d = Distribution.of(list(range(1, 11)))
    assert (d.min, d.max) == (1, 10)
    assert d.p10 == pytest.approx(1.9, abs=1e-12) and d.median == pytest.approx(5.5, abs=1e-12)
    assert d.p90 == pytest.approx(9.1, abs=1e-12) and d.mean == pytest.approx(5.5, abs=1e-12)
    with pytest.raises(NasError):
        Distribution.of([])


def test_constrained_space_never_samples_invalid_networks() -> None:
    space = ToyConstrainedSpace()
    assert has_constraints(space) and not has_constraints(ToyConvSpace())
    result = analyze_space(space, 300, np.random.default_rng(1))
    assert result.constrained and result.size == 12
    assert result.distributions["flops"].max == max(r["flops"] for r in _toy_all(space))
    assert result.to_dict()["size_before_constraints"] is True


def test_family_histogram_counts_every_layer() -> None:
    space = ToyConvSpace()
    result = analyze_space(space, 50, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    depths = [space.sample(rng)["depth"] for _ in range(50)]
    assert result.families == {"conv": sum(1 + d for d in depths)}


def test_mixer_block_counts_as_its_mixer_family() -> None:
    mixers = [name for name, spec in OPS.items() if spec.token_mixer]
    assert mixers, "the hybrid space needs registered token mixers"
    name = mixers[0]
    t, hp = next((t, hp) for t, hp in OPS.get(name).examples())
    spec = resolve_layers(t, [("b0", "metaformer", {"mixer": name, "mixer_hp": HParams(hp), "mlp_ratio": 2})])
    assert layer_families(spec.layers[0]) == [OPS.get(name).family]


class ToyGroupedSpace(ToyConvSpace):
    """Grouped convs (groups=4) after a 4-channel stem: width 6 does not resolve."""

    name = "toy_grouped"

    def dimensions(self) -> Sequence[Dimension]:
        return [Dimension("width", (4, 6, 8)), Dimension("depth", (1, 2))]

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        return [("stem", "conv", {"out": 4}), ("block", "conv", {"out": genes["width"], "groups": 4})]


def test_unresolvable_samples_are_counted_not_fatal() -> None:
    space = ToyGroupedSpace()
    rng = np.random.default_rng(5)
    bad = sum(space.sample(rng)["width"] == 6 for _ in range(60))
    result = analyze_space(space, 60, np.random.default_rng(5))
    assert 0 < bad < 60 and result.failures == bad and len(result.rows) == 60 - bad
    assert "groups=4" in result.first_failure and "block" in result.first_failure
    with pytest.raises(NasError, match="none of 3 samples resolves"):
        analyze_space(ToyConvSpace(input=TensorType.seq(3, 8)), 3, np.random.default_rng(0))


def test_nb201_cell_counts_its_six_edges() -> None:
    edges = ("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3")
    spec = resolve_layers(TensorType.map(16, 32, 32), [("cell", "nb201_cell", {"edges": edges})])
    assert sorted(layer_families(spec.layers[0])) == ["conv"] * 3 + ["paramfree"] * 3


SPACE_NAMES = ("hybrid", "mobilenet", "resnet", "nb201")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_cli_json_matches_the_library(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert name in SPACES.names()
    code, out, _ = _cli(capsys, "analyze", name, "--samples", "20", "--seed", "1", "--format", "json")
    assert code == 0
    d = json.loads(out)
    space = get_space(name)
    assert d["space"] == name and d["size"] == space.size() and d["samples"] == 20
    assert d["size_before_constraints"] is has_constraints(space)
    rng = np.random.default_rng(1)
    specs = [space.resolve(space.sample(rng)) for _ in range(20)]
    assert d["resolved"] == 20 and d["failures"] == 0
    flops = [analytic_costs(s).flops for s in specs]
    params = [analytic_costs(s).params for s in specs]
    assert (d["flops"]["min"], d["flops"]["max"]) == (min(flops), max(flops))
    assert (d["params"]["min"], d["params"]["max"]) == (min(params), max(params))
    assert d["flops"]["median"] == pytest.approx(float(np.median(flops)), rel=1e-12)
    assert set(d["memory"]) == {"min", "p10", "median", "p90", "max", "mean"}
    assert d["families"] == family_counts(specs)
    assert sum(d["families"].values()) >= sum(len(s.layers) for s in specs)


def test_nb201_size_is_exact_and_unconstrained(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "analyze", "nb201", "--samples", "5")
    assert code == 0
    assert "space nb201: 15,625 architectures, 6 genes, input 3x32x32" in out
    assert "before constraints" not in out


def test_table_says_before_constraints_for_a_constrained_space(capsys: pytest.CaptureFixture[str]) -> None:
    constrained = [n for n in SPACE_NAMES if has_constraints(get_space(n))]
    for name in constrained:
        code, out, _ = _cli(capsys, "analyze", name, "--samples", "3")
        assert code == 0 and f"{get_space(name).size():,} architectures (before constraints)" in out
        assert "median" in out and "family" in out


def test_input_changes_the_costs(capsys: pytest.CaptureFixture[str]) -> None:
    _, out32, _ = _cli(capsys, "analyze", "nb201", "--samples", "10", "--format", "json")
    _, out64, _ = _cli(capsys, "analyze", "nb201", "--samples", "10", "--input", "3x64x64", "--format", "json")
    a, b = json.loads(out32), json.loads(out64)
    assert b["input"] == "3x64x64"
    # every conv of an NB201 network scales with H·W; only the classifier (C·classes) does not
    assert a["flops"]["min"] < b["flops"]["min"] < 4 * a["flops"]["min"] + 1


@pytest.mark.parametrize("argv,needle", [
    (("analyze", "nb201", "--samples", "0"), "--samples must be at least 1, got 0"),
    (("analyze", "no_such_space"), "unknown space 'no_such_space'; allowed: "),
    (("analyze", "nb201", "--input", "3x32"), "bad input size '3x32'"),
])
def test_bad_input_is_one_line_exit_2(argv: tuple[str, ...], needle: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1
