"""``nas search`` end to end: JSON output, run folder, architectures readable by ``nas cost``, resume,
and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nas.cli.main import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def hybrid_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    code = main(["search", "--budget", "600M-flops", "--target", "gpu", "--trials", "24", "--seed", "1",
                 "--out", str(out), "--format", "json", "--no-progress"])
    return code, out


def test_search_json_front_and_run_folder(hybrid_run, capsys) -> None:
    code, out = hybrid_run
    assert code == 0
    front = json.loads((out / "front.json").read_text())
    assert front["objectives"] == ["score", "latency_ms", "flops"]
    rows = front["pareto"]
    assert rows
    for r in rows:
        assert {"arch", "score", "flops", "params", "latency_ms"} <= set(r)
        assert r["flops"] <= 600e6
    for name in ("config.json", "trials.csv", "trials.json", "front.png", "study.db"):
        assert (out / name).is_file(), name
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["space"] == "hybrid" and cfg["budgets"] == ["600M-flops"] and cfg["latency_model"]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 24 and set(trials.state) <= {"complete", "failed", "infeasible"}
    assert (trials.state == "complete").sum() >= 12


def test_front_architectures_are_read_by_nas_cost(hybrid_run, capsys) -> None:
    _, out = hybrid_run
    rows = json.loads((out / "front.json").read_text())["pareto"]
    for r in rows[:3]:
        code, text, _ = _run(capsys, "cost", r["arch"], "--target", "gpu", "--format", "json")
        assert code == 0
        cost = json.loads(text)
        assert cost["flops"] == r["flops"] and cost["params"] == r["params"]
        assert cost["latency_ms"] == pytest.approx(r["latency_ms"], rel=1e-9)


def test_search_json_stdout_is_one_object(tmp_path, capsys) -> None:
    code, text, err = _run(capsys, "search", "--space", "resnet", "--trials", "8", "--out", str(tmp_path / "r"),
                           "--format", "json", "--strategy", "random", "--budget", "2G-flops")
    assert code == 0
    obj = json.loads(text)
    assert obj["space"] == "resnet" and obj["strategy"] == "random" and isinstance(obj["pareto"], list)
    assert "budget 2G-flops" in err  # how the budget was read goes to stderr


def test_cli_resume_continues_to_the_uninterrupted_trials(tmp_path, capsys) -> None:
    common = ["search", "--space", "resnet", "--strategy", "evolution", "--option", "population=4",
              "--option", "sample_size=2", "--seed", "3", "--no-progress", "--format", "json"]
    assert _run(capsys, *common, "--trials", "6", "--out", str(tmp_path / "a"))[0] == 0
    assert _run(capsys, *common, "--trials", "12", "--out", str(tmp_path / "a"), "--resume")[0] == 0
    assert _run(capsys, *common, "--trials", "12", "--out", str(tmp_path / "b"))[0] == 0
    a = pd.read_csv(tmp_path / "a" / "trials.csv")
    b = pd.read_csv(tmp_path / "b" / "trials.csv")
    assert list(a.digest) == list(b.digest) and len(a) == 12


def test_new_run_into_a_used_folder_is_refused(tmp_path, capsys) -> None:
    args = ["search", "--space", "resnet", "--trials", "4", "--out", str(tmp_path / "a"), "--no-progress"]
    assert _run(capsys, *args)[0] == 0
    code, _, err = _run(capsys, *args)
    assert code == 2 and "already holds a search; pass --resume" in err and err.count("\n") == 1


def test_resume_with_another_seed_is_refused(tmp_path, capsys) -> None:
    args = ["search", "--space", "resnet", "--trials", "4", "--out", str(tmp_path / "a"), "--no-progress"]
    assert _run(capsys, *args)[0] == 0
    code, _, err = _run(capsys, *args, "--resume", "--seed", "5")
    assert code == 2 and "cannot resume with a different configuration: seed: stored 0, now 5" in err


def test_unmeetable_budget_is_one_line(tmp_path, capsys) -> None:
    code, _, err = _run(capsys, "search", "--space", "nb201", "--budget", "1M-flops", "--out", str(tmp_path / "x"),
                        "--no-progress")
    assert code == 2
    assert err.count("\n") <= 2 and "error: budget 1M-flops cannot be met by space 'nb201' at input 3x32x32: " \
        "its smallest architecture has" in err


@pytest.mark.parametrize("argv,msg", [
    (["--strategy", "tpee"], "unknown searcher 'tpee'"),
    (["--objectives", "score:up"], "direction 'up' not allowed"),
    (["--budget", "600M"], "bad budget '600M'"),
    (["--objectives", "score,latency"], "a latency objective or budget needs --target"),
    (["--option", "population"], "expected KEY=VALUE"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, msg) -> None:
    code, _, err = _run(capsys, "search", "--out", str(tmp_path / "x"), "--no-progress", *argv)
    assert code == 2 and msg in err and err.strip().count("\n") == 0
