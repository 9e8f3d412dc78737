"""The hybrid space's size settings (width_mult, max_depth, mixers) and their path into supernets."""

from __future__ import annotations

import numpy as np
import pytest

from nas.errors import NasError
from nas.searchspace.space import SPACES
from nas.searchspace.tensor_type import parse_input
from nas.supernet.network import build_supernet, space_from_config


def _hybrid(inp: str = "1x32x32", **settings):
    return SPACES.get("hybrid")(input=parse_input(inp), num_classes=10, **settings)


def _choices(space, name: str) -> tuple:
    return next(d.choices for d in space.dims if d.name == name)


def test_width_mult_and_max_depth_shrink_the_choices() -> None:
    sp = _hybrid(width_mult=0.25, max_depth=2)
    assert _choices(sp, "s1_width") == (8, 16, 24)
    assert _choices(sp, "s3_width") == (32, 48, 64, 80, 96)
    assert _choices(sp, "s4_width") == (64, 80, 96, 128)
    assert all(_choices(sp, f"s{s}_depth") == (1, 2) for s in range(1, 5))
    assert sp.config() == {"space": "hybrid", "input": "1x32x32", "num_classes": 10, "width_mult": 0.25,
                           "max_depth": 2}


def test_default_hybrid_config_is_unchanged() -> None:
    sp = SPACES.get("hybrid")()
    assert sp.config() == {"space": "hybrid", "input": "3x224x224", "num_classes": 1000}
    assert _choices(sp, "s1_width") == (32, 48, 64, 96) and _choices(sp, "s3_depth") == (1, 2, 3, 4, 6, 8)
    assert len(_choices(sp, "s4_mixer")) == 15


def test_mixers_setting_keeps_only_those_and_round_trips() -> None:
    sp = _hybrid(mixers=["mhsa", "dwconv3", "s4d"])
    assert _choices(sp, "s1_mixer") == ("dwconv3", "s4d")  # mhsa is a global mixer: stages 3-4 only
    assert _choices(sp, "s3_mixer") == ("dwconv3", "mhsa", "s4d")
    again = space_from_config(sp.config())
    assert again.config() == sp.config() and again.dims == sp.dims


def test_mixers_that_cannot_run_on_a_1x1_grid_are_left_out() -> None:
    sp = _hybrid()  # 32x32 input: stage 4 runs on a 1x1 grid
    s4 = _choices(sp, "s4_mixer")
    assert "window_attention" not in s4 and "channel_shift" not in s4 and len(s4) == 13
    assert "window_attention" in _choices(sp, "s3_mixer")
    rng = np.random.default_rng(0)
    for _ in range(50):
        sp.resolve(sp.sample(rng))  # every sampled architecture resolves


@pytest.mark.parametrize("settings, message", [
    ({"width_mult": 0}, "width_mult=0 not allowed"),
    ({"width_mult": 1.5}, "width_mult=1.5 not allowed"),
    ({"max_depth": 0}, "max_depth=0 not allowed"),
    ({"mixers": ["dwconv3", "nope"]}, "mixers=['dwconv3', 'nope'] not allowed"),
    ({"mixers": ["mhsa"]}, "no mixer of ['mhsa'] can run at stage 1"),
])
def test_bad_settings_are_one_line_errors(settings, message) -> None:
    with pytest.raises(NasError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _hybrid(**settings)


def test_build_supernet_passes_settings_and_refuses_foreign_ones() -> None:
    net = build_supernet("hybrid", "1x32x32", 10, settings={"width_mult": 0.25, "max_depth": 1,
                                                             "mixers": ["dwconv3", "identity"]})
    assert net.config()["mixers"] == ["dwconv3", "identity"]
    assert sum(p.numel() for p in net.parameters()) == 398_738  # vs 98 M at the defaults
    with pytest.raises(NasError, match="space 'mobilenet' does not take setting\\(s\\) width_mult"):
        build_supernet("mobilenet", "1x32x32", 10, settings={"width_mult": 0.5})


SMALL = {"width_mult": 0.25, "max_depth": 1, "mixers": ["dwconv3", "identity"]}


def test_search_uses_a_supernet_of_a_shrunk_space_and_its_archs_keep_the_settings(tmp_path, capsys) -> None:
    """The CPU-sized hybrid supernet works as a search evaluator: the space settings come from the
    checkpoint, and the front's architecture files resolve with them (`nas cost` reads them back)."""
    import json

    from nas.cli.main import main
    from nas.training.checkpoint import save_checkpoint

    net = build_supernet("hybrid", "1x32x32", 10, settings=SMALL)
    ckpt = tmp_path / "supernet.pt"
    save_checkpoint(ckpt, {"model": net.state_dict(), "space": net.config(), "data": {"name": "digits"}},
                    kind="supernet")
    argv = ["search", "--space", "hybrid", "--evaluator", "supernet", "--supernet", str(ckpt), "--trials", "2",
            "--strategy", "random", "--out", str(tmp_path / "s"), "--no-progress", "--format", "json"]
    assert main(argv) == 0
    front = json.loads(capsys.readouterr().out)["pareto"]
    assert front and all(0.0 <= p["valid_accuracy"] <= 1.0 for p in front)
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["space_options"] == SMALL and config["space_config"]["width_mult"] == 0.25
    arch_file = next((tmp_path / "s" / "archs").glob("*.json"))
    assert json.loads(arch_file.read_text())["space_config"]["mixers"] == SMALL["mixers"]
    assert main(["cost", str(arch_file), "--format", "json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert cost["params"] < 1_000_000  # resolved in the shrunk space (the default widths are 4-100x larger)
    # settings that contradict the checkpoint's: one line, exit 2, nothing written
    assert main([*argv[:-2], "--width-mult", "0.5", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip()
    assert "differ from the supernet's" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "t").exists()


def test_search_takes_the_space_settings_and_resume_keeps_them(tmp_path, capsys) -> None:
    from nas.cli.main import main
    from nas.search.app.config import SearchConfig

    base = ["search", "--space", "hybrid", "--input", "1x32x32", "--trials", "2", "--strategy", "random",
            "--out", str(tmp_path / "s"), "--no-progress", "--width-mult", "0.25", "--max-depth", "1",
            "--mixers", "dwconv3,identity"]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base[:-1], "dwconv3", "--resume"]) == 2
    assert "space_options" in capsys.readouterr().err
    assert main(["search", "--space", "nb201", "--width-mult", "0.5", "--out", str(tmp_path / "r")]) == 2
    assert "space 'nb201' does not take setting(s) width_mult" in capsys.readouterr().err
    # a run stored before space settings existed resumes: a missing field reads as its default
    stored = {k: v for k, v in SearchConfig().to_json().items() if k != "space_options"}
    assert SearchConfig().differences(stored) == []


def test_measure_averages_seeds_and_resumes_its_supernet(tmp_path, monkeypatch) -> None:
    import functools

    from nas.search.bench import supernet_bench as benchmark
    from nas.training import datasets

    monkeypatch.setattr(benchmark, "step_cost", lambda *a, **k: {"sandwich_step_time_ratio": 4.0})
    monkeypatch.setattr(datasets, "load_dataset", functools.cache(datasets.load_dataset))  # resizing takes seconds
    kw = dict(space="hybrid", input="1x32x32", train_images=128, batch=64, supernet_epochs=1, standalone_epochs=1,
              subnets=3, bn_images=64, out=tmp_path / "m", standalone_seeds=2,
              settings={"width_mult": 0.25, "max_depth": 1, "mixers": ["dwconv3", "identity"]})
    first = benchmark.measure(**kw)
    per_seed = first["standalone_partial"]
    assert len(per_seed) == 3 and all(len(p) == 2 for p in per_seed)
    assert [r["standalone"] for r in first["rows"]] == [sum(p) / 2 for p in per_seed]
    assert -1.0 <= first["kendall_tau_seed_to_seed"] <= 1.0
    lo, hi = first["kendall_tau_ci95"]
    assert -1.0 <= lo <= first["kendall_tau"] <= hi <= 1.0
    assert first["settings"]["space_settings"]["width_mult"] == 0.25
    assert first["standalone_reused"] == 0
    again = benchmark.measure(**kw)  # the finished supernet in OUT/supernet is resumed, not retrained
    assert again["supernet"]["train_seconds"] == first["supernet"]["train_seconds"]
    assert again["standalone_reused"] == 6  # 3 subnets x 2 seeds come from OUT/standalone.json
    assert again["rows"] == first["rows"]
    # the inheritance check's from-scratch trainings come from OUT/scratch.json
    # (largest and smallest × 2 seeds, as many as the reference's: the goal compares with their mean)
    assert (first["scratch_reused"], again["scratch_reused"]) == (0, 4)
    assert again["weight_inheritance"] == first["weight_inheritance"]
    for row in first["weight_inheritance"].values():
        assert len(row["scratch_test_per_seed"]) == 2
        assert row["scratch_test"] == pytest.approx(sum(row["scratch_test_per_seed"]) / 2, abs=1e-12)


def test_the_tau_interval_brackets_tau_and_is_exact_where_every_resample_agrees() -> None:
    from scipy.stats import kendalltau

    from nas.search.bench.supernet_bench import kendall_interval

    exact = pytest.approx([1.0, 1.0], abs=1e-12)
    assert kendall_interval([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]) == exact  # any resample: τ 1
    assert kendall_interval([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx([-1.0, -1.0], abs=1e-12)
    assert all(np.isnan(kendall_interval([1.0, 1.0], [2.0, 2.0])))  # τ undefined in every resample
    rng = np.random.default_rng(3)
    a = rng.normal(size=24)
    b = a + rng.normal(scale=0.7, size=24)
    lo, hi = kendall_interval(list(a), list(b), seed=1)
    assert lo < kendalltau(a, b).statistic < hi and 0.2 < hi - lo < 0.8  # 24 subnets: a wide interval
    assert kendall_interval(list(a), list(b), seed=1) == [lo, hi]  # seeded


def test_per_mixer_body_supernet_extracts_exactly_and_its_checkpoint_keeps_the_body(tmp_path) -> None:
    """``body="per-mixer"``: one MLP per mixer choice (a pool_mixer block no longer shares the MLP that
    dwconv3 trains), parity with the extracted subnet, and train / resume / load keep the option."""
    import dataclasses

    import torch

    from nas.search.bench.supernet_bench import parity
    from nas.supernet.train import SupernetTrainConfig, load_supernet, train_supernet
    from nas.training.datasets import Split, load_dataset

    shared = build_supernet("hybrid", "1x32x32", 10, settings=SMALL)
    net = build_supernet("hybrid", "1x32x32", 10, settings=SMALL, body="per-mixer")
    assert net.options() == {"body": "per-mixer"} and shared.options() == {}
    block = net.positions["stage1_1"]["metaformer"]
    assert sorted(block.bodies) == ["dwconv", "identity"] and not hasattr(block, "body")  # keyed by mixer op
    n_shared, n_split = (sum(p.numel() for p in m.parameters()) for m in (shared, net))
    assert n_split > n_shared
    assert parity(net, 10) <= 1e-5
    with pytest.raises(NasError, match="needs MetaFormer blocks"):
        build_supernet("nb201", "3x32x32", 10, body="per-mixer")
    data = load_dataset("digits", resize="1x32x32")
    data = dataclasses.replace(data, train=Split(data.train.x[:64], data.train.y[:64]))
    cfg = SupernetTrainConfig(epochs=1, batch_size=32, bn_images=32)
    train_supernet(net, data, cfg, out_dir=tmp_path / "sn")
    loaded, ckpt = load_supernet(tmp_path / "sn")
    assert ckpt["supernet"] == {"body": "per-mixer"} and loaded.options() == net.options()
    x, a = data.valid.x[:4], net.largest()
    net.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x, a), net(x, a))
    with pytest.raises(NasError, match="with options"):  # resuming it as a shared-body supernet
        train_supernet(build_supernet("hybrid", "1x32x32", 10, settings=SMALL), data, cfg, out_dir=tmp_path / "sn",
                       resume=True)


def test_random_extreme_ops_keep_the_sizes_at_their_extremes_and_draw_every_op() -> None:
    from collections import Counter

    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, step_archs

    net = build_supernet("hybrid", "1x32x32", 10, settings={**SMALL, "max_depth": 2})
    sampler = make_sampler("uniform", net.space)
    assert step_archs(net, sampler, 0, 5, 1)[:2] == [net.largest(), net.smallest()]  # "fixed", the default
    seen: Counter = Counter()
    for step in range(40):
        big, small = step_archs(net, sampler, 0, step, 0, "random")
        assert step_archs(net, sampler, 0, step, 0, "random") == [big, small]  # seeded by (seed, step)
        for d in net.space.dims:
            if d.ordered:
                assert (big.genes[d.name], small.genes[d.name]) == (d.choices[-1], d.choices[0])
            else:
                seen[big.genes[d.name]] += 1
                seen[small.genes[d.name]] += 1
    assert set(seen) == {"dwconv3", "identity"} and min(seen.values()) >= 100  # 320 draws, both ops often
    with pytest.raises(NasError, match="extreme_ops='widest' not allowed"):
        SupernetTrainConfig(extreme_ops="widest")


def test_single_path_steps_train_only_the_random_draws_and_need_labels() -> None:
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, step_archs

    net = build_supernet("hybrid", "1x32x32", 10, settings={**SMALL, "max_depth": 2})
    sampler = make_sampler("uniform", net.space)
    for step in range(5):
        archs = step_archs(net, sampler, 0, step, 3, "none")
        assert archs == sampler.draw(np.random.default_rng([0, step]), 3)  # the same draws, no extremes
        assert step_archs(net, sampler, 0, step, 3)[2:] == archs  # the sandwich's random part, unchanged
    assert SupernetTrainConfig(extreme_ops="none", distill=False, num_random=4).extreme_ops == "none"
    with pytest.raises(NasError, match="extreme_ops='none' not allowed; none trains no largest subnet to distil"):
        SupernetTrainConfig(extreme_ops="none")
    with pytest.raises(NasError, match="give num_random >= 1 with it"):
        SupernetTrainConfig(extreme_ops="none", distill=False, num_random=0)


def test_largest_first_epochs_train_the_largest_alone_then_the_unchanged_sandwich(monkeypatch) -> None:
    import dataclasses

    from nas.supernet import train as train_module
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, step_archs, train_supernet
    from nas.training.datasets import Split, load_dataset

    data = load_dataset("digits", resize="1x32x32")
    data = dataclasses.replace(data, train=Split(data.train.x[:64], data.train.y[:64]))
    seen: list[list] = []
    real_step = train_module.sandwich_step
    monkeypatch.setattr(train_module, "sandwich_step", lambda net, archs, *a, **k: (seen.append(archs),
                                                                                   real_step(net, archs, *a, **k))[1])
    cfg = SupernetTrainConfig(epochs=3, batch_size=32, bn_images=32, largest_first_epochs=2, distill=False)
    net = build_supernet("hybrid", "1x32x32", 10, settings=SMALL)
    train_supernet(net, data, cfg)
    sampler = make_sampler("uniform", net.space, seed=0)
    assert seen[:4] == [[net.largest()]] * 4  # 2 epochs x 2 steps: the largest alone
    assert seen[4:] == [step_archs(net, sampler, 0, step, 2) for step in (4, 5)]  # then the sandwich of those steps
    for bad in (3, -1, 1.5, True):
        with pytest.raises(NasError, match=f"largest_first_epochs={bad!r} not allowed; give an integer in \\[0, "):
            SupernetTrainConfig(epochs=3, largest_first_epochs=bad)


def test_a_checkpoint_from_before_a_setting_existed_still_resumes(tmp_path) -> None:
    """A checkpoint written before ``extreme_ops`` and the ``supernet`` field existed: the missing
    setting reads as its default, so ``--resume`` continues instead of refusing "other settings"."""
    import dataclasses

    from nas.supernet.train import SupernetTrainConfig, train_supernet
    from nas.training.checkpoint import load_checkpoint, save_checkpoint
    from nas.training.datasets import Split, load_dataset

    data = load_dataset("digits", resize="1x32x32")
    data = dataclasses.replace(data, train=Split(data.train.x[:32], data.train.y[:32]))
    cfg = SupernetTrainConfig(epochs=2, batch_size=32, bn_images=32)
    path = tmp_path / "sn" / "supernet.pt"
    train_supernet(build_supernet("hybrid", "1x32x32", 10, settings=SMALL), data,
                   dataclasses.replace(cfg, epochs=1, warmup_epochs=0.0), out_dir=path.parent)
    old = load_checkpoint(path, "supernet")
    old["config"] = {k: v for k, v in cfg.to_json().items() if k != "extreme_ops"}
    del old["supernet"]
    old["epoch"] = 1
    save_checkpoint(path, old, kind="supernet")
    res = train_supernet(build_supernet("hybrid", "1x32x32", 10, settings=SMALL), data, cfg, out_dir=path.parent,
                         resume=True)
    assert res["epochs"] == 2
    with pytest.raises(NasError, match="other settings"):
        train_supernet(build_supernet("hybrid", "1x32x32", 10, settings=SMALL), data,
                       dataclasses.replace(cfg, num_random=3), out_dir=path.parent, resume=True)
