"""Ray Tune evaluation gives the serial run's trials for a deterministic evaluator (one test: Ray is slow to start)."""

from __future__ import annotations

import pytest
from _search_helpers import ToyNB201Score

from nas.search.loop.driver import run_search
from nas.search.searchers.registry import make_searcher
from nas.searchspace import get_space


@pytest.mark.slow
def test_ray_tune_workers_equal_serial_run() -> None:
    pytest.importorskip("ray.tune")
    import _search_helpers
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(_search_helpers)  # the workers do not see tests/ on their path
    space = get_space("nb201")
    opts = {"population": 4, "sample_size": 2}
    serial = run_search(make_searcher("evolution", space, 3, **opts), ToyNB201Score(), 10, batch_size=4)
    ray = run_search(make_searcher("evolution", space, 3, **opts), ToyNB201Score(sleep_s=0.01), 10, batch_size=4,
                     workers=2)
    assert all(t.complete for t in ray.trials), ray.trials[0].error
    assert [(t.number, t.arch, t.values) for t in ray.trials] == [(t.number, t.arch, t.values) for t in serial.trials]
    assert len({t.arch for t in ray.trials}) == 10
