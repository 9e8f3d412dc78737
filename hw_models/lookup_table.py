"""Lookup-table latency: per-layer latencies measured on one device, interpolated for layers not measured.

A key is (op, full hyper-parameters, input type, batch, dtype). A layer in the table gets its measured
time. A layer not in it is interpolated from the measured layers of the same *variant* (same op, and for
a MetaFormer block the same token mixer): each of the nearest measured neighbours (in log compute time,
log memory time, log tokens, log channels, and the number of differing hyper-parameters) contributes its
measured time scaled by the ratio of the two layers' roofline times, so sizes between and beyond the
measured ones follow the device's roofline shape, anchored on measurement. A variant never measured
falls back to the roofline time times the median measured/roofline ratio of its family (or of the table).

A key also holds the input's memory layout (``layout.py``): the table records, per layer and input
layout, the output's layout, and propagates layouts through a NetSpec from a contiguous input.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.errors import NasError
from nas.hw_models.conditions import Conditions
from nas.hw_models.layout import contiguous
from nas.hw_models.roofline import LayerTerms, RooflineModel
from nas.searchspace.netspec import Layer, NetSpec
from nas.searchspace.op_spec import OPS
from nas.searchspace.tensor_type import TensorType

TABLE_FORMAT = "nas-latency-table/2"
MEASURED, INTERPOLATED, MODELLED = "measured", "interpolated", "modelled"
NEIGHBOURS = 3


def default_layout(t: TensorType, batch: int = 1) -> str:
    return contiguous(len(t.shape(batch)))


def layer_key(layer: Layer, batch: int = 1, dtype: str = "fp32", layout: str = "") -> str:
    """The canonical key of a layer measurement (layout "" = contiguous)."""
    return json.dumps({"op": layer.op, "hp": layer.hp.to_json(), "in": layer.in_type.to_json(),
                       "batch": batch, "dtype": dtype, "layout": layout or default_layout(layer.in_type, batch)},
                      sort_keys=True, separators=(",", ":"))


def variant(layer: Layer) -> str:
    """Layers of one variant share their implementation (``OpSpec.variant``: the op, plus the mixer for a
    MetaFormer block)."""
    return OPS.get(layer.op).variant(layer.in_type, layer.hp)


def group(layer: Layer) -> str:
    """The family a layer's time mostly belongs to (``OpSpec.latency_group``: the mixer's family for a
    MetaFormer block)."""
    return OPS.get(layer.op).latency_group(layer.in_type, layer.hp)


def _leaves(hp: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(hp, Mapping):
        out: dict[str, Any] = {}
        for k, v in hp.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    return {prefix: hp}


@dataclass(frozen=True)
class TableEntry:
    """One measured layer: the layer, batch, dtype, input layout ("" = contiguous), median ms, its
    relative inter-quartile range and the conditions it was measured under (None: not recorded, as in
    tables written before conditions were kept)."""

    layer: Layer
    batch: int
    dtype: str
    ms: float
    iqr_rel: float = 0.0
    layout: str = ""
    conditions: Conditions | None = None

    @property
    def trusted(self) -> bool:
        """Measured under recorded, uncontended conditions."""
        return self.conditions is not None and not self.conditions.contended

    @property
    def key(self) -> str:
        return layer_key(self.layer, self.batch, self.dtype, self.layout)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.layer.op, "hp": self.layer.hp.to_json(), "in": self.layer.in_type.to_json(),
                "batch": self.batch, "dtype": self.dtype, "layout": self.layout or default_layout(
                    self.layer.in_type, self.batch), "ms": self.ms, "iqr_rel": self.iqr_rel,
                "conditions": None if self.conditions is None else self.conditions.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TableEntry:
        t = TensorType.from_json(d["in"])
        spec = OPS.get(d["op"])
        hp, out = spec.resolve(t, d["hp"], where="table entry")
        cond = d.get("conditions")
        return cls(Layer("table", d["op"], hp, t, out), int(d["batch"]), str(d["dtype"]), float(d["ms"]),
                   float(d.get("iqr_rel", 0.0)), str(d.get("layout", "")),
                   Conditions.from_json(cond) if cond else None)


class LatencyTable:
    """Per-layer latencies measured on one device, with interpolation (see the module docstring).

    Contract: ``device`` records where and how the table was measured (machine id, CPU, threads, torch
    version); ``layer_ms(layer, batch, dtype, layout)`` is the measured median when the key is present,
    else an interpolation that never returns a negative time; ``per_layer_ms(spec)`` maps it over a
    NetSpec, with each layer's input layout propagated from a contiguous network input through the
    recorded ``transitions``. ``roofline`` (a model of the same device) supplies the size scaling.
    """

    def __init__(self, device: Mapping[str, Any], roofline: RooflineModel,
                 entries: Iterable[TableEntry] = (), transitions: Mapping[str, str] | None = None) -> None:
        self.device = dict(device)
        self.roofline = roofline
        self._entries: dict[str, TableEntry] = {}
        self._by_variant: dict[tuple[str, int, str], list[TableEntry]] = defaultdict(list)
        self._terms_cache: dict[tuple[str, int], LayerTerms] = {}
        self._ms_cache: dict[str, float] = {}
        self._ratio_cache: dict[tuple[str, str], float | None] = {}
        self.transitions: dict[str, str] = dict(transitions or {})
        for e in entries:
            self.add(e)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, layer: Layer) -> bool:
        return layer_key(layer) in self._entries

    @property
    def entries(self) -> list[TableEntry]:
        return list(self._entries.values())

    def add(self, entry: TableEntry) -> None:
        """Add or replace one measurement."""
        if entry.ms < 0 or not math.isfinite(entry.ms):
            raise NasError(f"table entry for {entry.layer.op} has a bad time {entry.ms!r}; it must be >= 0")
        key = entry.key
        old = self._entries.get(key)
        bucket = self._by_variant[(variant(entry.layer), entry.batch, entry.dtype)]
        if old is not None:
            bucket.remove(old)
        self._entries[key] = entry
        bucket.append(entry)
        self._ms_cache.clear()
        self._ratio_cache.clear()

    # -- layouts -------------------------------------------------------------------------------
    def record_transition(self, layer: Layer, batch: int, dtype: str, in_layout: str, out_layout: str) -> None:
        """Remember that ``layer`` given ``in_layout`` produces ``out_layout``."""
        self.transitions[layer_key(layer, batch, dtype, in_layout)] = out_layout

    def next_layout(self, layer: Layer, batch: int, dtype: str, in_layout: str) -> str | None:
        """The recorded output layout, or None when this layer was never run on ``in_layout``."""
        return self.transitions.get(layer_key(layer, batch, dtype, in_layout))

    def layouts(self, spec: NetSpec, batch: int = 1, dtype: str = "fp32") -> list[str]:
        """The input layout of each layer of ``spec``, from a contiguous network input. A layer never run
        on its input layout is taken to keep it (or to give a contiguous tensor when the rank changes)."""
        out: list[str] = []
        cur = default_layout(spec.input, batch)
        for layer in spec.layers:
            out.append(cur)
            nxt = self.next_layout(layer, batch, dtype, cur)
            if nxt is None:
                rank = len(layer.out_type.shape(batch))
                nxt = cur if len(cur) == rank else contiguous(rank)
            cur = nxt
        return out

    # -- roofline terms and interpolation ------------------------------------------------------
    def terms(self, layer: Layer, batch: int = 1) -> LayerTerms:
        """The roofline terms of ``layer`` (cached)."""
        key = (layer_key(layer), batch)
        terms = self._terms_cache.get(key)
        if terms is None:
            terms = self._terms_cache[key] = self.roofline.layer_terms(layer, batch)
        return terms

    def _roof(self, layer: Layer, batch: int) -> float:
        return max(self.terms(layer, batch).total_ms, 1e-6)

    def _features(self, layer: Layer, batch: int) -> tuple[float, ...]:
        terms = self.terms(layer, batch)
        return (math.log(terms.compute_ms + 1e-6), math.log(terms.memory_ms + 1e-6),
                math.log(layer.in_type.tokens), math.log(layer.in_type.channels))

    def _distance(self, layer: Layer, layout: str, f: tuple[float, ...], e: TableEntry, batch: int) -> float:
        fe = self._features(e.layer, batch)
        a, b = _leaves(layer.hp), _leaves(e.layer.hp)
        differing = sum(a.get(k) != b.get(k) for k in set(a) | set(b))
        other_layout = 2.0 if (e.layout or default_layout(e.layer.in_type, e.batch)) != layout else 0.0
        return sum(abs(x - y) for x, y in zip(f, fe)) + differing + other_layout

    def _ratio(self, entries: Iterable[TableEntry]) -> float | None:
        ratios = [e.ms / self._roof(e.layer, e.batch) for e in entries]
        return statistics.median(ratios) if ratios else None

    def layer_ms(self, layer: Layer, batch: int = 1, dtype: str = "fp32", layout: str = "") -> float:
        key = layer_key(layer, batch, dtype, layout)
        hit = self._entries.get(key)
        if hit is not None:
            return hit.ms
        ms = self._ms_cache.get(key)
        if ms is None:
            ms = self._ms_cache[key] = self.interpolate(layer, batch, dtype, layout)
        return ms

    def interpolate(self, layer: Layer, batch: int = 1, dtype: str = "fp32", layout: str = "") -> float:
        """The table's estimate for a layer, ignoring an exact entry (used to test the interpolation)."""
        layout = layout or default_layout(layer.in_type, batch)
        key = layer_key(layer, batch, dtype, layout)
        rt = self._roof(layer, batch)
        same = [e for e in self._by_variant.get((variant(layer), batch, dtype), ()) if e.key != key]
        if not same:  # other batch sizes of the same variant: the roofline scales the batch
            same = [e for (v, _, d), es in self._by_variant.items() if v == variant(layer) and d == dtype
                    for e in es if e.key != key]
        if same:
            f = self._features(layer, batch)
            dist = [(self._distance(layer, layout, f, e, batch), i) for i, e in enumerate(same)]
            near = sorted(dist)[:NEIGHBOURS]
            weights = [1.0 / (d + 0.05) for d, _ in near]
            est = sum(w * same[i].ms * rt / self._roof(same[i].layer, same[i].batch)
                      for w, (_, i) in zip(weights, near))
            return est / sum(weights)
        g = group(layer)
        if (g, dtype) not in self._ratio_cache:
            ratio = self._ratio(e for e in self._entries.values() if group(e.layer) == g and e.dtype == dtype)
            self._ratio_cache[(g, dtype)] = ratio if ratio is not None else self._ratio(self._entries.values())
        ratio = self._ratio_cache[(g, dtype)]
        return rt * (ratio if ratio is not None else 1.0)

    # -- networks ------------------------------------------------------------------------------
    def per_layer_ms(self, spec: NetSpec, batch: int = 1, dtype: str = "fp32") -> list[float]:
        return [self.layer_ms(layer, batch, dtype, lay)
                for layer, lay in zip(spec.layers, self.layouts(spec, batch, dtype))]

    def latency_ms(self, spec: NetSpec, batch: int = 1, dtype: str = "fp32") -> float:
        return float(sum(self.per_layer_ms(spec, batch, dtype)))

    def source(self, layer: Layer, batch: int = 1, dtype: str = "fp32", layout: str = "") -> str:
        """How ``layer_ms`` gets this layer's time: ``"measured"`` (an entry), ``"interpolated"`` (from
        measured layers of its variant) or ``"modelled"`` (roofline times a family ratio)."""
        if layer_key(layer, batch, dtype, layout) in self._entries:
            return MEASURED
        if any(v == variant(layer) and d == dtype for v, _, d in self._by_variant if self._by_variant[(v, _, d)]):
            return INTERPOLATED
        return MODELLED

    def sources(self, spec: NetSpec, batch: int = 1, dtype: str = "fp32") -> list[str]:
        """``source`` of each layer of ``spec`` with the input layout it gets in the network."""
        return [self.source(layer, batch, dtype, lay) for layer, lay in zip(spec.layers, self.layouts(spec, batch, dtype))]

    def coverage(self, spec: NetSpec, batch: int = 1, dtype: str = "fp32") -> float:
        """Share of the spec's layers measured exactly (with the layout they get in the network)."""
        if not spec.layers:
            return 1.0
        lays = self.layouts(spec, batch, dtype)
        return sum(layer_key(l, batch, dtype, lay) in self._entries for l, lay in zip(spec.layers, lays)) / len(spec.layers)

    def to_json(self) -> dict[str, Any]:
        return {"format": TABLE_FORMAT, "device": self.device, "entries": [e.to_json() for e in self._entries.values()],
                "transitions": self.transitions}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], roofline: RooflineModel) -> LatencyTable:
        if d.get("format") != TABLE_FORMAT:
            raise NasError(f"not a latency table: format {d.get('format')!r}, expected {TABLE_FORMAT!r}; "
                           "run `nas latency calibrate` again")
        return cls(d["device"], roofline, (TableEntry.from_json(e) for e in d["entries"]), d.get("transitions", {}))
