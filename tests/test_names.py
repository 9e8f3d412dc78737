"""Trial states, directions and metric names are enums whose members read, print and store as the plain
strings they replaced (old run folders keep resuming)."""

from __future__ import annotations

import json

import pytest

from nas.errors import NasError
from nas.search.names import COST_METRICS, Direction, Metric, TrialState
from nas.search.trial import SearchResult, Trial
from nas.searchspace import Architecture

#: A trial as main stored it before the enums (``trials.json`` / the ``nas_trial`` attribute in study.db).
STORED = ('{"number": 3, "arch": {"space": "toy", "genes": {"a": 1}}, "state": "infeasible", "costs": '
          '{"flops": 2000000.0}, "values": [], "scores": {}, "duration_s": 0.0, "error": "over budget: flops '
          '2e+06 > 1e+06", "info": {}}')


def test_members_are_their_strings() -> None:
    assert [s.value for s in TrialState] == ["complete", "infeasible", "failed"]
    assert [d.value for d in Direction] == ["maximize", "minimize"]
    assert COST_METRICS == ("flops", "params", "latency_ms") and Metric.SCORE == "score"
    for m in (TrialState.FAILED, Direction.MINIMIZE, Metric.LATENCY_MS):
        assert str(m) == f"{m}" == m.value and repr(m) == repr(m.value) and hash(m) == hash(m.value)
        assert json.dumps({m: m}) == json.dumps({m.value: m.value})
    assert Direction.MAXIMIZE.sign == -1.0 and Direction.MINIMIZE.sign == 1.0


def test_stored_trials_read_and_write_byte_identically() -> None:
    t = Trial.from_json(json.loads(STORED))
    assert t.state is TrialState.INFEASIBLE and not t.complete
    assert json.dumps(t.to_json()) == STORED
    assert Trial(0, Architecture("toy", {"a": 1}), "failed", error="x").state is TrialState.FAILED
    with pytest.raises(NasError, match="trial state 'done' not allowed; allowed: complete, infeasible, failed"):
        Trial(0, Architecture("toy", {"a": 1}), "done")


def test_result_directions_are_enums_and_save_as_strings(tmp_path) -> None:
    a = Architecture("toy", {"a": 1})
    r = SearchResult([Trial(0, a, values=(1.0, 2.0))], ("score", "flops"), ("maximize", "minimize"))
    assert r.directions == (Direction.MAXIMIZE, Direction.MINIMIZE)
    r.save(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["directions"] == ["maximize", "minimize"] and doc["trials"][0]["state"] == "complete"
    assert SearchResult.load(tmp_path / "r.json").to_json() == r.to_json()
    with pytest.raises(NasError, match="direction 'up' not allowed; allowed: maximize, minimize"):
        SearchResult([], ("score",), ("up",))
