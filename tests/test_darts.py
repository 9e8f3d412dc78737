"""Differentiable search: mixed ops, the search networks, the bi-level loop (resume), expected costs, repair, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nas.errors import NasError
from nas.hw_models.budget import Budget
from nas.search.searchers.darts_engine import DartsConfig, DifferentiableSearch
from nas.searchspace.space import get_space
from nas.searchspace.spaces.nb201 import NB201Space
from nas.searchspace.tensor_type import TensorType
from nas.supernet.mixed import MixedOp, nb201_problem
from nas.training.datasets import DatasetSplits, Split


def _data(n: int = 8, shape=(3, 8, 8), classes: int = 10, seed: int = 0) -> DatasetSplits:
    g = torch.Generator().manual_seed(seed)

    def split(k):
        return Split(torch.randn((k, *shape), generator=g), torch.randint(0, classes, (k,), generator=g))

    return DatasetSplits("synthetic", split(n), split(n // 2), split(n // 2), TensorType.map(*shape), classes,
                         (0.0,) * shape[0], (1.0,) * shape[0])


def _tiny_problem(seed: int = 0):
    space = NB201Space(input=TensorType.map(3, 8, 8), channels=2, cells=1)
    torch.manual_seed(seed)
    return nb201_problem(space, 10, channels=2, cells=1)


def test_mixed_op_soft_sum_one_path_and_none():
    ops = [None, torch.nn.Identity(), torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)]
    m = MixedOp(ops)
    x = torch.randn(2, 3, 4, 4)
    w = torch.tensor([0.5, 0.3, 0.2])
    expected = 0.3 * x + 0.2 * ops[2](x)
    assert torch.allclose(m(x, w), expected, atol=1e-6)
    assert torch.allclose(m(x, w, index=1), 0.3 * x)
    assert float(m(x, w, index=0).abs().sum()) == 0.0
    with pytest.raises(NasError, match="3 candidates"):
        m(x, torch.ones(2))


def test_nb201_problem_points_and_derivation():
    prob = _tiny_problem()
    assert [p.gene for p in prob.points] == ["edge01", "edge02", "edge12", "edge03", "edge13", "edge23"]
    assert all(len(p.candidates) == 5 for p in prob.points)
    out = prob.net(torch.randn(2, 3, 8, 8), [torch.full((5,), 0.2)] * 6)
    assert out.shape == (2, 10)
    arch = prob.derive([3, 3, 1, 0, 2, 4])
    assert prob.space.to_string(arch) == ("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+"
                                          "|none~0|nor_conv_1x1~1|avg_pool_3x3~2|")


@pytest.mark.parametrize("method,order", [("darts", 1), ("darts", 2), ("gdas", 1), ("beta-darts", 1)])
def test_search_runs_and_is_deterministic(method, order):
    data = _data()
    cfg = DartsConfig(method=method, order=order, epochs=2, batch_size=4, a_lr=0.1, seed=3)
    outs = []
    for _ in range(2):
        prob = _tiny_problem()
        outs.append(DifferentiableSearch(prob.net, [5] * 6, data, cfg).run())
    a, b = outs
    assert a.choices == b.choices and a.probs == b.probs
    assert len(a.history) == 2 and a.peak_memory_mb > 0
    assert all(abs(sum(p) - 1.0) < 1e-5 for p in a.probs)
    # the logits moved away from uniform (an architecture step happened)
    assert max(max(p) for p in a.probs) > 0.2 + 1e-3


def test_killed_search_resumes_to_the_same_outcome(tmp_path):
    data = _data()
    cfg = DartsConfig(method="gdas", epochs=3, batch_size=4, a_lr=0.1, seed=1)
    full = DifferentiableSearch(_tiny_problem().net, [5] * 6, data, cfg).run()
    ck = tmp_path / "ck.pt"
    part = DifferentiableSearch(_tiny_problem().net, [5] * 6, data, cfg, checkpoint=ck).run(stop_after=1)
    assert len(part.history) == 1
    resumed = DifferentiableSearch(_tiny_problem(seed=9).net, [5] * 6, data, cfg, checkpoint=ck).run(resume=True)
    assert resumed.choices == full.choices and resumed.probs == full.probs and resumed.resumed_from == 1
    other = DartsConfig(method="gdas", epochs=4, batch_size=4, a_lr=0.1, seed=1)
    with pytest.raises(NasError, match="another search"):
        DifferentiableSearch(_tiny_problem().net, [5] * 6, data, other, checkpoint=ck).run(resume=True)


def test_beta_decay_pushes_toward_uniform():
    # with only the Beta-Decay term the gradient is softmax(α): the largest logit shrinks most
    data = _data()
    cfg = DartsConfig(method="beta-darts", epochs=2, batch_size=4, beta_max=1.0, seed=0)
    eng = DifferentiableSearch(_tiny_problem().net, [5] * 6, data, cfg)
    alphas = [torch.tensor([2.0, 0.0, 0.0, 0.0, 0.0], requires_grad=True)]
    reg, info = eng._arch_reg(alphas, epoch=1)
    reg.backward()
    assert info["beta_weight"] == 1.0
    assert torch.allclose(alphas[0].grad, torch.softmax(alphas[0].detach(), -1), atol=1e-6)


def test_nb201_expected_flops_exact_and_repair_meets_budget():
    from nas.search.searchers.darts_engine import SearchOutcome
    from nas.supernet.expected_cost import additive_table, exact_costs, repair_to_budget

    space = NB201Space()
    prob = nb201_problem(space, 10, channels=2, cells=1)
    table = additive_table(prob, "flops", None)
    costs = exact_costs(space, None)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ch = [int(rng.integers(5)) for _ in range(6)]
        assert table.at(ch) == costs(prob.derive(ch))["flops"]
    # expectation under one-hot distributions is the exact cost
    one_hot = [torch.nn.functional.one_hot(torch.tensor(k), 5).double() for k in ch]
    assert math.isclose(float(table.expected(one_hot)), costs(prob.derive(ch))["flops"], rel_tol=1e-9)
    all_conv = [3] * 6
    probs = [[0.01, 0.01, 0.01, 0.96, 0.01]] * 6
    out = SearchOutcome(all_conv, probs, [], 0.0, 0.0, 1)
    limit = costs(prob.derive(all_conv))["flops"] * 0.7
    arch, notes = repair_to_budget(space, prob.derive(all_conv), out, prob, [Budget("flops", limit, "x")], costs)
    assert costs(arch)["flops"] <= limit and "repaired" in notes[0]
    with pytest.raises(NasError, match="cannot be met"):
        repair_to_budget(space, prob.derive(all_conv), out, prob, [Budget("flops", 1.0, "1-flops")], costs)


def test_hybrid_problem_typed_points_and_exact_expected_flops():
    from nas.supernet.expected_cost import exact_costs, hybrid_table
    from nas.supernet.mixed_hybrid import hybrid_problem

    space = get_space("hybrid", input=TensorType.map(3, 64, 64), num_classes=10)
    torch.manual_seed(0)
    prob = hybrid_problem(space, 10, width_div=8, max_depth=1)
    genes = [p.gene for p in prob.points]
    assert genes[:4] == ["s1_mixer", "s1_depth", "s1_width", "s1_mlp"] and len(genes) == 16
    assert "mhsa" not in prob.points[0].candidates and "mhsa" in prob.points[8].candidates
    x = torch.randn(2, 3, 64, 64)
    w = [torch.full((len(p.candidates),), 1.0 / len(p.candidates)) for p in prob.points]
    assert prob.net(x, w).shape == (2, 10)
    table = hybrid_table(prob, "flops", None)
    costs = exact_costs(space, None)
    rng = np.random.default_rng(1)
    for _ in range(3):
        ch = [int(rng.integers(len(p.candidates))) for p in prob.points]
        arch = prob.derive(ch)
        if arch.genes.to_json() == {**prob.genes(ch)}:  # widths already nondecreasing
            assert table.at(ch) == costs(arch)["flops"]
    ch = [0] * 16
    assert table.at(ch) == costs(prob.derive(ch))["flops"]


def _cli(args, capsys):
    from nas.cli.main import main

    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_darts_needs_data_and_a_meetable_budget(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = _cli(["search", "--space", "nb201", "--strategy", "darts", "--no-progress", "--out", str(out)], capsys)
    assert code == 2 and "needs --data" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = _cli(["search", "--space", "nb201", "--strategy", "beta-darts", "--budget", "1M-flops",
                         "--data", "mnist5k", "--no-progress", "--out", str(out)], capsys)
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and "cannot be met" in errors[0] and "Traceback" not in err
    assert not out.exists()


def test_cli_darts_search_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _cli(["search", "--space", "nb201", "--strategy", "gdas", "--data", "mnist5k",
                            "--epochs", "1", "--option", "train_size=16", "--option", "valid_size=8",
                            "--option", "channels=2", "--option", "batch_size=8",
                            "--trials", "1", "--out", str(out), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(stdout)
    assert len(doc["pareto"]) == 1 and doc["summary"]["trials"] == 1
    summary = json.loads((out / "darts.json").read_text())
    assert summary["method"] == "gdas" and summary["epochs"] == 1 and len(summary["points"]) == 6
    assert (out / "darts_checkpoint.pt").is_file() and (out / "front.json").is_file()


def test_random_subset_draws_every_class():
    from nas.search.searchers.darts import random_subset

    d = _data(n=40, classes=4)
    ordered = Split(d.train.x[d.train.y.argsort()], d.train.y.sort().values)  # stored grouped by class
    from dataclasses import replace

    sub = random_subset(replace(d, train=ordered), 12, 5)
    assert len(sub.train) == 12 and len(sub.valid) == 5
    assert len(set(sub.train.y.tolist())) >= 3


@pytest.mark.parametrize("args,match", [
    (["bench", "nb201-darts", "--method", "enas"], "--method 'enas' not allowed"),
    (["bench", "nb201-darts", "--seeds", "0"], "--seeds 0 not allowed"),
    (["search", "--space", "nb201", "--strategy", "gdas", "--data", "mnist5k", "--option", "order=2"],
     "order=2 applies to darts"),
    (["search", "--space", "nb201", "--strategy", "darts", "--data", "mnist5k", "--option", "a_lr=-1"],
     "a_lr=-1"),
    (["search", "--space", "resnet", "--strategy", "darts", "--data", "mnist5k"], "not 'resnet'"),
])
def test_cli_bad_darts_inputs_are_one_line_errors(args, match, tmp_path, capsys):
    out = tmp_path / "run"
    extra = ["--no-progress", "--out", str(out)] if args[0] == "search" else []
    code, _, err = _cli(args + extra, capsys)
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and match in errors[0] and "Traceback" not in err
    assert not out.exists()
