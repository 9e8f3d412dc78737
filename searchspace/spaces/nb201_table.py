"""NAS-Bench-201's tables: validation and test accuracy on three datasets and HELP latencies on 27
devices, for all 15,625 cells, indexed by ``nb201`` architectures. Read from the benchmark folder
(``nas.settings.benchmarks_dir``), never downloaded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from nas.errors import NasError
from nas.searchspace.architecture import Architecture

ACCURACY_CSV = Path("nb201_accuracy") / "nb201_merged.csv"
LATENCY_CSV = Path("nb201_hw_latency_help") / "nb201_latency_help.csv"
#: dataset name → (validation column: the search signal, test column: the reported figure)
DATASETS: Mapping[str, tuple[str, str]] = {
    "cifar10": ("cifar10valid_valid", "cifar10_test_nats"),
    "cifar100": ("cifar100_valid", "cifar100_test"),
    "imagenet16-120": ("imagenet16_valid", "imagenet16_test"),
}
_EDGES = ("edge01", "edge02", "edge12", "edge03", "edge13", "edge23")


def _key(arch: Architecture) -> tuple[str, ...]:
    return tuple(arch.genes[g] for g in _EDGES)


def _key_of_string(s: str) -> tuple[str, ...]:
    return tuple(tok.split("~")[0] for node in s.split("+") for tok in node.strip("|").split("|"))


@dataclass(frozen=True)
class NB201Table:
    """All 15,625 NAS-Bench-201 cells: accuracy columns and (optionally) HELP latency columns.

    Contract: ``index(arch)`` is the NB201 index of an ``nb201`` architecture; ``valid``/``test``/
    ``latency`` return arrays over all cells in index order.
    """

    arch_strings: tuple[str, ...]
    columns: Mapping[str, np.ndarray]
    folder: str

    @classmethod
    def load(cls, benchmarks: str | os.PathLike[str] | None = None, latency: bool = True) -> NB201Table:
        from nas.settings import benchmarks_dir

        return _load(str(benchmarks_dir(benchmarks)), latency)

    def __len__(self) -> int:
        return len(self.arch_strings)

    @property
    def _index(self) -> dict[tuple[str, ...], int]:
        return _index_of(self.arch_strings)

    def index(self, arch: Architecture) -> int:
        try:
            return self._index[_key(arch)]
        except KeyError:
            raise NasError(f"architecture {arch.digest()} is not an NB201 cell") from None

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise NasError(f"no column {name!r} in NB201 data; columns: {', '.join(sorted(self.columns))}")
        return self.columns[name]

    def valid(self, dataset: str) -> np.ndarray:
        return self.column(dataset_columns(dataset)[0])

    def test(self, dataset: str) -> np.ndarray:
        return self.column(dataset_columns(dataset)[1])

    def devices(self) -> list[str]:
        return sorted(k[: -len("_ms")] for k in self.columns if k.endswith("_ms"))

    def latency(self, device: str) -> np.ndarray:
        key = f"{device}_ms"
        if key not in self.columns:
            raise NasError(f"unknown HELP device {device!r}; allowed: {', '.join(self.devices())}")
        return self.columns[key]


def dataset_columns(dataset: str) -> tuple[str, str]:
    if dataset not in DATASETS:
        raise NasError(f"unknown NB201 dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    return DATASETS[dataset]


@lru_cache(maxsize=4)
def _index_of(arch_strings: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    return {_key_of_string(s): i for i, s in enumerate(arch_strings)}


@lru_cache(maxsize=2)
def _load(folder: str, latency: bool) -> NB201Table:
    import pandas as pd

    acc_path = Path(folder) / ACCURACY_CSV
    if not acc_path.is_file():
        raise NasError(f"NAS-Bench-201 accuracies not found at {str(acc_path)!r}; pass --data PATH or set NAS_BENCHMARKS")
    acc = pd.read_csv(acc_path).sort_values("arch_index")
    if len(acc) != 15625 or list(acc.arch_index) != list(range(15625)):
        raise NasError(f"{str(acc_path)!r} should hold the 15,625 NB201 cells indexed 0..15624")
    cols = {c: acc[c].to_numpy(np.float64) for c in acc.columns if c not in ("arch_index", "arch_str")}
    if latency:
        lat_path = Path(folder) / LATENCY_CSV
        if lat_path.is_file():
            lat = pd.read_csv(lat_path).sort_values("arch_index")
            if list(lat.arch_str) != list(acc.arch_str):
                raise NasError(f"{str(lat_path)!r} lists the cells in another order than {str(acc_path)!r}")
            cols.update({c: lat[c].to_numpy(np.float64) for c in lat.columns if c.endswith("_ms")})
    return NB201Table(tuple(acc.arch_str), cols, folder)
