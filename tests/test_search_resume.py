"""A search killed with SIGKILL and resumed ends with the trials of an uninterrupted run, and no
finished trial is evaluated twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _search_helpers import ToyNB201Score

from nas.search.loop.driver import run_search
from nas.search.results.storage import OptunaStore, sqlite_url
from nas.search.searchers.registry import make_searcher
from nas.searchspace import get_space

N_TRIALS = 40
OPTIONS = {"population": 8, "sample_size": 3}

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from _search_helpers import ToyNB201Score
    from nas.search.loop.driver import run_search
    from nas.search.searchers.registry import make_searcher
    from nas.search.results.storage import OptunaStore
    from nas.searchspace import get_space

    store = OptunaStore({url!r}, "killme", ["maximize"])
    searcher = make_searcher("evolution", get_space("nb201"), 11, **{options!r})
    run_search(searcher, ToyNB201Score(sleep_s=0.05, log={log!r}), {n}, store=store, batch_size=2)
""")


def _essence(trials):
    return [(t.number, t.arch, t.state, t.values) for t in trials]


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "study.db")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), url=url, options=OPTIONS,
                                    log=str(first_log), n=N_TRIALS))
    proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    # Watch the child's own evaluation log, never the database: opening study.db while the child creates
    # its schema made the child fail now and then. 16 evaluations = 8 batches of 2, so >= 12 trials stored.
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if first_log.exists() and len(first_log.read_text().split()) >= 16:
            break
    assert proc.poll() is None, f"the search ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    before = OptunaStore(url, "killme", ["maximize"]).trials()
    assert 12 <= len(before) < N_TRIALS
    space = get_space("nb201")
    resumed = run_search(make_searcher("evolution", space, 11, **OPTIONS), ToyNB201Score(log=str(second_log)),
                         N_TRIALS, store=OptunaStore(url, "killme", ["maximize"]), batch_size=2)
    straight = run_search(make_searcher("evolution", space, 11, **OPTIONS), ToyNB201Score(), N_TRIALS,
                          batch_size=2)
    assert _essence(resumed.trials) == _essence(straight.trials)
    # every finished trial was evaluated once: the resumed process evaluated exactly the others
    re_evaluated = second_log.read_text().split()
    assert len(re_evaluated) == N_TRIALS - len(before)
    assert not set(re_evaluated) & {t.arch.digest() for t in before.values()}
    assert sorted(OptunaStore(url, "killme", ["maximize"]).trials()) == list(range(N_TRIALS))
