"""What a finished run shows: the Optuna study (genes as parameters, metric names), the front figure's
per-projection staircases, convergence, operation families per stage, `nas report`'s self-contained
HTML, and CLI tables that fit the terminal."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from nas.cli.main import main
from nas.search.app.config import SearchConfig
from nas.search.trial import SearchResult, Trial
from nas.searchspace import Architecture, get_space

TRIALS = 16


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small default-style run: hybrid, nsga2, 600M-FLOPs budget, gpu target (3 objectives)."""
    from nas.search.app.run import search

    out = tmp_path_factory.mktemp("runs") / "small"
    search(SearchConfig(budgets=("600M-flops",), target="gpu", trials=TRIALS, seed=0), out, log=lambda m: None)
    return out


# -- the Optuna study ---------------------------------------------------------------------------------
def test_study_records_genes_as_parameters_and_metric_names(run_dir: Path) -> None:
    import json

    import optuna
    from optuna.distributions import CategoricalDistribution, IntDistribution

    study = optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}")
    assert study.metric_names == ["score", "latency_ms", "flops"]
    assert len(study.trials) == TRIALS
    space = get_space("hybrid")
    for ft in study.trials:
        arch = Architecture.from_json(json.loads(ft.user_attrs["nas_trial"])["arch"])
        assert ft.params == dict(arch.genes.to_json())
    d = study.trials[0].distributions
    assert d["s3_mixer"] == CategoricalDistribution(list(space._by_name["s3_mixer"].choices))
    assert d["s2_width"] == IntDistribution(64, 192)


def test_optuna_visualization_plots_a_finished_run(run_dir: Path) -> None:
    import optuna
    from optuna.visualization import plot_param_importances, plot_pareto_front

    study = optuna.load_study(study_name=run_dir.name, storage=f"sqlite:///{run_dir / 'study.db'}")
    pareto = plot_pareto_front(study)
    scene = pareto.layout.scene
    assert [scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text] == ["score", "latency_ms", "flops"]
    importances = plot_param_importances(study)
    assert [t.name for t in importances.data] == ["score", "latency_ms", "flops"]
    genes = {d.name for d in get_space("hybrid").dims}
    shown = {str(y).strip() for t in importances.data for y in t.y}
    assert shown and shown <= genes


def test_a_store_without_space_still_stores_trials(tmp_path: Path) -> None:
    from nas.search.results.storage import OptunaStore, sqlite_url

    space = get_space("nb201")
    arch = space.sample(np.random.default_rng(0))
    store = OptunaStore(sqlite_url(tmp_path / "s.db"), "s", ["maximize"], objectives=["acc"], space=space)
    store.append(Trial(0, arch, "complete", values=(1.0,)))
    store.append(Trial(1, arch, "infeasible"))
    assert store.study.trials[0].params == dict(arch.genes.to_json())
    assert store.study.trials[1].params == dict(arch.genes.to_json())  # pruned trials keep their genes
    assert sorted(OptunaStore(sqlite_url(tmp_path / "s.db"), "s", ["maximize"]).trials()) == [0, 1]


# -- the analysis tables ------------------------------------------------------------------------------
def _result(points: list[tuple[float, ...]], directions: tuple[str, ...]) -> SearchResult:
    space = get_space("nb201")
    rng = np.random.default_rng(1)
    archs = []
    while len(archs) < len(points):  # distinct architectures, so no point collapses into another
        a = space.sample(rng)
        if a not in archs:
            archs.append(a)
    objectives = tuple(f"o{i}" for i in range(len(directions)))
    return SearchResult([Trial(i, a, "complete", values=p) for i, (a, p) in enumerate(zip(archs, points))],
                        objectives, directions)


def test_projection_front_is_the_two_d_non_dominated_set() -> None:
    from nas.search.results.run_analysis import projection_front

    # score (max) against latency (min): (3, 2) and (1, 1) and (4, 5) are the staircase; (2, 3) is beaten by (3, 2)
    vals = np.array([[3.0, 2.0], [1.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    assert projection_front(vals, ["maximize", "minimize"]).tolist() == [True, True, False, True]
    assert projection_front(vals, ["minimize", "minimize"]).tolist() == [False, True, False, False]


def test_convergence_tracks_best_and_hypervolume() -> None:
    from nas.search.results.run_analysis import convergence

    r = _result([(1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.5, 0.5)], ("maximize", "minimize"))
    df = convergence(r)
    assert df["best"].tolist() == [1.0, 1.0, 1.0, 1.0]
    # scaled (best 0, worst 1, reference 1.1): (1, 1) -> (0, 1) adds 1.1 * 0.1; (0, 0) -> (1, 0) adds
    # 0.1 * 1.1 less their 0.1 * 0.1 overlap; (1, 0) -> (0, 0) dominates all: 1.1²; (0.5, 0.5) adds nothing
    assert df["hypervolume"].tolist() == pytest.approx([0.11, 0.21, 1.21, 1.21], abs=1e-12)


def test_a_trial_scored_minus_infinity_leaves_the_scale_and_hypervolume_alone() -> None:
    """A synflow of a dead network is -inf: it is the worst of the run but moves neither the objective
    bounds nor the hypervolume (it used to turn every later hypervolume into NaN)."""
    from nas.search.results.run_analysis import convergence, objective_bounds

    pts = [(1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.5, 0.5)]
    r = _result(pts[:1] + [(-np.inf, 0.2)] + pts[1:], ("maximize", "minimize"))
    lo, hi = objective_bounds([r])
    assert lo.tolist() == [-1.0, 0.0] and hi.tolist() == [0.0, 1.0]
    df = convergence(r)
    assert df["best"].tolist() == [1.0] * 5
    assert df["hypervolume"].tolist() == pytest.approx([0.11, 0.11, 0.21, 1.21, 1.21], abs=1e-12)


def test_family_shares_count_networks_per_stage() -> None:
    from nas.search.results.run_analysis import family_shares

    space = get_space("hybrid")
    base = dict(s1_depth=1, s1_width=32, s1_mlp=2, s2_depth=1, s2_width=64, s2_mlp=2, s3_depth=2, s3_width=128,
                s3_mlp=2, s4_depth=1, s4_width=256, s4_mlp=2, s2_mixer="dwconv3", s4_mixer="mamba")
    a = space.make(**base, s1_mixer="dwconv7", s3_mixer="mhsa")
    b = space.make(**base, s1_mixer="fft_filter", s3_mixer="mhsa")
    df = family_shares(space, {"front": [a], "all": [a, b]})
    got = {(r.group, r.stage, r.family): (r.networks, r.share) for r in df.itertuples()}
    assert got[("all", "stage1", "conv")] == (1, 0.5)
    assert got[("all", "stage1", "spectral")] == (1, 0.5)
    assert got[("all", "stage3", "attention")] == (2, 1.0)  # the map_to_seq adapter is not counted
    assert got[("front", "stage4", "ssm")] == (1, 1.0)
    assert len(df) == 4 + 5


def test_front_png_draws_every_projection(tmp_path: Path) -> None:
    from nas.search.results.report import plot_front
    from nas.search.results.run_figures import front_figure, projections

    assert projections(3) == [(0, 1), (0, 2), (1, 2)]
    assert projections(2) == [(0, 1)]
    r = _result([(3.0, 2.0, 5.0), (1.0, 1.0, 1.0), (2.0, 3.0, 0.5)], ("maximize", "minimize", "minimize"))
    fig = front_figure(r)
    panels = [ax for ax in fig.axes if ax.get_xlabel()]  # colour bars have no x label
    assert [ax.get_xlabel().split(" (")[0] for ax in panels] == ["o1", "o2", "o2"]
    path = plot_front(r, tmp_path / "front.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- nas report ---------------------------------------------------------------------------------------
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def test_report_is_one_self_contained_page(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    out = tmp_path / "r.html"
    assert main(["report", str(run_dir), "-o", str(out), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["report"] == str(out) and info["trials"] == TRIALS
    front = json.loads((run_dir / "front.json").read_text())["pareto"]
    assert info["front"] == len(front)
    text = out.read_text()
    p = _Tags()
    p.feed(text)
    names = [t for t, _ in p.tags]
    assert not {"script", "link", "iframe", "object", "embed", "a"} & set(names)
    assert "http://" not in text and "https://" not in text
    ids = [a["id"] for t, a in p.tags if t == "section"]
    assert ids == ["summary", "front", "parallel", "convergence", "operations", "layers", "front-table", "config"]
    imgs = [a["src"] for t, a in p.tags if t == "img"]
    assert len(imgs) == 5
    from PIL import Image

    for src in imgs:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert im.format == "PNG" and im.width > 300
    rows = text.split('id="front-table"')[1].split("</table>")[0].count("<tr>")
    assert rows == len(front) + 1  # header + one per front network


@pytest.mark.parametrize("argv, message", [
    (["report", "{missing}"], "does not exist"),
    (["report", "{empty}"], "not a finished `nas search` run folder"),
    (["report", "{run}", "-o", "{missing}/r.html"], "does not exist"),
    (["report", "{run}", "--chosen", "999"], "out of range"),
    (["report", "{run}", "-o", "{run}"], "is a folder"),
    (["report", "{run}", "--figures", "{run}/config.json"], "is a file, not a folder"),
])
def test_report_bad_input_is_one_line_exit_2(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    subs = {"missing": str(tmp_path / "nope"), "empty": str(tmp_path / "empty"), "run": str(run_dir)}
    before = sorted(p.name for p in run_dir.iterdir())
    assert main([a.format(**subs) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert sorted(p.name for p in run_dir.iterdir()) == before  # no report.html written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


# -- tables that fit the terminal ---------------------------------------------------------------------
def test_table_wraps_text_cells_to_the_width_and_keeps_numbers_and_paths() -> None:
    from nas.cli._output import table

    rows = [{"name": "a", "value": 1234567, "path": "/a/very/long/path/that/a/user/copies.json",
             "note": "one two three four five six seven eight nine ten eleven twelve " * 2}]
    buf = io.StringIO()
    table(rows, file=buf, width=90, keep=("path",))
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 90
    assert "/a/very/long/path/that/a/user/copies.json" in lines[2] and "1,234,567" in lines[2]
    words = " ".join(line[line.index("copies.json") + 13:] if "copies.json" in line else line.strip()
                     for line in lines[2:]).split()
    assert words == rows[0]["note"].split()  # wrapped, nothing lost
    assert all(line == line.rstrip() for line in lines)


def test_ops_and_targets_tables_fit_80_columns(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for argv in (["ops"], ["latency", "targets"]):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) > 5 and max(len(line) for line in lines) <= 80, argv
