"""DeepMAD: the score's fidelity to the released code, the entropy terms, the grid models' parity with
the NetSpec path, the program (SLSQP on resnet, MILP on hybrid), the evolutionary solver, the searcher."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.predictors.deepmad import DeepMADConfig, DeepMADScore, breakdown, fan_ins
from nas.predictors.score import SCORES
from nas.search.deepmad.costs import convention_costs
from nas.search.deepmad.design import design, verify
from nas.search.deepmad.ea import DeepMADEvolution
from nas.search.deepmad.hybrid import HybridModel
from nas.search.deepmad.problem import DeepMADConstraints
from nas.search.deepmad.program import ProgramStats, polish
from nas.search.deepmad.resnet import ResNetModel, ResNetRelaxation
from nas.searchspace import HParams, TensorType, get_space
from nas.searchspace.spaces.resnet import deepmad_r50_genes

R50_SETTING = DeepMADConstraints(flops=4.13e9, params=25.55e6, rho=0.3, convention="tinynas")
METRICS = ("score", "flops_analytic", "params_analytic", "flops_tinynas", "params_tinynas", "rho", "layers",
           "peak", "widths_ok")


@pytest.fixture(scope="module")
def resnet():
    return get_space("resnet")


@pytest.fixture(scope="module")
def hybrid():
    return get_space("hybrid")


@pytest.fixture(scope="module")
def r50(resnet):
    return resnet.resolve(resnet.make(**deepmad_r50_genes()))


# -- fidelity to TinyNAS's released DeepMAD-R50 numbers ---------------------------------------------------
def test_deepmad_r50_score_matches_the_released_code(r50) -> None:
    b = breakdown(r50)
    assert b.entropy_score == pytest.approx(48919.2769, abs=1e-3)
    assert b.penalty == pytest.approx(34.8065, abs=1e-3)          # 10·exp(std(12, 13, 15))
    assert b.score == pytest.approx(48884.4704, abs=1e-3)
    assert round(b.rho, 4) == 0.2998
    assert b.depths == (1, 11, 12, 13, 15)
    assert b.penalty_depths == (12, 13, 15)                       # the released searcher drops two entries
    assert b.layers == 157
    assert [(s.channels, s.positions) for s in b.stages] == [(32, 112 ** 2), (128, 56 ** 2), (512, 28 ** 2),
                                                             (1024, 14 ** 2), (1232, 7 ** 2)]


def test_deepmad_r50_costs_in_tinynas_convention(r50) -> None:
    tiny = convention_costs(r50, "tinynas")
    assert tiny["params"] == 24_208_144                          # 24.21 M, backbone only
    assert tiny["flops"] == 4_087_263_656                         # 4.087 G with BN and ReLU elements
    ours = analytic_costs(r50)
    assert ours.params == 24_208_144 + 1232 * 1000 + 1000         # + the Linear head
    assert ours.flops == 4_042_761_408


def test_paper_form_doubles_the_entropy_not_the_penalty(r50) -> None:
    released, paper = breakdown(r50), breakdown(r50, DeepMADConfig(form="paper", penalty_stages="released"))
    assert paper.entropy_score == pytest.approx(2 * released.entropy_score, rel=1e-12)
    assert paper.penalty == pytest.approx(released.penalty, rel=1e-12)
    assert paper.rho == pytest.approx(released.rho, rel=1e-12)
    assert DeepMADScore(penalty_stages="all").breakdown(r50).penalty == pytest.approx(
        10 * math.exp(float(np.std([1, 11, 12, 13, 15]))), rel=1e-12)


def test_score_is_registered_and_rejects_bad_options(r50) -> None:
    assert SCORES.get("deepmad")()(r50) == pytest.approx(48884.4704, abs=1e-3)
    with pytest.raises(NasError, match="form"):
        DeepMADScore(form="halved")
    with pytest.raises(NasError, match="5 stages"):
        DeepMADScore(alpha=(1, 8))(r50)


# -- entropy terms ----------------------------------------------------------------------------------------
def test_fan_ins_by_hand() -> None:
    m, s = TensorType.map(64, 8, 8), TensorType.seq(64, 4, 4)
    assert fan_ins("resnet_bottleneck", m, HParams(out=128, mid=32, kernel=5, stride=1)) == (64, 32 * 25, 32)
    assert fan_ins("resnet_basic", m, HParams(out=128, kernel=3, stride=2)) == (64 * 9, 128 * 9)
    assert fan_ins("conv", m, HParams(out=8, kernel=3, groups=4)) == (16 * 9,)
    assert fan_ins("mhsa", s, HParams(heads=2, qkv_bias=True)) == (64, 64)   # V and output projections
    assert fan_ins("s4d", s, HParams(state=16, bidirectional=False)) == (8.5, 64)   # mean causal reach (N+1)/2
    assert fan_ins("s4d", s, HParams(state=16, bidirectional=True)) == (16, 64)
    assert fan_ins("mamba", s, HParams(state=16, expand=2, conv_kernel=4)) == (64, 4, 8.5, 128)
    assert fan_ins("fft_filter", m, HParams()) == (64,)
    assert fan_ins("token_mlp", s, HParams(ratio=0.5)) == (16, 8)
    assert fan_ins("identity", m, {}) == ()
    assert fan_ins("pool_mixer", m, HParams(kernel=3)) == ()
    assert fan_ins("channel_shift", m, HParams(shift=1, groups_ratio=0.5)) == ()
    (g,) = fan_ins("inception_dw", m, HParams(square_kernel=3, band_kernel=11, branch_ratio=0.125))
    assert math.log(g) == pytest.approx(8 * (math.log(9) + 2 * math.log(11)) / 64)
    assert fan_ins("metaformer", s, HParams(mixer="mhsa", mixer_hp=HParams(heads=2), mlp_ratio=4)) == (64, 64, 64, 256)
    assert fan_ins("metaformer", m, HParams(mixer="dwconv", mixer_hp=HParams(kernel=7), mlp_ratio=2)) == (49, 64, 128)
    with pytest.raises(NasError, match="no entropy term"):
        fan_ins("nor_conv_3x3", m, {})


def test_every_hybrid_mixer_has_an_entropy_term(hybrid) -> None:
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(40):
        a = hybrid.sample(rng)
        seen |= {a.genes[f"s{s}_mixer"] for s in range(1, 5)}
        assert math.isfinite(breakdown(hybrid.resolve(a)).score)
    assert len(seen) >= 12


# -- grid models equal the NetSpec path ---------------------------------------------------------------------
def _check_parity(space, model, archs) -> None:
    batch = model.evaluate(np.stack([model.row(a) for a in archs]))
    for j, a in enumerate(archs):
        spec = space.resolve(a)
        b, c = breakdown(spec, model.config), analytic_costs(spec)
        one = model.evaluate(model.row(a)[None])
        for m in (one, {k: v[j: j + 1] for k, v in batch.items()}):
            assert m["score"][0] == pytest.approx(b.score, rel=1e-12)
            assert m["flops_analytic"][0] == c.flops and m["params_analytic"][0] == c.params
            assert m["rho"][0] == pytest.approx(b.rho, rel=1e-12) and m["layers"][0] == b.layers
            assert m["peak"][0] == c.peak_activation
            if space.name == "resnet":
                t = convention_costs(spec, "tinynas")
                assert m["flops_tinynas"][0] == t["flops"] and m["params_tinynas"][0] == t["params"]


def test_resnet_model_equals_netspec(resnet) -> None:
    rng = np.random.default_rng(0)
    model = ResNetModel(resnet)
    _check_parity(resnet, model, [resnet.sample(rng) for _ in range(25)] + [resnet.make(**deepmad_r50_genes())])


def test_resnet_model_equals_netspec_at_28px_and_in_paper_form() -> None:
    space = get_space("resnet", input=TensorType.map(1, 28, 28), num_classes=10)
    rng = np.random.default_rng(1)
    _check_parity(space, ResNetModel(space, DeepMADConfig(form="paper", penalty_stages="all")),
                  [space.sample(rng) for _ in range(10)])


def test_hybrid_model_equals_netspec(hybrid) -> None:
    rng = np.random.default_rng(0)
    _check_parity(hybrid, HybridModel(hybrid), [hybrid.sample(rng) for _ in range(25)])


def test_relaxation_equals_the_model_at_grid_points(resnet) -> None:
    model = ResNetModel(resnet)
    a = resnet.make(**deepmad_r50_genes())                   # widths change in every stage: all project
    g = a.genes
    z = np.array([math.log(g["stem"])] + [math.log(g[f"s{s}_{k}"]) for k in ("out", "mid", "kernel")
                                          for s in range(1, 6)]
                 + [g[f"s{s}_depth"] for s in range(1, 6)] + [1.0] * 5)
    relaxed = ResNetRelaxation(model).evaluate(z)
    exact = model.evaluate(model.row(a)[None])
    for k in ("flops_analytic", "params_analytic", "flops_tinynas", "rho", "layers", "peak"):
        assert relaxed[k][0] == pytest.approx(exact[k][0], rel=1e-9)
    # the relaxation smooths the depth std as sqrt(var + 1e-3): 10·exp(·) moves by ~0.014 here
    assert relaxed["score"][0] == pytest.approx(exact["score"][0], abs=0.05)


# -- the program ---------------------------------------------------------------------------------------------
def test_program_beats_the_published_design_in_the_r50_setting(resnet) -> None:
    d = design(resnet, R50_SETTING, rng=0)
    assert d.score >= 51_526   # the hill climb's figure; the published design scores 48,884.5
    v = d.verified
    assert v["flops_tinynas"] <= 4.13e9 and v["params_tinynas"] <= 25.55e6 and v["rho"] <= 0.3
    widths = [d.arch.genes["stem"]] + [d.arch.genes[f"s{s}_out"] for s in range(1, 6)]
    assert widths == sorted(widths)
    assert d.score == pytest.approx(breakdown(resnet.resolve(d.arch)).score, rel=1e-12)
    assert [s for s, _ in d.top] == sorted((s for s, _ in d.top), reverse=True)
    # a local optimum of the grid: no single or paired move improves it
    model = ResNetModel(resnet)
    _, score = polish(model, model.row(d.arch), R50_SETTING, ProgramStats())
    assert score == pytest.approx(d.score, rel=1e-12)


def test_program_is_seeded(resnet) -> None:
    cons = DeepMADConstraints(flops=600e6, rho=0.5)
    a, b = design(resnet, cons, rng=7), design(resnet, cons, rng=7)
    assert a.arch == b.arch and a.score == b.score


def test_milp_on_hybrid_beats_every_random_feasible_network(hybrid) -> None:
    cons = DeepMADConstraints(flops=600e6, rho=0.5)
    d = design(hybrid, cons)
    assert d.method == "milp" and d.verified["flops"] <= 600e6 and d.verified["rho"] <= 0.5
    model = HybridModel(hybrid)
    rng = np.random.default_rng(0)
    rows = np.stack([model.row(hybrid.sample(rng)) for _ in range(3000)])
    m = model.evaluate(rows)
    ok = cons.violation(m) <= 0
    assert ok.sum() > 50 and d.score >= m["score"][ok].max()
    assert d.relaxed_score == pytest.approx(d.score, rel=1e-6)   # the MILP's optimum is the grid's score


def test_tinynas_convention_only_for_cnns(hybrid) -> None:
    with pytest.raises(NasError, match="CNN"):
        design(hybrid, DeepMADConstraints(flops=600e6, convention="tinynas"))
    with pytest.raises(NasError, match="positive"):
        DeepMADConstraints(rho=-1)
    with pytest.raises(NasError, match="target"):
        DeepMADConstraints(latency_ms=2.0)


def test_impossible_budget_is_one_line_error(resnet) -> None:
    with pytest.raises(NasError, match="no feasible network"):
        design(resnet, DeepMADConstraints(flops=1e6))


def test_verify_names_the_broken_constraint(resnet) -> None:
    arch = resnet.make(**deepmad_r50_genes())
    with pytest.raises(NasError, match="rho"):
        verify(resnet, arch, DeepMADConstraints(rho=0.2), DeepMADConfig())


# -- the evolutionary solver ------------------------------------------------------------------------------
def test_evolution_is_seeded_and_feasible(resnet) -> None:
    model = ResNetModel(resnet)
    ea = DeepMADEvolution(model, R50_SETTING, population=32)
    a, b = ea.run(1500, np.random.default_rng(3)), ea.run(1500, np.random.default_rng(3))
    assert a.best_score == b.best_score and np.array_equal(a.best_row, b.best_row)
    m = model.evaluate(a.best_row[None])
    assert R50_SETTING.violation(m)[0] == 0.0 and a.best_score == m["score"][0]
    assert a.best_score > model.evaluate(ea.seed_row()[None])["score"][0]


# -- the searcher, through `nas search` ----------------------------------------------------------------------
def test_nas_search_deepmad_writes_the_design(tmp_path, capsys) -> None:
    from nas.cli.main import main

    out = tmp_path / "run"
    rc = main(["search", "--strategy", "deepmad", "--space", "resnet", "--input", "3x64x64", "--budget",
               "60M-flops", "--max-params", "3M", "--rho", "0.5", "--trials", "3", "--no-progress",
               "--format", "json", "--out", str(out)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    best = max(res["pareto"], key=lambda r: r["score"])
    assert best["flops"] <= 60e6 and best["params"] <= 3e6
    space = get_space("resnet", input=TensorType.map(3, 64, 64))
    from nas.searchspace import load_architecture

    arch, _ = load_architecture(best["arch"])
    spec = space.resolve(arch)
    assert breakdown(spec).rho <= 0.5 and breakdown(spec).score == pytest.approx(best["score"], rel=1e-9)
    assert convention_costs(spec, "tinynas")["flops"] <= 60e6          # "auto" = both conventions on resnet
    config = json.loads((out / "config.json").read_text())
    assert config["strategy_options"]["rho"] == 0.5 and "3M-params" in config["budgets"]


def test_latency_budget_is_met_on_the_target() -> None:
    from nas.hw_models.targets import get_target

    space = get_space("resnet", input=TensorType.map(3, 64, 64))
    target = get_target("gpu")
    free = design(space, DeepMADConstraints(flops=100e6, rho=0.5))
    budget = 0.8 * target.latency_ms(space.resolve(free.arch))
    d = design(space, DeepMADConstraints(latency_ms=budget, target="gpu", rho=0.5))
    assert d.verified["latency_ms"] <= budget
    assert target.latency_ms(space.resolve(d.arch)) == pytest.approx(d.verified["latency_ms"])
    assert d.flops_cap is not None and "FLOPs cap" in d.notes[0]


def test_searcher_asks_its_designs_in_order_and_runs_the_evolution(resnet) -> None:
    from nas.hw_models.budget import Budget
    from nas.search.searchers.registry import make_searcher

    budgets = [Budget.parse("600M-flops")]
    s = make_searcher("deepmad", resnet, 0, budgets=budgets, rho=0.5, top_k=3)
    asked = [s.ask() for _ in range(3)]
    assert asked == s.designs() and len({a.digest() for a in asked}) == 3
    with pytest.raises(NasError, match="no more designs"):
        s.ask()
    ea = make_searcher("deepmad", resnet, 0, budgets=budgets, rho=0.5, top_k=2, solver="evolution", candidates=800)
    best = ea.designs()[0]
    m = ResNetModel(resnet).evaluate(ResNetModel(resnet).row(best)[None])
    assert m["flops_analytic"][0] <= 600e6 and m["rho"][0] <= 0.5 and ea.report["candidates"] == 800
    with pytest.raises(NasError, match="solver"):
        make_searcher("deepmad", resnet, 0, solver="annealing")
