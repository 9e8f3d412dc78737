"""Zero-cost proxies over one space's architectures, with a disk cache (free: no benchmark query).

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
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.predictors.proxies import DEFAULT_BATCH, PROXIES, Batch, compute, data_batch, random_batch
from nas.searchspace.architecture import Architecture
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
    operations' and the proxies' source. Part of the cache key, so one cache folder shared by unrelated
    checkouts or machines with another torch never serves values computed by other code."""
    from importlib import metadata

    import nas.predictors.proxies as proxies
    import nas.searchspace.ops as ops

    h = hashlib.sha256()
    try:
        h.update(metadata.version("torch").encode())
    except metadata.PackageNotFoundError:
        h.update(b"no-torch")
    for f in sorted(Path(ops.__file__).parent.glob("*.py")) + [Path(proxies.__file__), Path(__file__)]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def space_batch(space: SearchSpace, data: str | None, size: int = DEFAULT_BATCH, seed: int = 0) -> Batch:
    """A proxy minibatch for ``space``: random inputs (``data`` None or ``random``) or ``size`` training
    images of dataset ``data`` resized to the space's input (its classes must fit the space's)."""
    if data in (None, "random"):
        return random_batch(space.input, space.num_classes, size, seed)
    from nas.training.datasets import load_dataset

    t = space.input
    if t.layout.value != "map":
        raise NasError(f"--data needs a space with image inputs; space {space.name!r} takes {t}")
    ds = load_dataset(data, resize=f"{t.channels}x{t.height}x{t.width}")
    if ds.num_classes > space.num_classes:
        raise NasError(f"dataset {data!r} has {ds.num_classes} classes but space {space.name!r} was built "
                       f"for {space.num_classes}")
    return data_batch(ds, size, seed)


class CachedProxies:
    """Proxies over one space's architectures: ``proxies(arch) -> {name: value}`` (higher is better).

    Contract: deterministic for a given (proxy, space settings, input, seed, data, batch size); values
    are kept in memory and, with a ``cache`` folder, appended to ``<cache>/proxy-<id>.jsonl`` (one file
    per proxy) as they are computed, so later runs and other processes reuse them. ``computed`` counts
    architectures computed in this process.
    """

    def __init__(self, names: Iterable[str], space: SearchSpace, *, input: str | None = None,
                 space_options: Mapping[str, Any] | None = None, seed: int = 0, data: str | None = None,
                 batch_size: int = DEFAULT_BATCH, cache: str | os.PathLike[str] | None = None) -> None:
        self.names = list(names)
        if not self.names:
            raise NasError("give at least one proxy")
        for n in self.names:
            PROXIES.get(n)
        self.seed, self.data, self.batch_size = seed, data, int(batch_size)
        kwargs = dict(space_options or {})
        inp = parse_input(input) if input else space.input
        try:
            self.space = type(space)(input=inp, num_classes=space.num_classes, **kwargs)
        except TypeError as e:
            raise NasError(f"space {space.name!r} does not take proxy space options {sorted(kwargs)}: {e}") from None
        self.ids: dict[str, str] = {}
        for n in self.names:
            cfg: dict[str, Any] = {"proxy": n, "seed": seed, "space": self.space.config(), "code": code_version()}
            if PROXIES.get(n).needs_data:
                cfg.update(data=data or "random", batch=self.batch_size)
            self.ids[n] = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
        self.description = (f"{', '.join(self.names)} on {json.dumps(self.space.config(), sort_keys=True)}, "
                            f"seed {seed}, data {data or 'random'} ×{self.batch_size}")
        self.values: dict[str, dict[str, float]] = {n: {} for n in self.names}
        self.computed = 0
        self.folder = Path(cache) if cache is not None else None
        if self.folder is not None:
            for n in self.names:
                self._read(n)

    def path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"proxy-{self.ids[name]}.jsonl"

    def _read(self, name: str) -> None:
        p = self.path(name)
        if not p.is_file():
            return
        for line in p.read_text().splitlines():
            try:
                rec = json.loads(line)
                self.values[name][rec["digest"]] = float(rec["value"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line cut by a kill: recompute that value

    @cached_property
    def batch(self) -> Batch | None:
        if not any(PROXIES.get(n).needs_data for n in self.names):
            return None
        return space_batch(self.space, self.data, self.batch_size, self.seed)

    def __call__(self, arch: Architecture) -> dict[str, float]:
        key = arch.digest()
        missing = [n for n in self.names if key not in self.values[n]]
        if missing:
            new = compute(missing, self.space.resolve(arch), self.batch, self.seed)
            self.computed += 1
            for n, v in new.items():
                self.values[n][key] = v
                if self.folder is not None:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    with open(self.path(n), "a") as f:  # an append-only journal: a cut line is recomputed
                        f.write(json.dumps({"digest": key, "value": v}) + "\n")
        return {n: self.values[n][key] for n in self.names}


class CachedProxy:
    """One proxy over one space's architectures: ``proxy(arch) -> float`` (see ``CachedProxies``)."""

    def __init__(self, name: str, space: SearchSpace, **options: Any) -> None:
        self._all = CachedProxies([name], space, **options)
        self.name, self.seed = name, self._all.seed
        self.space = self._all.space
        self.id = self._all.ids[name]
        self.description = self._all.description
        self.path = self._all.path(name) if self._all.folder is not None else None

    @property
    def values(self) -> dict[str, float]:
        return self._all.values[self.name]

    @property
    def computed(self) -> int:
        return self._all.computed

    def __call__(self, arch: Architecture) -> float:
        return self._all(arch)[self.name]


_NB201_FAST = {"input": "3x8x8", "space_options": {"channels": 8, "cells": 1}}


def make_proxy(name: str, space: SearchSpace, **options: Any) -> CachedProxy:
    """A cached proxy; for ``nb201`` the reduced network (1 cell per stage, 8 channels, 8×8) unless
    ``input``/``space_options`` are given."""
    if space.name == "nb201" and "input" not in options and "space_options" not in options:
        options = {**_NB201_FAST, **options}
    return CachedProxy(name, space, **options)
