"""Zero-cost proxies computed on our own built networks (free: no benchmark query), with a disk cache.

``synflow`` (Tanaka et al. 2020, as a NAS proxy in Abdelfattah et al. 2021): with every weight
replaced by its absolute value, an all-ones input and BatchNorm at its initial statistics, the sum of
|θ · ∂R/∂θ| over all parameters, R the sum of the outputs; reported as its natural log. Weights come
from the builder's initialisation under a fixed torch seed, in float64, so the value is deterministic.
``params`` and ``flops`` (analytic, from the NetSpec) are the plain baselines.

A proxy may use a reduced copy of the space (fewer cells, fewer channels, a smaller input): for
NAS-Bench-201, synflow on 1 cell per stage with 8 channels at 8×8 ranks the 15,625 cells like the
full network does (Spearman 0.996 against the full 5-cell, 16-channel net on 300 cells) at a fraction
of the cost.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.searchspace.space import SearchSpace
from nas.searchspace.tensor_type import parse_input

CACHE_ENV = "NAS_CACHE"


def default_cache_dir() -> Path:
    """``$NAS_CACHE``, else ``$XDG_CACHE_HOME/nas``, else ``~/.cache/nas``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nas"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """What a cached proxy value depends on besides its settings: the torch version and a digest of the
    operations' and this module's source. Part of the cache key, so one cache folder shared by unrelated
    checkouts or machines with another torch never serves values computed by other code."""
    from importlib import metadata

    import nas.searchspace.ops as ops

    h = hashlib.sha256()
    try:
        h.update(metadata.version("torch").encode())
    except metadata.PackageNotFoundError:
        h.update(b"no-torch")
    for f in sorted(Path(ops.__file__).parent.glob("*.py")) + [Path(__file__)]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def synflow(spec: NetSpec, seed: int = 0) -> float:
    """log of synflow of the network ``spec`` builds, with weights initialised under ``seed``."""
    import math

    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.build()
    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    t = spec.input
    x = torch.ones(1, t.channels, t.height, t.width, dtype=torch.float64)
    model.zero_grad()
    model(x).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else -math.inf


def _params(spec: NetSpec, seed: int = 0) -> float:
    from nas.hw_models.analytic import params

    return float(params(spec))


def _flops(spec: NetSpec, seed: int = 0) -> float:
    from nas.hw_models.analytic import flops

    return float(flops(spec))


PROXIES: Mapping[str, Callable[[NetSpec, int], float]] = {"synflow": synflow, "params": _params, "flops": _flops}


class CachedProxy:
    """A proxy over one space's architectures: ``proxy(arch) -> float`` (higher is better).

    Contract: deterministic for a given (proxy, space settings, input, seed); values are kept in memory
    and, with a ``cache`` folder, appended to ``<cache>/proxy-<id>.jsonl`` as they are computed, so
    later runs (and other seeds) reuse them. ``computed`` counts values computed in this process.
    """

    def __init__(self, name: str, space: SearchSpace, *, input: str | None = None,
                 space_options: Mapping[str, Any] | None = None, seed: int = 0,
                 cache: str | os.PathLike[str] | None = None) -> None:
        if name not in PROXIES:
            raise NasError(f"unknown proxy {name!r}; allowed: {', '.join(sorted(PROXIES))}")
        self.name, self.seed = name, seed
        kwargs = dict(space_options or {})
        inp = parse_input(input) if input else space.input
        try:
            self.space = type(space)(input=inp, num_classes=space.num_classes, **kwargs)
        except TypeError as e:
            raise NasError(f"space {space.name!r} does not take proxy space options {sorted(kwargs)}: {e}") from None
        cfg = {"proxy": name, "seed": seed, "space": self.space.config(), "code": code_version()}
        self.id = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
        self.description = f"{name} on {json.dumps(cfg['space'], sort_keys=True)}, seed {seed}"
        self.values: dict[str, float] = {}
        self.computed = 0
        self.path: Path | None = None
        if cache is not None:
            self.path = Path(cache) / f"proxy-{self.id}.jsonl"
            self._read()

    def _read(self) -> None:
        assert self.path is not None
        if not self.path.is_file():
            return
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
                self.values[rec["digest"]] = float(rec["value"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut by a kill: recompute that value

    def __call__(self, arch: Architecture) -> float:
        key = arch.digest()
        v = self.values.get(key)
        if v is None:
            v = PROXIES[self.name](self.space.resolve(arch), self.seed)
            self.values[key] = v
            self.computed += 1
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a") as f:
                    f.write(json.dumps({"digest": key, "value": v}) + "\n")
        return v


_NB201_FAST = {"input": "3x8x8", "space_options": {"channels": 8, "cells": 1}}


def make_proxy(name: str, space: SearchSpace, **options: Any) -> CachedProxy:
    """A cached proxy; for ``nb201`` the reduced network (1 cell per stage, 8 channels, 8×8) unless
    ``input``/``space_options`` are given."""
    if space.name == "nb201" and "input" not in options and "space_options" not in options:
        options = {**_NB201_FAST, **options}
    return CachedProxy(name, space, **options)
