"""The NAS-Bench-Suite-Zero samples (NASLib): stored zero-cost proxies and accuracies of about 500
architectures each of NAS-Bench-101, -201 (three datasets) and -301, read through
``nas.settings.benchmarks_dir()``; plus each architecture as a flat encoding and a networkx op graph."""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import NasError

FOLDER = Path("nas_bench_suite_zero_samples")
FILES = {"nb101": ("zc_nasbench101.json", "nasbench101"), "nb201": ("zc_nasbench201.json", "nasbench201"),
         "nb301": ("zc_nasbench301.json", "nasbench301")}
DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
#: The stored proxies (NASLib names), in a fixed order.
STORED = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "params", "plain", "snip",
          "synflow")
NB201_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: tuple position → our nb201 gene (positions follow NASLib's edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4))
NB201_GENES = ("edge01", "edge02", "edge03", "edge12", "edge13", "edge23")
NB101_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
NB301_OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
             "dil_conv_5x5")


@dataclass(frozen=True)
class SuiteZero:
    """One benchmark's samples: ``keys`` (NASLib's architecture keys, as tuples), ``stored`` proxy
    values by name (arrays in key order) and ``accuracy`` (NASLib's validation accuracy, %)."""

    benchmark: str
    dataset: str
    keys: tuple[Any, ...]
    stored: Mapping[str, np.ndarray]
    accuracy: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def load_suite_zero(benchmark: str, dataset: str = "cifar10",
                    benchmarks: str | os.PathLike[str] | None = None) -> SuiteZero:
    if benchmark not in FILES:
        raise NasError(f"unknown Suite-Zero benchmark {benchmark!r}; allowed: {', '.join(FILES)}")
    if dataset not in DATASETS:
        raise NasError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")
    from nas.settings import benchmarks_dir

    return _load(str(benchmarks_dir(benchmarks)), benchmark, dataset)


@lru_cache(maxsize=8)
def _load(folder: str, benchmark: str, dataset: str) -> SuiteZero:
    name, top = FILES[benchmark]
    path = Path(folder) / FOLDER / name
    if not path.is_file():
        raise NasError(f"NAS-Bench-Suite-Zero samples not found at {str(path)!r}; set NAS_BENCHMARKS")
    doc = json.loads(path.read_text())[top]
    if DATASETS[dataset] not in doc:
        raise NasError(f"{benchmark} samples hold datasets {', '.join(doc)}, not {dataset!r}")
    d = doc[DATASETS[dataset]]
    keys = tuple(_freeze(ast.literal_eval(k)) for k in d)
    stored = {p: np.array([float(v[p]) for v in d.values()]) for p in STORED}
    acc = np.array([float(v["val_accuracy"]) for v in d.values()])
    return SuiteZero(benchmark, dataset, keys, stored, acc)


def _freeze(x: Any) -> Any:
    return tuple(_freeze(v) for v in x) if isinstance(x, (list, tuple)) else x


def nb201_genes(key: tuple[int, ...]) -> dict[str, str]:
    """Our ``nb201`` genes of a NASLib NB201 key."""
    return {g: NB201_OPS[i] for g, i in zip(NB201_GENES, key)}


def onehot(benchmark: str, key: Any) -> np.ndarray:
    """The adjacency / one-hot encoding of a key: NB201 ops per edge; NB101 upper-triangular adjacency
    plus ops per node; NB301 (input node, op) of each of the 16 edges one-hot."""
    if benchmark == "nb201":
        out = np.zeros((6, len(NB201_OPS)))
        out[np.arange(6), list(key)] = 1.0
        return out.ravel()
    if benchmark == "nb101":
        adj = np.asarray(key[:49], float).reshape(7, 7)
        ops = np.zeros((7, len(NB101_OPS)))
        ops[np.arange(7), list(key[49:])] = 1.0
        return np.concatenate([adj[np.triu_indices(7, 1)], ops.ravel()])
    parts = []
    for cell in key:
        for k, (src, op) in enumerate(cell):
            node = 2 + k // 2
            a = np.zeros(node)
            a[src] = 1.0
            o = np.zeros(len(NB301_OPS))
            o[op] = 1.0
            parts += [a, o]
    return np.concatenate(parts)


def graph(benchmark: str, key: Any):  # -> networkx.DiGraph
    """The architecture as a DAG whose nodes carry ``label`` (an op or a structural node)."""
    import networkx as nx

    g = nx.DiGraph()
    if benchmark == "nb201":
        from nas.searchspace.ops.nb201 import NB201_EDGES
        from nas.searchspace.spaces.nb201 import EDGE_GENES

        genes = nb201_genes(key)
        for n in range(4):
            g.add_node(f"n{n}", label="input" if n == 0 else ("output" if n == 3 else "node"))
        for gene, (i, j) in zip(EDGE_GENES, NB201_EDGES):
            if genes[gene] != "none":
                g.add_node(gene, label=genes[gene])
                g.add_edge(f"n{i}", gene)
                g.add_edge(gene, f"n{j}")
        return g
    if benchmark == "nb101":
        adj = np.asarray(key[:49]).reshape(7, 7)
        for n, op in enumerate(key[49:]):
            g.add_node(n, label=NB101_OPS[op])
        for i, j in zip(*np.nonzero(adj)):
            g.add_edge(int(i), int(j))
        return g
    for c, cell in enumerate(key):
        kind = ("normal", "reduce")[c]
        for n in (0, 1):
            g.add_node(f"{kind}{n}", label=f"{kind}_input")
        g.add_node(f"{kind}_out", label=f"{kind}_output")
        for k, (src, op) in enumerate(cell):
            node = f"{kind}{2 + k // 2}"
            g.add_node(node, label="node")
            e = f"{kind}e{k}"
            g.add_node(e, label=NB301_OPS[op])
            g.add_edge(f"{kind}{src}", e)
            g.add_edge(e, node)
        for n in range(2, 6):
            g.add_edge(f"{kind}{n}", f"{kind}_out")
    g.add_edge("normal_out", "reduce0")
    g.add_edge("normal_out", "reduce1")
    return g
