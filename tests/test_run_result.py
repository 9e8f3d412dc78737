"""``search()`` returns a ``RunResult`` equal to what the run folder holds, and ``nas search`` prints it
without reading the folder back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from nas.search.app.config import SearchConfig
from nas.search.app.result import RunResult

CONFIG = SearchConfig(space="resnet", budgets=("2G-flops",), trials=6, seed=3)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    from nas.search.app.run import search

    return search(CONFIG, tmp_path_factory.mktemp("runs") / "r", log=lambda m: None)


def test_result_is_the_run_folder(run: RunResult) -> None:
    assert json.loads((run.run_dir / "front.json").read_text()) == run.front.to_json()
    stored = json.loads((run.run_dir / "trials.json").read_text())["trials"]
    states = [t["state"] for t in stored]
    assert (run.trials, run.complete, run.infeasible, run.failed) == (
        6, states.count("complete"), states.count("infeasible"), states.count("failed"))
    assert run.objectives == ("score", "flops") and run.directions == ("maximize", "minimize")
    assert run.config.score == "synflow"  # --score auto resolved
    assert [r.trial for r in run.front.records] == [r["trial"] for r in json.loads(
        (run.run_dir / "front.json").read_text())["pareto"]]
    for rec in run.front.records:
        assert Path(rec.arch_path).is_file() and rec.digest == rec.arch.digest()


def test_best_by_each_objective(run: RunResult) -> None:
    recs = run.front.records
    assert run.best() == run.best("score") == max(recs, key=lambda r: r.score)
    assert run.best("flops") == min(recs, key=lambda r: r.flops)
    from nas.errors import NasError

    with pytest.raises(NasError, match="unknown objective 'latency_ms'"):
        run.best("latency_ms")


def test_result_is_immutable(run: RunResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.trials = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.front.records[0].score = 0.0  # type: ignore[misc]


def test_cli_prints_the_result_not_the_folder(tmp_path: Path, capsys, monkeypatch) -> None:
    """With front.json never written, ``nas search --format json`` still prints the front."""
    from nas.cli.main import main
    from nas.search.results import report

    write = report._write_json
    monkeypatch.setattr(report, "_write_json", lambda p, o: None if p.name == "front.json" else write(p, o))
    out = tmp_path / "r"
    assert main(["search", "--space", "resnet", "--budget", "2G-flops", "--trials", "6", "--seed", "3",
                 "--out", str(out), "--no-progress", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not (out / "front.json").exists()
    assert doc["summary"]["trials"] == 6 and doc["front_objectives"] == ["score", "flops"]
    assert doc["pareto"] and all(Path(r["arch"]).is_file() for r in doc["pareto"])


def test_a_trial_resolves_its_architecture_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nas.search.app.run import search
    from nas.searchspace.space import SearchSpace

    calls: list[str] = []
    real = SearchSpace.resolve

    def counting(self, arch):
        calls.append(arch.digest())
        return real(self, arch)

    monkeypatch.setattr(SearchSpace, "resolve", counting)
    res = search(dataclasses.replace(CONFIG, trials=4, target="gpu"), tmp_path / "r", log=lambda m: None)
    digests = [t.arch.digest() for t in res.result.trials]
    assert len(digests) == 4
    # costs (FLOPs, params, latency) and the score share one NetSpec per trial (the plan's probe adds one)
    assert all(calls.count(d) == 1 for d in set(digests)) and len(calls) <= len(set(digests)) + 1
