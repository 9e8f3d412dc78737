"""``nas bench train``: seeded samples of each space under a FLOPs limit, trained with one fixed schedule;
test accuracy min / mean / max per space (selection never looks at the test split)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.training.datasets import DatasetSplits, load_dataset
from nas.training.trainer import TrainConfig, build_model, train

SPACE_INPUTS = {"hybrid": "1x32x32", "mobilenet": None, "resnet": None, "nb201": "3x32x32"}
"""The input each space is trained at on MNIST: its own 28×28 where it fits, resized up where the space
downsamples 32× (hybrid) or is defined on 3×32×32 (NB201)."""


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


def bench_space(name: str, data: DatasetSplits, config: TrainConfig, n: int, max_flops: float, seed: int,
                log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    from nas.searchspace.space import get_space

    space = get_space(name, input=data.input_type, num_classes=data.num_classes)
    rows = []
    for i, (arch, spec, flops) in enumerate(sample_under(space, n, max_flops, np.random.default_rng(seed))):
        r = train(build_model(spec, config.seed), data, config)
        rows.append({"digest": arch.digest(), "flops": flops, "valid_accuracy": r.valid_accuracy,
                     "test_accuracy": r.test_accuracy, "train_seconds": r.train_seconds,
                     "images_per_second": r.images_per_second})
        log(f"{name} {i + 1}/{n}: {flops / 1e6:.1f}M FLOPs, valid {r.valid_accuracy:.4f}, test {r.test_accuracy:.4f}, "
            f"{r.train_seconds:.0f} s")
    test = np.array([r["test_accuracy"] for r in rows])
    best = max(rows, key=lambda r: r["valid_accuracy"])  # picked on valid, reported on test
    return {"space": name, "input": str(data.input_type), "samples": len(rows),
            "test_accuracy": {"min": float(test.min()), "mean": float(test.mean()), "max": float(test.max())},
            "best_by_valid": best, "networks": rows}


def bench_train(spaces: Sequence[str] = tuple(SPACE_INPUTS), *, data: str = "mnist5k", samples: int = 10,
                max_flops: float = 50e6, epochs: int = 10, seed: int = 0, goal: float = 0.985,
                log: Callable[[str], None] = lambda m: None, **train_options: Any) -> dict[str, Any]:
    """Train ``samples`` seeded networks of every space (each at ``SPACE_INPUTS``) on ``data``."""
    unknown = [s for s in spaces if s not in SPACE_INPUTS]
    if unknown:
        raise NasError(f"bench train: space(s) {unknown} not allowed; allowed: {', '.join(SPACE_INPUTS)}")
    config = TrainConfig(epochs=epochs, seed=seed, **train_options)
    start = time.perf_counter()
    out = []
    for name in spaces:
        ds = load_dataset(data, resize=SPACE_INPUTS[name])
        out.append(bench_space(name, ds, config, samples, max_flops, seed, log))
    best = {r["space"]: r["test_accuracy"]["max"] for r in out}
    return {"data": data, "schedule": config.to_json(), "max_flops": max_flops, "samples": samples,
            "spaces": out, "goal": {"best_test_accuracy_at_least": goal,
                                    "met": {k: v >= goal for k, v in best.items()}},
            "seconds": time.perf_counter() - start}
