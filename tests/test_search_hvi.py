"""The hypervolume-improvement searcher, canonical NB201 cells, and the per-space default score."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _benchmark_data import load_benchmark

from nas.search.bench.benchmark import hv_gap_trace
from nas.search.searchers.canonical import canonical_nb201
from nas.search.searchers.hvi import hv_improvement_2d
from nas.search.trial import hypervolume
from nas.searchspace import get_space
from nas.searchspace.spaces.nb201_table import NB201Table


@pytest.fixture(scope="module")
def table() -> NB201Table:
    return load_benchmark(NB201Table.load)


def test_canonical_nb201_drops_dead_edges() -> None:
    s = get_space("nb201")
    # node 1 has no input (edge01 none): its outgoing convs compute nothing
    a = s.parse_string("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    c = canonical_nb201(a)
    assert s.to_string(c) == "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"
    assert canonical_nb201(c) == c
    # node 2 reaches the output by no edge: its incoming edges compute nothing
    b = s.parse_string("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|")
    assert s.to_string(canonical_nb201(b)) == "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
    n_classes = len({canonical_nb201(x).digest() for x in (s.sample(np.random.default_rng(i)) for i in range(400))})
    assert n_classes < 400


def test_hv_improvement_matches_exact_hypervolume() -> None:
    rng = np.random.default_rng(0)
    front = rng.random((6, 2))
    cand = rng.random((40, 2))
    ref = np.array([1.2, 1.1])
    base = hypervolume(front, ref)
    want = np.array([hypervolume(np.vstack([front, c]), ref) - base for c in cand])
    np.testing.assert_allclose(hv_improvement_2d(front, cand, ref), want, atol=1e-12)


def test_hvi_beats_random_on_a_tuning_device(table) -> None:
    seeds, q = range(3), [60]
    gap = {s: np.mean([hv_gap_trace(s, table, "cifar10", "1080ti_1", k, q, {"trees": 16} if s == "hvi" else {})
                       .values[60] for k in seeds]) for s in ("random", "hvi")}
    assert gap["hvi"] < gap["random"]


def test_search_nb201_defaults_to_synflow(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "nas.cli.main", "search", "--space", "nb201", "--trials", "8",
                        "--format", "json", "--no-progress", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-500:]
    doc = json.loads(r.stdout)
    assert doc["score"] == "synflow"
    assert doc["pareto"] and all(isinstance(row["score"], float) and np.isfinite(row["score"]) for row in doc["pareto"])
