"""Layers measured on demand: a network's layers missing from the CPU table are measured here and cached.

As nn-Meter detects a model's kernels and measures the ones it has not seen, ``LayerCache.fill(spec)``
walks a NetSpec with the layouts its layers get in the network, times every (layer, input layout)
the table lacks inside its network (``in_context``; interleaved rounds, two passes, under a
``LoadGuard``), and stores the entries, with
the conditions they were measured under, in ``<user data dir>/<settings id>-layers.json``: one file per
machine and measurement settings, written atomically under a file lock and merged with what other
processes wrote meanwhile. Entries measured while other work distorted them are never stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from nas.errors import NasError
from nas.hw_models.conditions import LoadError, LoadGuard
from nas.hw_models.lookup_table import LatencyTable, TableEntry
from nas.searchspace.netspec import NetSpec

CACHE_SUFFIX = "-layers.json"
LOCK_WAIT_S = 120.0


def cache_path(threads: int | None = None) -> Path:
    """Where this machine's on-demand layer measurements (for ``threads`` and these settings) live."""
    from nas.hw_models.calibrate import settings_id
    from nas.hw_models.machine import user_data_dir

    return user_data_dir() / f"{settings_id(threads)}{CACHE_SUFFIX}"


class LayerCache:
    """This machine's layers measured on demand (see the module docstring).

    Contract: ``entries()`` are the stored measurements (all taken uncontended, on this machine id and
    settings); ``fill(spec, table)`` measures what ``table`` (with the stored entries added) lacks for
    ``spec`` and adds it to both, returning the new entries; when other work keeps the machine busy it
    logs one line, stores nothing and returns what it could measure cleanly (possibly nothing)."""

    def __init__(self, path: Path, threads: int, *, runs: int = 7, passes: int = 2, wait_s: float = 5.0,
                 log: Callable[[str], None] | None = None, guard: LoadGuard | None = None) -> None:
        self.path, self.threads, self.runs, self.passes = Path(path), threads, runs, passes
        self.log = log or (lambda s: None)
        self.guard = guard or LoadGuard(threads, wait_s=wait_s, attempts=2, log=lambda s: None)
        self._refused: set[str] = set()  # keys a busy machine kept from being measured: not retried

    def _read(self, roofline) -> LatencyTable | None:
        from nas.hw_models.machine import machine_id

        if not self.path.is_file():
            return None
        import json

        try:
            table = LatencyTable.from_json(json.loads(self.path.read_text()), roofline)
        except (ValueError, KeyError, TypeError, NasError):
            self.log(f"nas latency: ignoring unreadable layer cache {self.path} (it is rewritten)")
            return None
        return table if table.device.get("id") == machine_id(self.threads) else None

    def entries(self, roofline) -> list[TableEntry]:
        table = self._read(roofline)
        return [] if table is None else [e for e in table.entries if e.trusted]

    def _store(self, new: list[TableEntry], transitions: dict[str, str], roofline) -> None:
        from filelock import FileLock, Timeout

        from nas.hw_models.calibrate import machine_info
        from nas.io import write_json_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(self.path) + ".lock", timeout=LOCK_WAIT_S):
                table = self._read(roofline) or LatencyTable(machine_info(self.threads), roofline)
                for e in new:
                    table.add(e)
                table.transitions.update(transitions)
                write_json_atomic(self.path, table.to_json(), sort_keys=True)
        except Timeout:
            self.log(f"nas latency: layer cache {self.path} stayed locked for {LOCK_WAIT_S:.0f} s; "
                     "the layers measured now are used but not stored")

    def fill(self, spec: NetSpec | Sequence[NetSpec], table: LatencyTable, batch: int = 1) -> list[TableEntry]:
        from nas.hw_models.in_context import measure_in_context, networks_adding

        specs = [spec] if isinstance(spec, NetSpec) else list(spec)
        have = {e.key for e in table.entries} | self._refused
        todo, missing = networks_adding(specs, have, table, batch, self.threads)
        if not missing:
            return []
        t0 = time.perf_counter()
        try:
            got = measure_in_context(todo, batch=batch, runs=self.runs, threads=self.threads, guard=self.guard,
                                     table=table, passes=self.passes, wanted=missing)
        except LoadError as e:
            self._refused |= missing
            busy = "an unknown share" if e.others is None else f"{e.others:.1f}"
            self.log(f"nas latency: {len(missing)} layers not measured on demand: other processes used {busy} of "
                     f"the cores, which would inflate them; they are interpolated (run again on a quieter "
                     "machine to measure them, or --no-measure to skip)")
            return []
        for e in got:
            table.add(e)
        self._store(got, dict(table.transitions), table.roofline)
        self.log(f"nas latency: measured {len(got)} layers on demand, timed inside {len(todo)} network"
                 f"{'s' if len(todo) != 1 else ''} in {time.perf_counter() - t0:.1f} s ({self.threads} thread"
                 f"{'s' if self.threads != 1 else ''}), cached in {self.path}")
        return got
