"""Every zero-cost proxy as a registered score (``nas search --score snip``), DeepMAD aside (it registers itself)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nas.errors import NasError
from nas.predictors.proxies import DEFAULT_BATCH, PROXIES
from nas.predictors.score import SCORES
from nas.searchspace.netspec import NetSpec


@dataclass(frozen=True)
class ProxyScore:
    """A zero-cost proxy of a NetSpec as a score (higher is better; undefined → -inf).

    Options: ``seed`` (weights and random inputs), ``data`` (None/``random``: standard-normal inputs;
    else a dataset name of ``nas.training``, resized to the network's input), ``batch_size``.
    Deterministic for a given spec and options.
    """

    proxy: str
    seed: int = 0
    data: str | None = None
    batch_size: int = DEFAULT_BATCH
    _batches: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.proxy

    @property
    def description(self) -> str:
        p = PROXIES.get(self.proxy)
        src = f", data {self.data or 'random'} ×{self.batch_size}" if p.needs_data else ""
        return f"{self.proxy} ({p.description}), seed {self.seed}{src}, training-free"

    def _batch(self, spec: NetSpec):
        from nas.predictors.proxies import data_batch, random_batch

        key = (str(spec.input), spec.output.channels)
        if key not in self._batches:
            if self.data in (None, "random"):
                self._batches[key] = random_batch(spec.input, spec.output.channels, self.batch_size, self.seed)
            else:
                from nas.training.datasets import load_dataset

                t = spec.input
                ds = load_dataset(self.data, resize=f"{t.channels}x{t.height}x{t.width}")
                self._batches[key] = data_batch(ds, self.batch_size, self.seed)
        return self._batches[key]

    def __call__(self, spec: NetSpec) -> float:
        from nas.predictors.proxies import compute

        batch = self._batch(spec) if PROXIES.get(self.proxy).needs_data else None
        return compute(self.proxy, spec, batch, self.seed)[self.proxy]


OPTIONS = ("seed", "data", "batch_size")


def _register(name: str) -> None:
    def make(**options: Any) -> ProxyScore:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise NasError(f"score {name!r}: unknown option(s) {unknown}; allowed: {', '.join(OPTIONS)}")
        return ProxyScore(name, **options)

    make.__doc__ = f"The {name} proxy as a score; options seed, data, batch_size."
    SCORES.add(name, make)


for _name in PROXIES.names():
    if _name != "deepmad":
        _register(_name)
