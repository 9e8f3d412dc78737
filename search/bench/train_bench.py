"""``nas bench train``: seeded samples of each space under a FLOPs limit, trained with one fixed schedule;
test accuracy min / mean / max per space (selection never looks at the test split).

Networks train in ``jobs`` worker processes of one thread each (small networks use two cores better as
two one-thread trainings than as one two-thread training). With ``out``, every finished network is written
to ``out/bench-train.json`` at once (atomically, under the folder's lock), and a rerun with the same
settings skips the networks already there.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.training.datasets import DatasetSplits, load_dataset
from nas.training.trainer import TrainConfig, build_model, train

SPACE_INPUTS = {"hybrid": "1x32x32", "mobilenet": None, "resnet": None, "nb201": "3x32x32"}
"""The input each space is trained at on MNIST: its own 28×28 where it fits, resized up where the space
downsamples 32× (hybrid) or is defined on 3×32×32 (NB201)."""

RESULT_NAME = "bench-train.json"


def sample_under(space: Any, n: int, max_flops: float, rng: np.random.Generator,
                 max_tries: int = 20000) -> list[tuple[Any, Any, float]]:
    """``n`` distinct (arch, spec, flops) of ``space`` that resolve and stay within ``max_flops``."""
    from nas.hw_models.analytic import analytic_costs

    out, seen = [], set()
    for _ in range(max_tries):
        arch = space.sample(rng)
        if arch.digest() in seen:
            continue
        seen.add(arch.digest())
        try:
            spec = space.resolve(arch)
        except NasError:
            continue
        flops = float(analytic_costs(spec).flops)
        if flops <= max_flops:
            out.append((arch, spec, flops))
            if len(out) == n:
                return out
    raise NasError(f"space {space.name!r}: only {len(out)} of {n} samples under {max_flops / 1e6:g}M FLOPs "
                   f"in {max_tries} tries")


def _space(name: str, data: DatasetSplits) -> Any:
    from nas.searchspace.space import get_space

    return get_space(name, input=data.input_type, num_classes=data.num_classes)


def _train_one(space: str, ds: DatasetSplits, arch: Any, config: TrainConfig) -> dict[str, Any]:
    r = train(build_model(_space(space, ds).resolve(arch), config.seed), ds, config)
    return {"digest": arch.digest(), "valid_accuracy": r.valid_accuracy, "test_accuracy": r.test_accuracy,
            "epochs": r.epochs, "train_seconds": r.train_seconds, "images_per_second": r.images_per_second}


@functools.lru_cache(maxsize=4)
def _worker_dataset(data: str, resize: str | None) -> DatasetSplits:
    """A worker process loads each dataset once (the parent passes its own loaded copy in-process)."""
    return load_dataset(data, resize=resize)


def train_network(space: str, data: str, arch_json: dict[str, Any], config_json: dict[str, Any]) -> dict[str, Any]:
    """Train one sampled network of ``space`` in a one-thread worker process (a top-level function, so
    the pool can pickle it)."""
    import torch

    from nas.searchspace.architecture import Architecture

    torch.set_num_threads(1)
    return _train_one(space, _worker_dataset(data, SPACE_INPUTS[space]), Architecture.from_json(arch_json),
                      TrainConfig.from_json(config_json))


def _summary(name: str, input_: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    test = np.array([r["test_accuracy"] for r in rows])
    best = max(rows, key=lambda r: r["valid_accuracy"])  # picked on valid, reported on test
    return {"space": name, "input": input_, "samples": len(rows),
            "test_accuracy": {"min": float(test.min()), "mean": float(test.mean()), "max": float(test.max())},
            "best_by_valid": best, "networks": rows}


def _load_done(path: Path, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Finished networks of an earlier run with the same settings, by ``space/digest``."""
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise NasError(f"cannot read {str(path)!r} ({e}); remove it or pass another --out") from None
    if doc.get("settings") != settings:
        raise NasError(f"{str(path)!r} holds a bench run with other settings; pass another --out")
    return {f"{r['space']}/{r['digest']}": r for r in doc.get("finished", [])}


def bench_train(spaces: Sequence[str] = tuple(SPACE_INPUTS), *, data: str = "mnist5k", samples: int = 10,
                max_flops: float = 50e6, epochs: int = 30, seed: int = 0, goal: float = 0.985, jobs: int = 1,
                out: str | Path | None = None, log: Callable[[str], None] = lambda m: None,
                **train_options: Any) -> dict[str, Any]:
    """Train ``samples`` seeded networks of every space (each at ``SPACE_INPUTS``) on ``data``, ``jobs``
    at a time; with ``out``, finished networks are kept in ``out/bench-train.json`` and reused on a rerun."""
    unknown = [s for s in spaces if s not in SPACE_INPUTS]
    if unknown:
        raise NasError(f"bench train: space(s) {unknown} not allowed; allowed: {', '.join(SPACE_INPUTS)}")
    if not isinstance(jobs, int) or jobs < 1:
        raise NasError(f"jobs={jobs!r} not allowed; give an integer >= 1")
    train_options = {"batch_size": 64, "augment": "affine", **train_options}  # the bench's fixed schedule
    config = TrainConfig(epochs=epochs, seed=seed, **train_options)
    settings = {"data": data, "schedule": config.to_json(), "max_flops": max_flops, "samples": samples,
                "seed": seed}
    start = time.perf_counter()
    datasets = {name: load_dataset(data, resize=SPACE_INPUTS[name]) for name in spaces}  # a bad --data fails here
    with ExitStack() as stack:
        path = None
        done: dict[str, dict[str, Any]] = {}
        if out is not None:  # the folder is checked before any sampling or training
            from nas.io import write_json_atomic
            from nas.lock import FolderLock

            stack.enter_context(FolderLock(out, "bench folder"))
            path = Path(out) / RESULT_NAME
            done = _load_done(path, settings)
        tasks: list[tuple[str, str, Any, float]] = []  # (space, input, arch, flops)
        for name, ds in datasets.items():
            for arch, _, flops in sample_under(_space(name, ds), samples, max_flops, np.random.default_rng(seed)):
                tasks.append((name, str(ds.input_type), arch, flops))

        def finished(task: tuple[str, str, Any, float], row: dict[str, Any]) -> None:
            name, _, arch, flops = task
            row = {"space": name, "flops": flops, **row}
            done[f"{name}/{arch.digest()}"] = row
            n = sum(1 for k in done if k.startswith(name + "/"))
            log(f"{name} {n}/{samples}: {flops / 1e6:.1f}M FLOPs, valid {row['valid_accuracy']:.4f}, "
                f"test {row['test_accuracy']:.4f}, {row['train_seconds']:.0f} s")
            if path is not None:
                write_json_atomic(path, {"settings": settings, "finished": list(done.values())}, indent=1)

        todo = [t for t in tasks if f"{t[0]}/{t[2].digest()}" not in done]
        todo.sort(key=lambda t: -t[3])  # largest first: the long trainings do not end up alone at the end
        if len(todo) < len(tasks):
            log(f"{len(tasks) - len(todo)} of {len(tasks)} networks already trained in {str(path)!r}")
        if jobs == 1:
            for t in todo:
                finished(t, _train_one(t[0], datasets[t[0]], t[2], config))
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch's thread pools
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                running: dict[Future, tuple[str, str, Any, float]] = {
                    pool.submit(train_network, t[0], data, t[2].to_json(), config.to_json()): t for t in todo}
                while running:
                    ready, _ = wait(running, return_when=FIRST_COMPLETED)
                    for f in ready:
                        finished(running.pop(f), f.result())

    results = []
    for name in spaces:
        rows = [{k: v for k, v in done[f"{n}/{a.digest()}"].items() if k != "space"}
                for n, _, a, _ in tasks if n == name]
        results.append(_summary(name, next(i for n, i, _, _ in tasks if n == name), rows))
    best = {r["space"]: r["test_accuracy"]["max"] for r in results}
    return {"data": data, "schedule": config.to_json(), "max_flops": max_flops, "samples": samples,
            "jobs": jobs, "spaces": results,
            "goal": {"best_test_accuracy_at_least": goal, "met": {k: v >= goal for k, v in best.items()}},
            "seconds": time.perf_counter() - start}
