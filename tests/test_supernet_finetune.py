"""Fine-tuned inherited accuracy (``nas.supernet.finetune``), its search evaluator option and bench figures,
the bench's stand-alone results taken from another run, and the bench's measured default configuration."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest
import torch

from nas.errors import NasError
from nas.supernet.finetune import FinetuneSettings, finetuned_accuracy, scratch_accuracy
from nas.supernet.network import build_supernet
from nas.supernet.train import SupernetTrainConfig, subnet_accuracy, train_supernet
from nas.training.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).parent))
import _supernet_tiny  # noqa: E402

SMALL = {"width_mult": 0.25, "max_depth": 1, "mixers": ["dwconv3", "identity"]}


@pytest.fixture(autouse=True, scope="module")
def _tiny_space():
    _supernet_tiny.register()
    yield
    _supernet_tiny.unregister()
    _trained_supernet.cache_clear()


@functools.cache
def _digits():
    return load_dataset("digits")


@functools.cache
def _trained_supernet():
    """A tiny supernet trained a few epochs on digits: subnets well above chance, far below 100 %."""
    net = build_supernet("tiny_test", "1x8x8", 10, seed=0)
    train_supernet(net, _digits(), SupernetTrainConfig(epochs=3, batch_size=128, bn_images=256))
    return net.eval()


def _state(net) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_finetuning_starts_from_the_inherited_weights_and_leaves_the_supernet_unchanged() -> None:
    net, data = _trained_supernet(), _digits()
    arch = net.largest()
    before = _state(net)
    inherited = subnet_accuracy(net, arch, data, bn_images=256)
    # a vanishing rate keeps the inherited weights: the accuracy stays the inherited one (BatchNorm's
    # running averages move a little over the 4 steps), so nothing re-initialises the extracted module
    still = finetuned_accuracy(net, arch, data, FinetuneSettings(4, batch_size=64, lr=1e-9), bn_images=256)
    assert abs(still - inherited) <= 0.03 and inherited > 0.25  # chance: 0.1
    tuned = finetuned_accuracy(net, arch, data, FinetuneSettings(8, batch_size=64), bn_images=256)
    assert 0.0 <= tuned <= 1.0
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_scratch_control_does_not_inherit_the_supernets_weights() -> None:
    data = _digits()
    trained = _trained_supernet()
    fresh = build_supernet("tiny_test", "1x8x8", 10, seed=1)
    arch = trained.largest()
    steps = FinetuneSettings(4, batch_size=64)
    assert scratch_accuracy(trained, arch, data, steps) == scratch_accuracy(fresh, arch, data, steps)


def test_finetune_settings_refuse_more_than_one_pass_and_bad_values() -> None:
    data = _digits()
    most = len(data.train) // 64
    FinetuneSettings(most).check(data)
    with pytest.raises(NasError, match=f"fine-tune steps {most + 1} not allowed on 'digits': at most {most}"):
        FinetuneSettings(most + 1).check(data)
    for bad, match in (({"steps": 0}, "steps=0"), ({"steps": 2, "batch_size": True}, "batch_size=True"),
                       ({"steps": 2, "lr": 0.0}, "lr=0.0")):
        with pytest.raises(NasError, match=match):
            FinetuneSettings(**bad)
    cfg = FinetuneSettings(5, batch_size=32).train_config(seed=3)
    assert (cfg.epochs, cfg.train_images, cfg.lr, cfg.warmup_epochs, cfg.zero_init_residual, cfg.seed) == \
        (1, 160, 5e-4, 0.0, False, 3)


def _small_checkpoint(tmp_path):
    from nas.training.checkpoint import save_checkpoint

    net = build_supernet("hybrid", "1x32x32", 10, settings=SMALL)
    ckpt = tmp_path / "supernet.pt"
    save_checkpoint(ckpt, {"model": net.state_dict(), "space": net.config(), "data": {"name": "digits"}},
                    kind="supernet")
    return ckpt


def test_search_scores_fine_tuned_subnets_and_keeps_the_steps_on_resume(tmp_path, capsys) -> None:
    from nas.cli.main import main

    ckpt = _small_checkpoint(tmp_path)
    base = ["search", "--space", "hybrid", "--evaluator", "supernet", "--supernet", str(ckpt), "--trials", "2",
            "--strategy", "random", "--no-progress", "--format", "json"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--supernet-finetune-steps", "3"]) == 0
    capsys.readouterr()

    def scores(run: str) -> list[tuple[dict, float]]:
        trials = json.loads((tmp_path / run / "trials.json").read_text())["trials"]
        return [(t["arch"], t["scores"]["valid_accuracy"]) for t in trials]

    plain, tuned = scores("a"), scores("b")
    assert json.loads((tmp_path / "b" / "config.json").read_text())["supernet_finetune_steps"] == 3
    # same seed, same subnets; an untrained supernet scores near chance, three steps of training lift each
    assert [a for a, _ in tuned] == [a for a, _ in plain]
    assert all(t > p for (_, t), (_, p) in zip(tuned, plain))
    assert main([*base, "--out", str(tmp_path / "b"), "--resume"]) == 2
    assert "supernet_finetune_steps: stored 3, now 0" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--supernet-finetune-steps", "-1"], "supernet_finetune_steps must be an integer >= 0, got -1"),
    (["--supernet-finetune-steps", "9999"], "fine-tune steps 9999 not allowed on 'digits': at most"),
])
def test_search_refuses_bad_finetune_steps_in_one_line(tmp_path, capsys, extra, message) -> None:
    from nas.cli.main import main

    ckpt = _small_checkpoint(tmp_path)
    argv = ["search", "--space", "hybrid", "--evaluator", "supernet", "--supernet", str(ckpt), "--trials", "2",
            "--strategy", "random", "--no-progress", "--out", str(tmp_path / "s"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s" / "trials.json").exists()


def test_finetune_steps_belong_to_the_supernet_evaluator() -> None:
    from nas.search.app.config import SearchConfig

    with pytest.raises(NasError, match="supernet_finetune_steps=5 applies to --evaluator supernet only, not 'score'"):
        SearchConfig(supernet_finetune_steps=5)
    stored = {k: v for k, v in SearchConfig().to_json().items() if k != "supernet_finetune_steps"}
    assert SearchConfig().differences(stored) == []  # a run from before the option resumes


def _measure_kw(tmp_path, name: str) -> dict:
    return dict(space="hybrid", input="1x32x32", train_images=128, batch=64, supernet_epochs=1, standalone_epochs=1,
                subnets=3, bn_images=64, out=tmp_path / name, settings=SMALL)


def test_bench_ranks_fine_tuned_subnets_and_takes_stand_alone_results_from_another_run(tmp_path,
                                                                                      monkeypatch) -> None:
    from nas.search.bench import supernet_bench as benchmark
    from nas.training import datasets

    monkeypatch.setattr(benchmark, "step_cost", lambda *a, **k: {"sandwich_step_time_ratio": 4.0})
    monkeypatch.setattr(datasets, "load_dataset", functools.cache(datasets.load_dataset))  # resizing takes seconds
    first = benchmark.measure(**_measure_kw(tmp_path, "a"), finetune_steps=2)
    assert first["finetune"] == {"steps": 2, "batch_size": 64, "lr": 5e-4}
    rows = first["rows"]
    assert len(rows) == 3 and all({"finetuned", "scratch_steps", "inherited"} <= set(r) for r in rows)
    from nas.searchspace.architecture import Architecture

    assert all(Architecture.from_json(r["arch"]).digest() == r["digest"] for r in rows)  # rows name their subnet
    assert first["kendall_tau_finetuned"] == benchmark.kendall([r["finetuned"] for r in rows],
                                                               [r["standalone"] for r in rows])
    second = benchmark.measure(**_measure_kw(tmp_path, "b"), supernet_options={"seed": 1},
                               standalone_from=tmp_path / "a", standalone_seeds=4)
    assert second["standalone_taken"] == 3 and second["standalone_reused"] == 3  # seed 0 of 3 subnets
    assert second["scratch_taken"] == second["scratch_reused"] == 2  # largest and smallest seed 0, same epochs
    got = second["weight_inheritance"]["largest"]["scratch_test_per_seed"]
    assert len(got) == 4 and got[0] == first["weight_inheritance"]["largest"]["scratch_test"]
    halves = [(sum(p[0::2]) / 2, sum(p[1::2]) / 2) for p in second["standalone_partial"]]
    assert second["kendall_tau_split_half"] == benchmark.kendall([h[0] for h in halves], [h[1] for h in halves])
    assert [p[0] for p in second["standalone_partial"]] == [r["standalone"] for r in rows]
    assert "kendall_tau_split_half" not in first
    taken = json.loads((tmp_path / "a" / "standalone.json").read_text())["results"]
    mine = json.loads((tmp_path / "b" / "standalone.json").read_text())["results"]
    assert len(mine) == 12 and all(mine[k] == v for k, v in taken.items())
    other = {**_measure_kw(tmp_path, "c"), "standalone_epochs": 2}
    with pytest.raises(NasError, match="were trained with other settings"):
        benchmark.measure(**other, standalone_from=tmp_path / "a")
    assert not (tmp_path / "c" / "supernet").exists()  # refused before any training
    with pytest.raises(NasError, match="no stand-alone results at"):
        benchmark.measure(**_measure_kw(tmp_path, "d"), standalone_from=tmp_path / "nowhere")
    longer = benchmark.measure(**{**_measure_kw(tmp_path, "e"), "supernet_epochs": 2}, finetune_steps=0,
                               standalone_from=tmp_path / "a" / "standalone.json")
    assert longer["standalone_taken"] == 3 and longer["scratch_taken"] == 0  # scratch had 1 epoch, not 2


def test_a_bare_bench_runs_the_measured_hybrid_configuration() -> None:
    """`nas bench supernet` with no flags is the configuration of docs/supernet.md's figures."""
    import argparse

    from nas.cli import bench_supernet

    parser = argparse.ArgumentParser()
    bench_supernet.add_parser(parser.add_subparsers())
    args = parser.parse_args(["supernet"])
    settings, body = bench_supernet.bench_space_settings(args)
    assert (args.space, args.input, body) == ("hybrid", "1x32x32", "per-mixer")
    assert settings == {"width_mult": 0.25, "max_depth": 2,
                        "mixers": ["dwconv3", "dwconv7", "s4d", "mhsa", "identity", "pool_mixer"]}
    assert (args.train_images, args.batch, args.supernet_epochs, args.standalone_epochs, args.standalone_seeds,
            args.subnets, args.bn_images, args.rank_split, args.optimizer, args.finetune_steps) == \
        (3600, 64, 20, 6, 2, 24, 2000, "test", "adamw", 28)
    mine = parser.parse_args(["supernet", "--mixers", "dwconv3,identity", "--body", "shared"])
    assert bench_supernet.bench_space_settings(mine) == ({**settings, "mixers": ["dwconv3", "identity"]}, "shared")
    other = parser.parse_args(["supernet", "--space", "mobilenet"])
    assert bench_supernet.bench_space_settings(other) == ({}, "shared")
    # the supernet trains without in-place distillation on every space, unless asked for
    assert bench_supernet.bench_supernet_options(args) == {"distill": False}
    back = parser.parse_args(["supernet", "--supernet-option", "distill=true", "--supernet-option", "seed=2"])
    assert bench_supernet.bench_supernet_options(back) == {"distill": True, "seed": 2}
    assert bench_supernet.bench_supernet_options(other) == {"distill": False}


def test_the_bench_table_shows_the_tau_interval_and_both_sides_of_weight_inheritance() -> None:
    from nas.cli.bench_supernet import FIGURES, figure_rows

    out = {"kendall_tau": 0.668, "kendall_tau_ci95": [0.41803263959267184, 0.8846988664348769],
           "weight_inheritance": {
               "largest": {"inherited_valid": 0.9675, "inherited_test": 0.979, "scratch_valid": 0.9775,
                           "scratch_test": 0.979, "scratch_test_per_seed": [0.982, 0.976], "epochs": 20},
               "smallest": {"inherited_valid": 0.94, "inherited_test": 0.963, "scratch_valid": 0.96125,
                            "scratch_test": 0.9715, "scratch_test_per_seed": [0.969, 0.974], "epochs": 20}}}
    rows = {r["figure"]: r["value"] for r in figure_rows(out)}
    assert list(rows)[:len(FIGURES)] == list(FIGURES) and rows["kendall_tau"] == 0.668
    assert rows["kendall_tau_ci95"] == "[0.418, 0.885]" and rows["ddp_max_abs_diff"] is None
    assert rows["largest: inherited / scratch test"] == "0.9790 / 0.9790"
    assert rows["smallest: inherited / scratch valid"] == "0.9400 / 0.9613"
    assert len(rows) == len(FIGURES) + 4
