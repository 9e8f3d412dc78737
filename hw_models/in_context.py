"""Layer latencies measured in the context of a whole network.

A layer timed alone, called back to back on the same input, keeps its weights and activations in the
caches and runs 5–15 % faster than inside a network, where the layers before it have evicted them (on
this project's 2-core EPYC, 1 thread, 224²: the isolated layers of mobilenetv2_100 sum to 85 % of the
network's time, resnet18's to 95 %; timed inside the network they sum to 99–101 %). So the table's
layers are timed where they run: each network is run whole, a timer around every layer, ``runs``
rounds interleaved over a group of networks; a layer's time is its median over rounds, averaged over
its occurrences in the group, and the smallest over ``passes``.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from nas.hw_models.conditions import LoadGuard
from nas.hw_models.lookup_table import LatencyTable, TableEntry, layer_key
from nas.searchspace.netspec import Layer, NetSpec


def _time_group(specs: Sequence[NetSpec], batch: int, runs: int, warmup: int, threads: int,
                ) -> list[list[tuple[Layer, str, float]]]:
    """For each network: (layer, its input layout, median ms inside the network) per layer."""
    import torch

    from nas.hw_models.layout import layout_of
    from nas.hw_models.measure import fixed_threads, steady_allocator

    steady_allocator()
    gen = torch.Generator().manual_seed(0)
    nets = []
    for spec in specs:
        torch.manual_seed(0)
        mods = [layer.spec.build(layer.in_type, layer.hp).eval() for layer in spec.layers]
        nets.append((spec, mods, torch.randn(spec.input.shape(batch), generator=gen)))
    times: list[list[list[float]]] = [[[] for _ in spec.layers] for spec, _, _ in nets]
    layouts: list[list[str]] = [[] for _ in nets]
    clock = time.perf_counter
    with fixed_threads(threads), torch.inference_mode():
        for r in range(warmup + runs):
            for n, (spec, mods, x0) in enumerate(nets):
                x = x0
                for i, m in enumerate(mods):
                    if r == 0:
                        layouts[n].append(layout_of(x))
                    t0 = clock()
                    x = m(x)
                    t1 = clock()
                    if r >= warmup:
                        times[n][i].append((t1 - t0) * 1e3)
    return [[(layer, layouts[n][i], statistics.median(times[n][i])) for i, layer in enumerate(spec.layers)]
            for n, (spec, _, _) in enumerate(nets)]


def measure_in_context(specs: Sequence[NetSpec], *, batch: int, runs: int, threads: int, guard: LoadGuard,
                       table: LatencyTable | None = None, passes: int = 2, group_size: int = 4, warmup: int = 2,
                       deadline: float = float("inf"), wanted: set[str] | None = None,
                       on_group: Callable[[list[TableEntry]], None] | None = None,
                       log: Callable[[str], None] = lambda s: None) -> list[TableEntry]:
    """Table entries for the layers of ``specs`` timed inside their networks (see the module docstring).

    Only keys in ``wanted`` are returned (all when None). Each group runs under ``guard``; entries carry
    its conditions. The layouts seen are recorded in ``table.transitions``. Stops at ``deadline``
    (a ``time.perf_counter`` value) between groups. ``on_group`` receives each group's entries."""
    best: dict[str, TableEntry] = {}
    for p in range(passes):
        for start in range(0, len(specs), group_size):
            if time.perf_counter() > deadline:
                log(f"  layer budget reached in pass {p + 1} after {start} of {len(specs)} networks")
                return list(best.values())
            chunk = specs[start:start + group_size]
            res, cond = guard.run(lambda chunk=chunk: _time_group(chunk, batch, runs, warmup, threads),
                                  f"networks {start + 1}-{start + len(chunk)} timed layer by layer (pass {p + 1})")
            seen: dict[str, list[float]] = defaultdict(list)
            layer_of: dict[str, tuple[Layer, str]] = {}
            for spec, rows in zip(chunk, res):
                for k, (layer, layout, ms) in enumerate(rows):
                    key = layer_key(layer, batch, "fp32", layout)
                    if table is not None and k + 1 < len(rows):
                        table.record_transition(layer, batch, "fp32", layout, rows[k + 1][1])
                    if wanted is None or key in wanted:
                        seen[key].append(ms)
                        layer_of[key] = (layer, layout)
            got = []
            for key, vals in seen.items():
                ms = sum(vals) / len(vals)
                if key not in best or ms < best[key].ms:
                    layer, layout = layer_of[key]
                    best[key] = TableEntry(layer, batch, "fp32", ms, 0.0, layout, cond)
                got.append(best[key])
            if on_group is not None:
                on_group(got)
            if (start // group_size) % 10 == 0:
                log(f"  pass {p + 1}: networks timed layer by layer {start + len(chunk)}/{len(specs)}")
    return list(best.values())


def walk_layouts(specs: Sequence[NetSpec], table: LatencyTable, batch: int, threads: int,
                 dtype: str = "fp32") -> list[tuple[Layer, str]]:
    """Every distinct (layer, input layout) the networks of ``specs`` run, in first-seen order.

    The input layout of a layer is the output layout of the one before (from a contiguous network
    input); a layer not yet seen on its input layout is built and run once to record its output's
    layout in ``table.transitions``.
    """
    import torch

    from nas.hw_models.layout import layout_of, make_input
    from nas.hw_models.lookup_table import default_layout
    from nas.hw_models.measure import fixed_threads

    out: dict[str, tuple[Layer, str]] = {}
    gen = torch.Generator().manual_seed(0)
    with fixed_threads(threads), torch.inference_mode():
        for spec in specs:
            cur = default_layout(spec.input, batch)
            for layer in spec.layers:
                out.setdefault(layer_key(layer, batch, dtype, cur), (layer, cur))
                nxt = table.next_layout(layer, batch, dtype, cur)
                if nxt is None:
                    module = layer.spec.build(layer.in_type, layer.hp).eval()
                    nxt = layout_of(module(make_input(layer.in_type.shape(batch), cur, gen)))
                    table.record_transition(layer, batch, dtype, cur, nxt)
                cur = nxt
    return list(out.values())


def networks_adding(specs: Sequence[NetSpec], have: set[str], table: LatencyTable, batch: int,
                    threads: int) -> tuple[list[NetSpec], set[str]]:
    """The networks of ``specs`` holding a (layer, layout) not in ``have``, in order, each kept only when
    it adds one not added by an earlier one; and the set of keys they add."""
    out, new = [], set()
    for spec in specs:
        keys = {layer_key(layer, batch, "fp32", lay) for layer, lay in walk_layouts([spec], table, batch, threads)}
        add = keys - have - new
        if add:
            out.append(spec)
            new |= add
    return out, new
