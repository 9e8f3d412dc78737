"""Supernets: parity with extracted subnets, errors before tensor work, BN recalibration, resume after
SIGKILL, extraction/export and its bad inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.errors import NasError
from nas.searchspace import Architecture, TensorType
from nas.searchspace.space import SPACES

sys.path.insert(0, str(Path(__file__).parent))
import _supernet_tiny  # noqa: E402

from nas.cli.main import main  # noqa: E402
from nas.supernet import build_supernet  # noqa: E402
from nas.supernet.bn import recalibrate_bn  # noqa: E402
from nas.training.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402

WORKER = Path(__file__).parent / "_supernet_worker.py"


@pytest.fixture(autouse=True, scope="module")
def _tiny_space():
    _supernet_tiny.register()
    yield
    _supernet_tiny.unregister()


def _parity(net, archs, x) -> float:
    net.eval()
    worst = 0.0
    with torch.no_grad():
        for a in archs:
            model = net.extract(a).eval()
            ref = net.space.resolve(a).build()
            assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
            worst = max(worst, float((net(x, a) - model(x)).abs().max()))
    return worst


@pytest.fixture(scope="module")
def mobilenet():
    return build_supernet("mobilenet", "1x16x16", 10, seed=0)


def test_mobilenet_parity_random_and_extreme_subnets(mobilenet):
    rng = np.random.default_rng(0)
    archs = [mobilenet.largest(), mobilenet.smallest()] + [mobilenet.sample(rng) for _ in range(2)]
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert _parity(mobilenet, archs, x) <= 1e-5
    assert mobilenet.largest()["d1"] == 4 and mobilenet.largest()["k1_1"] == 7 and mobilenet.smallest()["e5_2"] == 3


def test_extracted_traced_flops_equal_analytic(mobilenet):
    from torch.utils.flop_counter import FlopCounterMode

    a = mobilenet.sample(np.random.default_rng(5))
    spec = mobilenet.space.resolve(a)
    model = mobilenet.extract(a).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 1, 16, 16))
    counted = sum(layer.macs() - layer.spec.uncounted_macs(layer.in_type, layer.hp) for layer in spec.layers)
    assert counter.get_total_flops() == 2 * counted


def test_invalid_architecture_fails_naming_the_gene(mobilenet):
    bad = mobilenet.largest().replace(k1_1=9)
    with pytest.raises(NasError, match="k1_1=9 not allowed"):
        mobilenet(torch.randn(1, 1, 16, 16), bad)
    with pytest.raises(NasError, match="from space 'nb201'"):
        mobilenet.extract(Architecture("nb201", mobilenet.largest().genes))


def test_nb201_parity_one_weight_set_per_edge_choice():
    space = SPACES.get("nb201")(input=TensorType.map(1, 8, 8), channels=4, cells=1)
    net = build_supernet(space)
    rng = np.random.default_rng(1)
    x = torch.randn(2, 1, 8, 8)
    assert _parity(net, [net.sample(rng) for _ in range(10)], x) <= 1e-5
    # one module per parametric op on each of the 6 edges of each cell (3 cells), shared across archs
    convs = [n for n in net.state_dict() if n.endswith("nor_conv_3x3.1.weight")]
    assert len(convs) == 6 * 3


def test_op_choice_position_and_unexportable_op_parity():
    net = build_supernet("tiny_test", seed=0)
    archs = [Architecture("tiny_test", {"width": w, "depth": d, "kernel": k, "mixer": m})
             for w in (4, 8) for d in (1, 2) for k in (3, 5) for m in ("mbconv", "fft_filter")]
    assert _parity(net, archs, torch.randn(3, 1, 8, 8)) <= 1e-5


def _narrow_and_wide(op: str, t_narrow: TensorType, t_wide: TensorType, hp: dict):
    from nas.searchspace.netspec import Layer
    from nas.searchspace.op_spec import OPS
    from nas.supernet.elastic import build_position

    spec = OPS.get(op)
    layers = [Layer("l", op, spec.check(t, hp), t, t) for t in (t_narrow, t_wide)]
    torch.manual_seed(0)
    pos = build_position(op, [(la.in_type, la.hp) for la in layers])
    return pos, layers, [pos.extract(la) for la in layers]


@pytest.mark.parametrize("op", ["mhsa", "window_attention", "linear_attention"])
def test_a_narrow_attention_subnet_reads_the_wide_ones_q_k_and_v_blocks(op):
    """A fused qkv Linear D→3D is cut block by block: the narrow subnet's k is the wide one's k (a plain
    prefix of 3D rows would hand it the wide q's upper half as k, and the wide k as v)."""
    hp = {"heads": 1, **({"window": 2} if op == "window_attention" else {})}
    pos, layers, (narrow, wide) = _narrow_and_wide(op, TensorType.seq(8, 2, 2), TensorType.seq(16, 2, 2), hp)
    for block in range(3):
        assert torch.equal(narrow.qkv.weight[8 * block:8 * block + 8], wide.qkv.weight[16 * block:16 * block + 8, :8])
        assert torch.equal(narrow.qkv.bias[8 * block:8 * block + 8], wide.qkv.bias[16 * block:16 * block + 8])
    x = torch.randn(2, 4, 8)
    assert float((pos(x, layers[0]) - narrow(x)).detach().abs().max()) <= 1e-6
    wide_weight = next(p for n, p in pos.named_parameters() if n.endswith("qkv__weight"))
    assert wide_weight.shape == (48, 16)


def test_a_narrow_mamba_reads_the_wide_ones_gate_and_its_b_and_c_blocks():
    """Mamba's in_proj stacks x and the gate z; x_proj stacks Δ's rank-R input, B and C, with R = ⌈D/16⌉
    growing with the width: each block is cut on its own."""
    hp = {"state": 4, "expand": 1, "conv_kernel": 2}
    pos, layers, (narrow, wide) = _narrow_and_wide("mamba", TensorType.seq(16, 2, 2), TensorType.seq(48, 2, 2), hp)
    assert (narrow.rank, wide.rank) == (1, 3)
    assert torch.equal(narrow.in_proj.weight[16:], wide.in_proj.weight[48:64, :16])  # the gate z
    assert torch.equal(narrow.x_proj.weight[0], wide.x_proj.weight[0, :16])          # Δ's rank input
    assert torch.equal(narrow.x_proj.weight[1:], wide.x_proj.weight[3:, :16])         # B and C
    x = torch.randn(2, 4, 16)
    assert float((pos(x, layers[0]) - narrow(x)).detach().abs().max()) <= 1e-6


def test_a_store_keeps_the_largest_cases_own_initial_weights_where_cases_grow_along_different_axes():
    from nas.searchspace.hparams import HParams
    from nas.searchspace.op_spec import OPS
    from nas.supernet.elastic import SlicedPosition, shared_tensors

    spec = OPS.get("conv")
    wide_in = (TensorType.map(8, 6, 6), HParams({**spec.defaults, "out": 6}))  # weight 6x8x3x3: the largest
    wide_out = (TensorType.map(4, 6, 6), HParams({**spec.defaults, "out": 8}))  # 8x4x3x3
    torch.manual_seed(0)
    (store,) = SlicedPosition(spec, [wide_in, wide_out]).groups.values()
    torch.manual_seed(0)
    largest = shared_tensors(spec.build(*wide_in))  # the first real build the store made
    w = store.get("0.weight").detach()
    assert w.shape == (8, 8, 3, 3)
    assert torch.equal(w[:6], largest["0.weight"].detach())  # the smaller case wrote none of these
    assert bool(w[6:, :4].abs().sum() > 0) and torch.equal(w[6:, 4:], torch.zeros(2, 4, 3, 3))  # reached by no case
    assert torch.equal(store.get("1.weight").detach()[:6], largest["1.weight"].detach())


def test_a_checkpoint_of_the_old_weight_layout_is_refused_only_where_the_layout_changed(tmp_path):
    from nas.supernet.train import WEIGHT_LAYOUT, load_supernet

    settings = {"width_mult": 0.25, "max_depth": 1, "mixers": ["mhsa", "identity"]}
    net = build_supernet("hybrid", "1x32x32", 10, settings=settings)
    assert net.has_stacked_tensors()
    payload = {"model": net.state_dict(), "space": net.config(), "data": {"name": "digits"}}
    save_checkpoint(tmp_path / "old.pt", payload, kind="supernet")
    with pytest.raises(NasError, match=r"weight layout 1, .*train the supernet again") as err:
        load_supernet(tmp_path / "old.pt")
    assert "\n" not in str(err.value)
    save_checkpoint(tmp_path / "new.pt", {**payload, "weight_layout": WEIGHT_LAYOUT}, kind="supernet")
    assert load_supernet(tmp_path / "new.pt")[0].has_stacked_tensors()
    # no attention, nothing stacked: an old checkpoint means what it meant
    tiny = build_supernet("tiny_test", seed=0)
    assert not tiny.has_stacked_tensors()
    save_checkpoint(tmp_path / "tiny.pt", {"model": tiny.state_dict(), "space": tiny.config(),
                                           "data": {"name": "digits"}}, kind="supernet")
    assert not load_supernet(tmp_path / "tiny.pt")[0].has_stacked_tensors()


def test_bn_recalibration_is_the_exact_mean_over_images():
    bn = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    images = torch.randn(400, 3, 4, 4) * 2 + 1
    recalibrate_bn(bn, images, batch_size=100)
    torch.testing.assert_close(bn[0].running_mean, images.mean((0, 2, 3)), rtol=0, atol=1e-5)
    per_batch = torch.stack([images[i:i + 100].var((0, 2, 3)) for i in range(0, 400, 100)]).mean(0)
    torch.testing.assert_close(bn[0].running_var, per_batch, rtol=1e-5, atol=1e-5)
    assert bn[0].momentum == 0.1 and not bn.training


def _train_args(out: Path, *extra: str) -> list[str]:
    return ["supernet", "train", "--space", "tiny_test", "--data", "digits", "--epochs", "3", "--batch-size", "256",
            "--bn-images", "64", "--out", str(out), "--no-progress", *extra]


def test_sigkill_then_resume_gives_the_same_weights(tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(WORKER), "cli", *_train_args(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = killed / "supernet.pt"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and load_checkpoint(ckpt, "supernet")["epoch"] >= 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert load_checkpoint(ckpt, "supernet")["epoch"] < 3
    assert main(_train_args(killed, "--resume")) == 0
    full = tmp_path / "full"
    assert main(_train_args(full)) == 0
    a, b = load_checkpoint(ckpt, "supernet"), load_checkpoint(full / "supernet.pt", "supernet")
    assert a["epoch"] == b["epoch"] == 3
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    net = build_supernet("tiny_test", seed=0)
    path = tmp_path_factory.mktemp("tiny") / "supernet.pt"
    save_checkpoint(path, {"model": net.state_dict(), "space": net.config(), "data": {"name": "digits"}},
                    kind="supernet")
    return net, path


def test_extract_writes_a_model_load_model_rebuilds(tiny_checkpoint, tmp_path, capsys):
    from nas.supernet.export import load_model

    net, path = tiny_checkpoint
    arch = Architecture("tiny_test", {"width": 4, "depth": 2, "kernel": 5, "mixer": "mbconv"})
    out = tmp_path / "m.pt"
    assert main(["extract", str(path), "--arch", arch.canonical_json(), "-o", str(out), "--bn-images", "0",
                 "--torchscript", "--onnx", "--format", "json"]) == 0
    x = torch.randn(2, 1, 8, 8)
    model = load_model(out)
    with torch.no_grad():
        ref = net.eval()(x, arch)
        assert float((model(x) - ref).abs().max()) <= 1e-5
        assert float((torch.jit.load(str(out.with_suffix(".torchscript.pt")))(x) - ref).abs().max()) <= 1e-5
    assert out.with_suffix(".onnx").stat().st_size > 0
    assert torch.load(out, weights_only=True)["arch"] == arch.to_json()
    # the output lock is taken beside the file and leaves nothing behind in the user's folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.pt", "m.torchscript.pt"]


def test_extract_refuses_an_output_another_process_is_writing(tiny_checkpoint, tmp_path, capsys):
    from nas.lock import OutputFileLock

    _, path = tiny_checkpoint
    out = tmp_path / "m.pt"
    with OutputFileLock(out):
        err = _bad(["extract", str(path), "--arch", "largest", "-o", str(out), "--bn-images", "0"], capsys, out)
    assert f"output file {str(out)!r} is in use by process {os.getpid()}" in err and "give another -o" in err
    assert main(["extract", str(path), "--arch", "largest", "-o", str(out), "--bn-images", "0"]) == 0
    assert torch.load(out, weights_only=True)["arch"]["genes"]["width"] == 8


def _bad(argv, capsys, out: Path) -> str:
    out.write_text("old")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert out.read_text() == "old"
    return err


def test_extract_bad_inputs_one_line_exit_2_nothing_overwritten(tiny_checkpoint, tmp_path, capsys):
    _, path = tiny_checkpoint
    out = tmp_path / "m.pt"
    fft = '{"space":"tiny_test","genes":{"width":8,"depth":1,"kernel":3,"mixer":"fft_filter"}}'
    err = _bad(["extract", str(path), "--arch", fft, "-o", str(out), "--bn-images", "0", "--onnx"], capsys, out)
    assert "layer 'mix1' (op 'fft_filter') cannot export to ONNX" in err
    assert not out.with_suffix(".onnx").exists()
    err = _bad(["extract", str(path), "--arch", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                "-o", str(out)], capsys, out)
    assert "from space 'nb201', not 'tiny_test'" in err
    outside = '{"space":"tiny_test","genes":{"width":16,"depth":1,"kernel":3,"mixer":"mbconv"}}'
    err = _bad(["extract", str(path), "--arch", outside, "-o", str(out)], capsys, out)
    assert "width=16 not allowed" in err
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    err = _bad(["extract", str(truncated), "--arch", "largest", "-o", str(out)], capsys, out)
    assert "corrupt or truncated" in err
    other = tmp_path / "train.pt"
    save_checkpoint(other, {"model": {}}, kind="train")
    err = _bad(["extract", str(other), "--arch", "largest", "-o", str(out)], capsys, out)
    assert "is a 'train' checkpoint; expected 'supernet'" in err
    nb = tmp_path / "nb.pt"
    save_checkpoint(nb, {"model": {}, "space": {"space": "nb201", "input": "1x8x8", "num_classes": 10,
                                                "channels": 4, "cells": 1}}, kind="supernet")
    err = _bad(["extract", str(nb), "--arch", fft, "-o", str(out)], capsys, out)
    assert "does not hold a usable supernet" in err


def test_supernet_train_bad_values(tmp_path, capsys):
    out = tmp_path / "o"
    for extra, needle in ((["--sampler", "greedy"], "sampler='greedy' not allowed"),
                          (["--epochs", "0"], "epochs=0 not allowed"),
                          (["--resume"], "nothing to resume")):
        assert main(_train_args(out, *extra)) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1
    assert not (out / "supernet.pt").exists()


def test_search_with_the_supernet_evaluator_caches_per_architecture(tiny_checkpoint, tmp_path, capsys):
    import json

    from nas.search.app.supernet_eval import SupernetEvaluator
    from nas.search.space_ref import SpaceRef

    _, path = tiny_checkpoint
    assert main(["search", "--space", "tiny_test", "--evaluator", "supernet", "--supernet", str(path), "--trials", "4",
                 "--strategy", "random", "--out", str(tmp_path / "s"), "--format", "json", "--no-progress"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto"]
    assert front and all(0.0 <= p["valid_accuracy"] <= 1.0 for p in front)
    ev = SupernetEvaluator(SpaceRef("tiny_test"), str(path), "digits", bn_images=64)
    arch = Architecture("tiny_test", {"width": 4, "depth": 1, "kernel": 3, "mixer": "mbconv"})
    first, second = ev(arch), ev(arch)
    assert first.metrics == second.metrics and not first.info["cached"] and second.info["cached"]


def test_search_supernet_evaluator_bad_inputs(tiny_checkpoint, tmp_path, capsys):
    _, path = tiny_checkpoint
    base = ["search", "--trials", "2", "--strategy", "random", "--out", str(tmp_path / "s"), "--no-progress",
            "--evaluator", "supernet"]
    for extra, needle in ((["--space", "tiny_test"], "needs --supernet"),
                          (["--space", "nb201", "--supernet", str(path)], "covers space 'tiny_test'")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_flops_stratified_sampler_fills_every_band():
    from nas.supernet.sampling import FlopsStratifiedSampler

    space = SPACES.get("nb201")(input=TensorType.map(1, 8, 8), channels=4, cells=1)
    sampler = FlopsStratifiedSampler(space, strata=4, probe=200, seed=0)
    rng = np.random.default_rng(0)
    bands = np.searchsorted(sampler.edges[1:-1], [sampler.flops(sampler.sample(rng)) for _ in range(80)],
                            side="right")
    counts = np.bincount(bands, minlength=4)
    assert counts.min() >= 10 and counts.sum() == 80


def test_fair_sampler_trains_every_op_choice_once_per_step():
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import step_archs

    space = SPACES.get("nb201")(input=TensorType.map(1, 8, 8), channels=4, cells=1)
    net = build_supernet(space)
    sampler = make_sampler("fair", space)
    edges = [d for d in space.dims if not d.ordered]
    assert len(edges) == 6 and all(len(d.choices) == 5 for d in edges)
    for step in range(3):
        drawn = step_archs(net, sampler, 0, step, 5)[2:]  # after the largest and the smallest
        for d in edges:
            assert sorted(a.genes[d.name] for a in drawn) == sorted(d.choices)
    seven = sampler.draw(np.random.default_rng(1), 7)  # more draws than choices: the permutation cycles
    for d in edges:
        counts = [sum(a.genes[d.name] == c for a in seven) for c in d.choices]
        assert sorted(counts) == [1, 1, 1, 2, 2]
    assert step_archs(net, sampler, 0, 4, 5) == step_archs(net, make_sampler("fair", space), 0, 4, 5)  # seeded


def test_step_cost_times_the_configured_sandwich():
    """The step-cost child runs the sandwich of the bench's settings: 2 extremes + ``num_random`` subnets."""
    from nas.search.bench.supernet_bench import _step_cost_child
    from nas.supernet.train import SupernetTrainConfig

    cfg = SupernetTrainConfig(num_random=3, extreme_ops="random").to_json()
    sandwich = _step_cost_child("tiny_test", None, 4, "sandwich", 1, config=cfg)
    assert sandwich["subnets_per_step"] == 5 and sandwich["seconds"] > 0
    assert _step_cost_child("tiny_test", None, 4, "sandwich", 1)["subnets_per_step"] == 4  # the default, 2 random
    assert _step_cost_child("tiny_test", None, 4, "largest", 1, config=cfg)["subnets_per_step"] == 1


def test_step_cost_reports_each_childs_own_peak_memory_not_its_parents():
    """Under Linux a fork + exec child inherits in ``ru_maxrss`` the parent's size at the fork: a bench
    that had loaded its data first saw both children at the parent's 739 MiB. Each child reports its own."""
    from nas.search.bench.supernet_bench import step_cost

    held = torch.ones(600 * 2**20 // 4)  # 600 MiB in this (the parent) process while the children run
    r = step_cost("hybrid", "1x32x32", 16, steps=1,
                  settings={"width_mult": 0.25, "max_depth": 1, "mixers": ["dwconv3", "identity"]})
    assert held.numel() and all(r[m]["peak_rss_mib"] < 550 for m in ("largest", "sandwich"))
    assert all(0 < r[m]["steps_peak_rss_mib"] <= r[m]["peak_rss_mib"] for m in ("largest", "sandwich"))
    assert r["sandwich"]["subnets_per_step"] == 4


def test_ddp_two_processes_match_one_and_checks_side_by_side_do_not_collide():
    """2 gloo processes with the global batch split take the same steps as 1 process with the whole
    batch (float summation order aside: 6e-7 after 3 steps here); two checks at once each get a free
    rendezvous port (a fixed one failed the second with EADDRINUSE)."""
    from concurrent.futures import ThreadPoolExecutor

    from nas.supernet.ddp_check import ddp_check

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: ddp_check(steps=3), range(2)))
    for r in results:
        assert r["processes"] == 2 and r["steps"] == 3
        assert r["ddp_max_abs_diff"] <= 1e-4


def test_a_failed_ddp_run_is_reported_by_its_exception_line_not_torchruns_banner():
    from nas.supernet.ddp_check import _failure_line

    out = ("[rank1]: Traceback (most recent call last):\n[rank1]:   File \"x.py\", line 3\n"
           "[rank1]: RuntimeError: Connection reset by peer\n" + "=" * 56 + "\nsupernet_worker FAILED\n" + "-" * 56 + "\n"
           "Failures:\n  <NO_OTHER_FAILURES>\n" + "=" * 56 + "\n")
    assert _failure_line(out) == "[rank1]: RuntimeError: Connection reset by peer"
    assert _failure_line("=====\nsomething went wrong\n=====\n") == "something went wrong"
    assert _failure_line("") == "no output"


def test_a_space_whose_largest_subnet_cannot_train_in_memory_is_refused_before_any_weight() -> None:
    from nas.hw_models.analytic import params
    from nas.supernet.network import TRAIN_BYTES_PER_PARAM, Supernet, extreme_arch, space_from_config

    space = space_from_config({"space": "nb201", "input": "1x8x8", "num_classes": 10})
    n = params(space.resolve(extreme_arch(space, largest=True)))
    assert TRAIN_BYTES_PER_PARAM == 16  # float32 weight, gradient and AdamW's two moments
    with pytest.raises(NasError) as e:
        Supernet(space, memory_bytes=16 * n - 1)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"space 'nb201' at input 1x8x8: its largest subnet alone has {n / 1e6:,.1f} M parameters")
    assert "cannot be trained here" in msg
    assert sum(p.numel() for p in Supernet(space, memory_bytes=16 * n).parameters()) >= n  # at the bound: built

    # resnet's box: an 8-billion-parameter largest network, refused in seconds instead of killed for memory
    big = space_from_config({"space": "resnet", "input": "1x32x32", "num_classes": 10})
    assert params(big.resolve(extreme_arch(big, largest=True))) == 8_184_222_410
    with pytest.raises(NasError, match=r"has 8,184\.2 M parameters, about 122 GiB to train .* this machine has 24\.0 GiB"):
        Supernet(big, memory_bytes=24 * 2**30)


def test_a_channels_last_sandwich_step_gives_the_gradients_of_the_nchw_one() -> None:
    """train_supernet's layout for image batches computes the same step (in float64, where the two
    layouts' convolution algorithms round alike; in float32 oneDNN's NCHW and NHWC kernels differ
    by their rounding)."""
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import SupernetTrainConfig, sandwich_step, step_archs

    cfg = SupernetTrainConfig(distill=False)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 8, 8, generator=gen, dtype=torch.float64), torch.randint(0, 10, (16,), generator=gen)
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        net = build_supernet("nb201", "1x8x8", 10).train().double().to(memory_format=fmt)
        archs = step_archs(net, make_sampler("uniform", net.space, seed=0), 0, 0, cfg.num_random, cfg.extreme_ops)
        sandwich_step(net, archs, x.contiguous(memory_format=fmt), y, cfg)
        grads.append({k: p.grad for k, p in net.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for k, g in grads[0].items():
        torch.testing.assert_close(grads[1][k], g, rtol=1e-7, atol=1e-9)


def test_extract_finetune_writes_the_finetuned_weights_and_reports_their_accuracy(tiny_checkpoint, tmp_path, capsys):
    import json

    from nas.supernet.export import load_model
    from nas.training.datasets import load_dataset
    from nas.training.trainer import evaluate

    net, path = tiny_checkpoint
    arch = Architecture("tiny_test", {"width": 4, "depth": 2, "kernel": 5, "mixer": "mbconv"})
    out = tmp_path / "ft.pt"
    capsys.readouterr()
    assert main(["extract", str(path), "--arch", arch.canonical_json(), "-o", str(out), "--bn-images", "200",
                 "--finetune", "6", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    data = load_dataset("digits")  # the checkpoint's data, at the supernet's input
    model = load_model(out)
    acc = evaluate(model, data.test)[1]
    # the file holds the fine-tuned weights (6 epochs take the untrained tiny subnet to 0.43 on digits): their
    # test accuracy is the one reported (to 2 images: the two memory layouts round differently), and they
    # moved away from the inherited ones
    assert abs(acc - result["test_accuracy_finetuned"]) <= 2 / len(data.test)
    assert result["test_accuracy_finetuned"] > 0.3 and 0.0 <= result["valid_accuracy_inherited"] <= 1.0
    inherited = net.extract(arch).state_dict()
    assert any(not torch.equal(v, inherited[k]) for k, v in model.state_dict().items() if k.endswith("weight"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ft.pt"]


def test_a_shrunk_resnet_supernet_runs_its_architectures_exactly_as_their_extracted_networks() -> None:
    """resnet's blocks declare in, out, mid and kernel elastic: one weight set per block position and
    shortcut kind, sliced (before, one per case: 437.7 M parameters at these settings, and most sampled
    architectures fell outside the supernet)."""
    net = build_supernet("resnet", "1x16x16", 10, settings={"width_mult": 0.125, "max_depth": 1})
    assert net.config()["width_mult"] == 0.125 and net.config()["max_depth"] == 1
    assert sum(p.numel() for p in net.parameters()) == 10_785_634
    rng = np.random.default_rng(0)
    archs = [net.sample(rng) for _ in range(20)] + [net.largest(), net.smallest()]
    assert _parity(net, archs, torch.randn(2, 1, 16, 16)) <= 1e-5
