"""`nas score` and `nas bench nb201-predictors` as a user runs them: JSON output, one-line errors (exit 2)."""

from __future__ import annotations

import json
import math

import pytest
from _benchmark_data import benchmark_file

from nas.cli.main import main

GOOD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and "Traceback" not in cap.err
    return cap.err


def test_score_json_gives_each_proxy(capsys) -> None:
    from nas.predictors.proxies import compute
    from nas.resolve_arg import resolve_arch_argument

    assert main(["score", GOOD, "--input", "3x8x8", "--proxy", "synflow", "--proxy", "params", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    spec, _ = resolve_arch_argument(GOOD, None, "3x8x8")
    assert out["scores"] == compute(["synflow", "params"], spec)
    assert out["data"] == "random" and out["batch_size"] is None and math.isfinite(out["scores"]["synflow"])


def test_score_with_data_uses_a_dataset_minibatch(capsys) -> None:
    assert main(["score", GOOD, "--input", "3x8x8", "--proxy", "naswot", "--data", "digits", "--batch-size", "4",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data"] == "digits" and out["batch_size"] == 4 and math.isfinite(out["scores"]["naswot"])


@pytest.mark.parametrize("argv, message", [
    (["--proxy", "nope"], "unknown proxy 'nope'; allowed: deepmad, epe_nas"),
    (["--proxy", "snip", "--batch-size", "1"], "--batch-size 1 not allowed; give an integer >= 2"),
    (["--proxy", "deepmad"], "DeepMAD has no entropy term for op 'nb201_cell'"),
    (["--proxy", "snip", "--data", "nope"], "unknown dataset 'nope'"),
])
def test_score_bad_input_is_one_line(capsys, argv, message) -> None:
    assert message in _error(capsys, ["score", GOOD, "--input", "3x8x8", *argv])


@pytest.mark.parametrize("argv, message", [
    (["--predictor", "xgb"], "unknown predictor 'xgb'; allowed: gbdt, gnn, gp, mlp, rf"),
    (["--predictor", "rf:adjacency", "--benchmark", "nb101"], "unknown encoding 'adjacency'"),
    (["--train-size", "0"], "--train-size 0 not allowed"),
    (["--seeds", "0"], "--seeds must be at least 1, got 0"),
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--benchmark", "nb101", "--dataset", "cifar100"], "--benchmark nb101 has CIFAR-10 only"),
])
def test_bench_predictors_bad_input_is_one_line(capsys, argv, message) -> None:
    assert message in _error(capsys, ["bench", "nb201-predictors", *argv])


def test_bench_predictors_json_rows_on_nb101(capsys) -> None:
    benchmark_file("nas_bench_suite_zero_samples/zc_nasbench101.json")
    assert main(["bench", "nb201-predictors", "--benchmark", "nb101", "--predictor", "rf:zc", "--train-size", "20",
                 "--seeds", "2", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1
    r = rows[0]
    assert (r["predictor"], r["encoding"], r["dataset"], r["train_size"], r["seeds"]) == ("rf", "zc", "cifar10", 20, 2)
    assert 0.2 < r["kendall_tau"] < 1.0 and r["spearman"] > r["kendall_tau"]  # stored proxies rank NB101 fairly
    assert 0.0 <= r["precision_at_top5pct"] <= 1.0


def test_search_with_bananas_bad_option_is_one_line(capsys, tmp_path) -> None:
    err = _error(capsys, ["search", "--space", "nb201", "--strategy", "bananas", "--option", "acquisition=pi",
                          "--score", "params", "--trials", "3", "--out", str(tmp_path / "run")])
    assert "acquisition 'pi' not allowed" in err
    assert not (tmp_path / "run" / "study.db").exists()
