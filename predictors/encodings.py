"""How learned predictors see architectures: views (flat encoding, op graph, zero-cost scores) and encoders.

An ``ArchView`` turns an architecture (an ``Architecture`` of a space, or a benchmark's key) into
a flat one-hot / adjacency vector, a networkx DAG whose nodes carry a ``label`` (an operation or a
structural node) and optionally ``feat`` (numbers), and optionally a vector of zero-cost scores.
An ``Encoder`` (``onehot``, ``path``, ``opcount``, ``zc`` and ``+`` combinations such as ``path+zc``)
turns a list of architectures into a feature matrix; vocabularies (paths, op labels) are learned
on the architectures it is fitted on, so its width is fixed after ``fit``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.errors import NasError

ENCODINGS = ("onehot", "path", "opcount", "zc")
MAX_PATHS = 4096
MAX_VOCAB = 1024


@dataclass(frozen=True)
class ArchView:
    """``onehot(arch)`` → fixed-length vector; ``graph(arch)`` → DAG with node ``label`` (and optional
    ``feat`` list of floats); ``zc(arch)`` → vector of zero-cost scores (None: not available)."""

    onehot: Callable[[Any], np.ndarray]
    graph: Callable[[Any], Any]
    zc: Callable[[Any], np.ndarray] | None = None
    name: str = ""


def space_view(space: Any, zc: Callable[[Any], np.ndarray] | None = None) -> ArchView:
    """The view of a registered space's architectures: ``space.encode`` and ``space.to_graph`` (ops on
    edges become op nodes; a layer's mixer, when it has one, joins its op in the label)."""

    def graph(arch: Any):
        import networkx as nx

        g = space.to_graph(arch)
        out = nx.DiGraph()
        if g.number_of_edges() and any("op" in d for _, _, d in g.edges(data=True)):
            srcs = {n for n in g if g.in_degree(n) == 0}
            sinks = {n for n in g if g.out_degree(n) == 0}
            for n in g:
                out.add_node(("n", n), label="input" if n in srcs else ("output" if n in sinks else "node"))
            for i, j, d in g.edges(data=True):
                out.add_node(("e", i, j), label=str(d.get("op", "edge")))
                out.add_edge(("n", i), ("e", i, j))
                out.add_edge(("e", i, j), ("n", j))
            return out
        spec = space.resolve(arch) if hasattr(space, "resolve") else None
        mixers = {layer.name: layer.hp.get("mixer") for layer in spec.layers} if spec is not None else {}
        for n, d in g.nodes(data=True):
            label = str(d.get("op", "node"))
            if mixers.get(n):
                label = f"{label}:{mixers[n]}"
            feat = [float(np.log1p(d.get("macs", 0))) / 20.0, float(np.log1p(d.get("params", 0))) / 20.0]
            out.add_node(n, label=label, feat=feat)
        out.add_edges_from(g.edges())
        return out

    return ArchView(onehot=space.encode, graph=graph, zc=zc, name=space.name)


def suite_view(benchmark: str, zc: Callable[[Any], np.ndarray] | None = None) -> ArchView:
    """The view of NAS-Bench-Suite-Zero keys (``nas.predictors.suite_zero``)."""
    from nas.predictors import suite_zero as sz

    return ArchView(onehot=lambda k: sz.onehot(benchmark, k), graph=lambda k: sz.graph(benchmark, k), zc=zc,
                    name=benchmark)


def label_paths(g: Any) -> list[tuple[str, ...]]:
    """The label sequences of every source → sink path of ``g`` (at most ``MAX_PATHS``)."""
    import networkx as nx

    srcs = [n for n in g if g.in_degree(n) == 0]
    sinks = [n for n in g if g.out_degree(n) == 0]
    out: list[tuple[str, ...]] = []
    for s in srcs:
        for path in nx.all_simple_paths(g, s, sinks) if sinks else ():
            out.append(tuple(g.nodes[n]["label"] for n in path if g.nodes[n]["label"] != "node"))
            if len(out) >= MAX_PATHS:
                return out
    return out


def _vocab(counts: Counter) -> dict[Any, int]:
    items = sorted(counts, key=lambda k: (-counts[k], str(k)))[:MAX_VOCAB]
    return {k: i for i, k in enumerate(sorted(items, key=str))}


class Encoder:
    """Feature matrices of architectures under an encoding (``onehot``, ``path``, ``opcount``, ``zc``,
    or a ``+``-joined combination). Contract: ``fit(archs)`` learns vocabularies and the finite range
    of zero-cost columns; ``transform(archs)`` gives an ``len(archs) × width`` float array with no
    non-finite entry (a non-finite score becomes one below the column's finite minimum seen in ``fit``)."""

    def __init__(self, view: ArchView, encoding: str = "onehot") -> None:
        self.parts = [p.strip() for p in encoding.split("+") if p.strip()]
        bad = [p for p in self.parts if p not in ENCODINGS]
        if not self.parts or bad:
            raise NasError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)} or a '+' combination")
        if "zc" in self.parts and view.zc is None:
            raise NasError(f"encoding {encoding!r} needs zero-cost scores, but view {view.name!r} has none")
        self.view, self.encoding = view, encoding
        self.paths: dict[Any, int] = {}
        self.ops: dict[str, int] = {}
        self.zc_lo: np.ndarray | None = None
        self.zc_hi: np.ndarray | None = None

    def fit(self, archs: Sequence[Any]) -> Encoder:
        if "path" in self.parts:
            self.paths = _vocab(Counter(p for a in archs for p in set(label_paths(self.view.graph(a)))))
        if "opcount" in self.parts:
            self.ops = _vocab(Counter(d["label"] for a in archs for _, d in self.view.graph(a).nodes(data=True)))
        if "zc" in self.parts:
            z = self._zc_raw(archs)
            fin = np.where(np.isfinite(z), z, np.nan)
            with np.errstate(all="ignore"):
                lo, hi = np.nanmin(fin, axis=0), np.nanmax(fin, axis=0)
            self.zc_lo, self.zc_hi = np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0)
        return self

    def _zc_raw(self, archs: Sequence[Any]) -> np.ndarray:
        assert self.view.zc is not None
        z = np.asarray([self.view.zc(a) for a in archs], dtype=np.float64)
        return np.sign(z) * np.log1p(np.abs(z))  # signed log: scores span many orders of magnitude

    def transform(self, archs: Sequence[Any]) -> np.ndarray:
        cols = []
        for part in self.parts:
            if part == "onehot":
                cols.append(np.asarray([self.view.onehot(a) for a in archs], dtype=np.float64))
            elif part == "path":
                m = np.zeros((len(archs), len(self.paths)))
                for i, a in enumerate(archs):
                    for p in label_paths(self.view.graph(a)):
                        j = self.paths.get(p)
                        if j is not None:
                            m[i, j] += 1.0
                cols.append(m)
            elif part == "opcount":
                m = np.zeros((len(archs), len(self.ops)))
                for i, a in enumerate(archs):
                    for _, d in self.view.graph(a).nodes(data=True):
                        j = self.ops.get(d["label"])
                        if j is not None:
                            m[i, j] += 1.0
                cols.append(m)
            else:
                if self.zc_lo is None:
                    raise NasError("encoder used before fit")
                z = self._zc_raw(archs)
                z = np.where(np.isnan(z) | (z == -np.inf), self.zc_lo - 1.0, z)
                z = np.where(z == np.inf, self.zc_hi + 1.0, z)
                cols.append(z)
        return np.concatenate(cols, axis=1) if cols else np.zeros((len(archs), 0))

    def fit_transform(self, archs: Sequence[Any]) -> np.ndarray:
        return self.fit(archs).transform(archs)
