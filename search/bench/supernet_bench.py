"""Measurements of a supernet: parity, training cost, ranking quality, weight inheritance.

Used by ``nas bench supernet`` (small settings) and ``experiments/benchmarks/supernet_*.py`` (the
figures in the issue). Every function takes its sizes and seeds as arguments and returns plain values.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.searchspace.architecture import Architecture
from nas.supernet.finetune import FinetuneSettings
from nas.supernet.network import Supernet, build_supernet
from nas.supernet.train import SupernetTrainConfig
from nas.training.datasets import DatasetSplits


def parity(net: Supernet, n: int, seed: int = 0, batch: int = 2) -> float:
    """Largest |supernet(x, arch) − extract(arch)(x)| in eval mode over ``n`` sampled architectures."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *net.input.shape(1)[1:], generator=gen)
    was = net.training
    net.eval()
    worst = 0.0
    with torch.no_grad():
        for _ in range(n):
            a = net.sample(rng)
            worst = max(worst, float((net(x, a) - net.extract(a).eval()(x)).abs().max()))
    net.train(was)
    return worst


def spread_over_flops(net: Supernet, n: int, seed: int = 0, pool: int = 400) -> list[Architecture]:
    """``n`` distinct architectures at evenly spaced FLOPs quantiles of ``pool`` uniform draws."""
    rng = np.random.default_rng(seed)
    cands = list(dict.fromkeys(net.sample(rng) for _ in range(pool)))
    cands.sort(key=lambda a: analytic_costs(net.space.resolve(a)).flops)
    idx = np.unique(np.round(np.linspace(0, len(cands) - 1, n)).astype(int))
    return [cands[i] for i in idx]


def _step_cost_child(space: str, input: str | None, batch: int, mode: str, steps: int,
                     settings: dict[str, Any] | None = None, body: str = "shared",
                     config: dict[str, Any] | None = None) -> dict[str, float]:
    from nas.supernet.sampling import make_sampler
    from nas.supernet.train import sandwich_step, step_archs
    from nas.training.trainer import is_image_batch

    torch.manual_seed(0)
    net = build_supernet(space, input, 10, settings=settings, body=body).train()
    cfg = SupernetTrainConfig.from_json(config) if config is not None else SupernetTrainConfig()
    sampler = make_sampler(cfg.sampler, net.space, seed=cfg.seed)
    x = torch.randn(batch, *net.input.shape(1)[1:])
    y = torch.randint(0, net.space.num_classes, (batch,))
    if is_image_batch(x):  # the layout train_supernet trains in
        net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    largest = net.largest()
    archs = [step_archs(net, sampler, cfg.seed, i, cfg.num_random, cfg.extreme_ops) for i in range(steps + 2)]

    def one(i: int) -> None:
        net.zero_grad(set_to_none=True)
        if mode == "sandwich":
            sandwich_step(net, archs[i], x, y, cfg)
        else:
            torch.nn.functional.cross_entropy(net(x, largest), y).backward()

    # warm up on every subnet first (oneDNN builds a kernel per new shape), then time
    for i in range(steps + 2):
        one(i)
    whole = _peak_rss_mib()
    reset = _reset_peak_rss()
    t0 = time.perf_counter()
    for i in range(steps):
        one(i)
    seconds = (time.perf_counter() - t0) / steps
    steps_peak = _peak_rss_mib() if reset else None
    return {"seconds": seconds, "peak_rss_mib": max(whole, steps_peak or 0.0), "steps_peak_rss_mib": steps_peak,
            "subnets_per_step": len(archs[0]) if mode == "sandwich" else 1}


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident memory (Linux: ``5`` to ``/proc/self/clear_refs``), so the peak
    read after the timed steps is theirs, not building the supernet's; False where the system cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` (Linux; since the last reset), else
    ``ru_maxrss``. Not ``ru_maxrss`` on Linux: a child started by fork + exec inherits there the peak
    its parent had at the fork, so two children of one large parent both report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_cost(space: str, input: str, batch: int, steps: int = 3,
              settings: dict[str, Any] | None = None, body: str = "shared",
              config: SupernetTrainConfig | None = None) -> dict[str, Any]:
    """One sandwich step (of ``config``: its ``num_random``, sampler, extremes and distillation) vs one
    largest-subnet step: seconds each (same machine, same run, alternating fresh processes so neither
    inherits the other's memory), each process's peak resident memory (``peak_rss_mib``, building the
    supernet included) and the peak during the timed steps alone (``steps_peak_rss_mib``; None where
    the system cannot reset the peak)."""
    out: dict[str, Any] = {}
    cfg = config.to_json() if config is not None else None
    for mode in ("largest", "sandwich"):
        code = ("import json,sys; from nas.search.bench.supernet_bench import _step_cost_child as f; "
                f"print(json.dumps(f({space!r}, {input!r}, {batch}, {mode!r}, {steps}, {settings!r}, {body!r}, "
                f"{cfg!r})))")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out[mode] = json.loads(res.stdout.strip().splitlines()[-1])
    out["sandwich_step_time_ratio"] = out["sandwich"]["seconds"] / out["largest"]["seconds"]
    return out


def kendall(a: list[float], b: list[float]) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def kendall_interval(a: list[float], b: list[float], resamples: int = 2000, seed: int = 0) -> list[float]:
    """The 95 % percentile-bootstrap interval of Kendall τ between ``a`` and ``b``, resampling the pairs
    (the subnets) with replacement, seeded: how far τ itself moves with which subnets were drawn. A
    resample whose τ is undefined (every value alike) is left out; none defined gives [nan, nan]."""
    # by hand, not scipy.stats.bootstrap: that cannot leave out the resamples where τ is undefined
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    picks = np.random.default_rng(seed).integers(len(x), size=(resamples, len(x)))
    taus = np.array([kendall(x[i], y[i]) for i in picks], dtype=float)
    taus = taus[np.isfinite(taus)]
    if not taus.size:
        return [math.nan, math.nan]
    return [float(v) for v in np.percentile(taus, [2.5, 97.5])]


def ranking(net: Supernet, data: DatasetSplits, archs: list[Architecture], standalone: list[float], *,
            bn_images: int, seed: int = 0, split: str = "valid",
            finetune: FinetuneSettings | None = None) -> dict[str, Any]:
    """Kendall τ against ``standalone`` accuracies of inherited accuracy on ``split`` (with and without BN
    recalibration; ``kendall_tau_ci95``: the former's bootstrap interval over the subnets) and of params,
    FLOPs and synflow on the same subnets. With ``finetune``, also of the
    inherited subnets after its steps (``kendall_tau_finetuned``) and, the control, of the same steps
    from scratch (``kendall_tau_scratch_steps``)."""
    from nas.predictors.score import SCORES
    from nas.supernet.finetune import finetuned_accuracy, scratch_accuracy
    from nas.supernet.train import subnet_accuracy

    specs = [net.space.resolve(a) for a in archs]
    cols: dict[str, list[float]] = {
        "inherited": [subnet_accuracy(net, a, data, bn_images=bn_images, seed=seed, split=split) for a in archs],
        "inherited_no_bn_recal": [subnet_accuracy(net, a, data, recalibrate=False, split=split) for a in archs],
        "params": [analytic_costs(s).params for s in specs], "flops": [analytic_costs(s).flops for s in specs]}
    synflow = SCORES.get("synflow")()
    cols["synflow"] = [synflow(s) for s in specs]
    taus = {"kendall_tau": "inherited", "kendall_tau_no_bn_recal": "inherited_no_bn_recal",
            "kendall_tau_params": "params", "kendall_tau_flops": "flops", "kendall_tau_synflow": "synflow"}
    out: dict[str, Any] = {}
    if finetune is not None:
        cols["finetuned"] = [finetuned_accuracy(net, a, data, finetune, bn_images=bn_images, split=split, seed=seed)
                             for a in archs]
        cols["scratch_steps"] = [scratch_accuracy(net, a, data, finetune, split=split, seed=seed) for a in archs]
        taus.update({"kendall_tau_finetuned": "finetuned", "kendall_tau_scratch_steps": "scratch_steps"})
        out["finetune"] = {"steps": finetune.steps, "batch_size": finetune.batch_size, "lr": finetune.lr}
    out.update({k: kendall(cols[c], standalone) for k, c in taus.items()})
    out["kendall_tau_ci95"] = kendall_interval(cols["inherited"], standalone, seed=seed)
    out["rows"] = [{"digest": a.digest(), "arch": a.to_json(), "standalone": standalone[i],
                    **{c: v[i] for c, v in cols.items()}} for i, a in enumerate(archs)]
    return out


def bench_data(input: str, train_images: int) -> DatasetSplits:
    """mnist5k at ``input`` with a seeded random ``train_images`` subset of its training split (a prefix
    of a split stored class by class would hold few classes); valid and test whole."""
    from dataclasses import replace

    from nas.training.datasets import Split, load_dataset

    data = load_dataset("mnist5k", resize=input)
    pick = torch.from_numpy(np.random.default_rng(0).permutation(len(data.train))[:train_images])
    return replace(data, train=Split(data.train.x[pick], data.train.y[pick]))


def supernet_config(epochs: int, batch: int, bn_images: int, optimizer: str,
                    options: dict[str, Any] | None = None) -> SupernetTrainConfig:
    """The bench's supernet settings: its own flags plus ``options`` (other ``SupernetTrainConfig``
    fields); a one-line NasError for an unknown field, a bad value, or a field one of the flags sets."""
    flagged = {"epochs": "--supernet-epochs", "batch_size": "--batch", "bn_images": "--bn-images",
               "optimizer": "--optimizer"}
    for key in options or {}:
        if key in flagged:
            raise NasError(f"supernet option {key!r} is set by {flagged[key]}, not --supernet-option")
    base = SupernetTrainConfig(epochs=epochs, batch_size=batch, bn_images=bn_images, optimizer=optimizer)
    return SupernetTrainConfig.from_json({**base.to_json(), **(options or {})})


STANDALONE_NAME = "standalone.json"
#: the weight-inheritance check's from-scratch trainings (largest and smallest, as many epochs as the supernet)
SCRATCH_NAME = "scratch.json"


class StandaloneCache:
    """Stand-alone accuracies already measured, in ``path`` (written atomically after each network), so
    an interrupted bench, or another bench on the same subnets with another supernet, does not train
    them again. Entries count only under the same ``key`` (schedule, space, data); another key starts
    the file afresh. The bench keeps two: the ranking's reference (``STANDALONE_NAME``) and the weight
    inheritance's from-scratch trainings (``SCRATCH_NAME``)."""

    def __init__(self, path: Path, key: dict[str, Any]) -> None:
        from nas.io import read_json

        self.path, self.key = path, json.loads(json.dumps(key))
        old = read_json(path, "stand-alone results") if path.is_file() else None
        self.results: dict[str, dict[str, float]] = (old["results"] if isinstance(old, dict)
                                                     and old.get("key") == self.key else {})
        self.reused = 0

    def take_from(self, source: Path, strict: bool = True) -> int:
        """Copy into this cache the entries of another bench's file of the same name (``source`` is its
        run folder, or the file itself) measured under the same key; a missing file or another key is a
        one-line NasError, or with ``strict=False`` takes nothing. Returns the number of entries taken.
        Only this cache's own file is written."""
        from nas.io import read_json, write_json_atomic

        path = source / self.path.name if source.is_dir() else source
        if not path.is_file():
            if not strict:
                return 0
            raise NasError(f"no stand-alone results at {str(path)!r} (a bench run folder or its {self.path.name})")
        other = read_json(path, "stand-alone results")
        if not isinstance(other, dict) or not isinstance(other.get("results"), dict):
            raise NasError(f"{str(path)!r} does not hold stand-alone results")
        if other.get("key") != self.key:
            if not strict:
                return 0
            raise NasError(f"stand-alone results in {str(path)!r} were trained with other settings (schedule, "
                           "space or data) than this bench's")
        new = {k: v for k, v in other["results"].items() if k not in self.results}
        self.results.update(new)
        if new:
            write_json_atomic(self.path, {"key": self.key, "results": self.results}, indent=1)
        return len(new)

    def get(self, arch: Architecture, seed: int) -> dict[str, float] | None:
        got = self.results.get(f"{arch.digest()}/{seed}")
        self.reused += got is not None
        return got

    def put(self, arch: Architecture, seed: int, accs: dict[str, float]) -> dict[str, float]:
        from nas.io import write_json_atomic

        self.results[f"{arch.digest()}/{seed}"] = accs
        write_json_atomic(self.path, {"key": self.key, "results": self.results}, indent=1)
        return accs


def measure(space: str = "mobilenet", input: str = "1x16x16", train_images: int = 1500, batch: int = 50,
            supernet_epochs: int = 5, standalone_epochs: int = 2, subnets: int = 24, bn_images: int = 500,
            optimizer: str = "adamw", out: str | Path = "runs/supernet-measure",
            settings: dict[str, Any] | None = None, rank_split: str = "valid",
            standalone_seeds: int = 1, supernet_options: dict[str, Any] | None = None,
            body: str = "shared", finetune_steps: int = 0,
            standalone_from: str | Path | None = None) -> dict[str, Any]:
    """Step cost, a supernet trained on a seeded random ``train_images`` subset of mnist5k, the ranking
    of ``subnets`` subnets spread over FLOPs against stand-alone training, and weight inheritance for the
    largest and smallest subnets (against the mean of ``standalone_seeds`` from-scratch trainings of as
    many epochs as the supernet's). The ranking compares accuracies on ``rank_split`` (valid or test;
    test is 1,000 images on mnist5k, valid 400: less sampling noise between close subnets). Each
    subnet is trained alone ``standalone_seeds`` times (weights and data order seeded 0, 1, ...); the
    reference is the mean, and with two or more seeds ``kendall_tau_seed_to_seed`` (seed 0 vs seed 1)
    shows how far the reference ranking itself is noise; with four or more, ``kendall_tau_split_half``
    (mean of the even seeds vs mean of the odd ones) is about the best τ any predictor can reach against
    a reference of half as many seeds. A finished (or interrupted) supernet already
    in ``out/supernet`` with the same settings is resumed, not retrained; so are stand-alone results in
    ``out/standalone.json``, and the inheritance check's from-scratch trainings in ``out/scratch.json``.
    ``supernet_options`` sets other ``SupernetTrainConfig`` fields (e.g.
    ``num_random``, ``distill``, ``sampler``); ``body`` is the supernet's (``Supernet``).
    ``finetune_steps`` > 0 also ranks the inherited subnets after that many fine-tuning steps, and the
    same steps from scratch (``ranking``). ``standalone_from`` (another bench's run folder or its
    ``standalone.json``) supplies stand-alone results measured there under the same settings, and that
    folder's from-scratch trainings where they had as many epochs as this supernet. Writes
    ``out/measure.json`` as it goes; returns the same object."""
    import os
    from dataclasses import replace

    from nas.io import write_json_atomic
    from nas.supernet.train import subnet_accuracy, train_supernet
    from nas.training.trainer import TrainConfig, build_model, train

    if rank_split not in ("valid", "test"):
        raise NasError(f"rank split {rank_split!r} not allowed; allowed: valid, test")
    cfg = supernet_config(supernet_epochs, batch, bn_images, optimizer, supernet_options)
    finetune = FinetuneSettings(finetune_steps, batch_size=batch) if finetune_steps else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run_settings = {"space": space, "input": input, "train_images": train_images, "batch": batch,
                "supernet_epochs": supernet_epochs, "standalone_epochs": standalone_epochs, "subnets": subnets,
                "bn_images": bn_images, "optimizer": optimizer, "space_settings": settings or {},
                    "rank_split": rank_split, "standalone_seeds": standalone_seeds,
                    "supernet_options": supernet_options or {}, "body": body, "finetune_steps": finetune_steps}
    res: dict[str, Any] = {"settings": run_settings, "loadavg_start": os.getloadavg()}

    def save() -> None:
        write_json_atomic(out / "measure.json", res, indent=2)

    t0 = time.time()
    data = bench_data(input, train_images)
    if finetune is not None:
        finetune.check(data)
    net = build_supernet(space, data.input_type, data.num_classes, seed=0, settings=settings, body=body)
    sa_cfg = TrainConfig(epochs=standalone_epochs, batch_size=batch, zero_init_residual=False, optimizer=optimizer)
    cache = StandaloneCache(out / STANDALONE_NAME, {"config": sa_cfg.to_json(), "space": net.config(),
                                                    "data": data.name, "train_images": train_images})
    scratch_cfg = replace(sa_cfg, epochs=supernet_epochs)
    scratch = StandaloneCache(out / SCRATCH_NAME, {**cache.key, "config": scratch_cfg.to_json()})
    if standalone_from is not None:  # checked before any training: a wrong source fails in one line now
        res["standalone_taken"] = cache.take_from(Path(standalone_from))
        src = Path(standalone_from)  # and its from-scratch trainings, where they had this supernet's epochs
        res["scratch_taken"] = scratch.take_from(src if src.is_dir() else src.parent, strict=False)
    res["step_cost"] = step_cost(space, input, batch, settings=settings, body=body, config=cfg)
    res["sandwich_step_time_ratio"] = res["step_cost"]["sandwich_step_time_ratio"]
    save()
    res["data"] = {"train": len(data.train), "valid": len(data.valid), "test": len(data.test)}
    t = time.time()
    sres = train_supernet(net, data, cfg, out_dir=out / "supernet",
                          resume=(out / "supernet" / "supernet.pt").is_file())
    res["supernet"] = {"seconds": time.time() - t, "train_seconds": sres["train_seconds"], "history": sres["history"],
                       "config": cfg.to_json()}
    save()
    net.eval()
    archs = spread_over_flops(net, subnets, seed=1)
    per_seed: list[list[float]] = []
    t = time.time()
    for a in archs:
        accs = []
        for sd in range(standalone_seeds):
            got = cache.get(a, sd)
            if got is None:
                r = train(build_model(net.space.resolve(a), seed=sd), data, replace(sa_cfg, seed=sd))
                got = cache.put(a, sd, {"valid": r.valid_accuracy, "test": r.test_accuracy})
            accs.append(got[rank_split])
        per_seed.append(accs)
        res["standalone_partial"] = per_seed
        save()
    res["standalone_reused"] = cache.reused
    standalone = [float(np.mean(accs)) for accs in per_seed]
    res["standalone"] = {"seconds": time.time() - t, "config": sa_cfg.to_json()}
    res.update(ranking(net, data, archs, standalone, bn_images=bn_images, split=rank_split, finetune=finetune))
    res["standalone_spread"] = {"min": min(standalone), "max": max(standalone), "std": float(np.std(standalone))}
    if standalone_seeds > 1:
        res["kendall_tau_seed_to_seed"] = kendall([p[0] for p in per_seed], [p[1] for p in per_seed])
        res["standalone_seed_mean_abs_diff"] = float(np.mean([abs(p[0] - p[1]) for p in per_seed]))
    if standalone_seeds >= 4:  # how well one half of the reference's seeds ranks the other: its noise ceiling
        res["kendall_tau_split_half"] = kendall([float(np.mean(p[0::2])) for p in per_seed],
                                                [float(np.mean(p[1::2])) for p in per_seed])
    save()
    inherit: dict[str, Any] = {}
    for name, a in (("largest", net.largest()), ("smallest", net.smallest())):
        inh_valid = subnet_accuracy(net, a, data, bn_images=bn_images)
        inh_test = subnet_accuracy(net, a, data, bn_images=bn_images, split="test")
        runs = []
        for sd in range(standalone_seeds):  # as many seeds as the reference: one seed's luck decides no goal
            got = scratch.get(a, sd)
            if got is None:
                r = train(build_model(net.space.resolve(a), seed=sd), data, replace(scratch_cfg, seed=sd))
                got = scratch.put(a, sd, {"valid": r.valid_accuracy, "test": r.test_accuracy})
            runs.append(got)
        inherit[name] = {"inherited_valid": inh_valid, "inherited_test": inh_test,
                         "scratch_valid": float(np.mean([g["valid"] for g in runs])),
                         "scratch_test": float(np.mean([g["test"] for g in runs])),
                         "scratch_test_per_seed": [g["test"] for g in runs], "epochs": supernet_epochs}
        res["weight_inheritance"] = inherit
        res["scratch_reused"] = scratch.reused
        save()
    res["total_seconds"] = time.time() - t0
    res["loadavg_end"] = os.getloadavg()
    res["threads"] = torch.get_num_threads()
    save()
    return res
