"""Calibrating the ``cpu`` target on this machine: measure a layer table and fit the learned correction.

``calibrate(config)`` (a) measures this CPU's peak for the roofline profile, (b) lists the distinct layers
of many sampled architectures of a space and measures them, timed layer by layer inside the networks
that hold them (``in_context``; ``context="isolated"`` times each layer alone instead), interleaved in
small groups, (c) measures whole sampled networks interleaved and (d) fits the learned correction on them.
The result is stored under ``user_data_dir()/<machine id>.json`` (merged with what is there: calibrating
``hybrid`` then ``mobilenet`` keeps both), where the ``cpu`` target finds it next time.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.hw_models.conditions import Conditions, LoadGuard, measurement_settings, settings_digest
from nas.hw_models.in_context import walk_layouts
from nas.hw_models.learned import LearnedCorrection, network_features, spec_layer_features
from nas.hw_models.lookup_table import LatencyTable, TableEntry, layer_key
from nas.hw_models.machine import cpu_model, default_threads, machine_id, user_data_dir
from nas.hw_models.profiles import DeviceProfile, load_profile
from nas.hw_models.roofline import RooflineModel
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import Layer, NetSpec

CALIBRATION_FORMAT = "nas-cpu-calibration/1"
SHIPPED_PROFILE = "amd_epyc_2c"

Log = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationConfig:
    """Settings of one calibration run (written into the calibration file).

    ``enumerate_archs`` architectures are sampled to list the space's distinct layers; at most
    ``max_layers`` of them are measured (``layer_runs`` interleaved runs each, most frequent first);
    ``networks`` further architectures are measured whole (``net_runs`` runs) to fit the correction.
    Layers and networks are measured in ``passes`` separate passes; each keeps its smallest pass median.
    Layer measurement stops at ``layer_share`` of ``budget_s``; the whole run aims to end within it.
    Layers already in this machine's table are kept (so a killed run resumes) when they were measured
    under recorded, uncontended conditions, unless ``fresh`` (``--remeasure``). Every block of
    measurements is watched for other work (``conditions.LoadGuard``): a block other processes
    distorted is measured again once the machine is quiet (waiting up to ``wait_s``), else the run stops
    with a one-line refusal, keeping what it measured cleanly.
    """

    space: str = "hybrid"
    input: str | None = None
    batch: int = 1
    threads: int | None = None
    seed: int = 0
    enumerate_archs: int = 400
    max_layers: int = 2000
    layer_runs: int = 7
    networks: int = 50
    net_runs: int = 7
    budget_s: float = 540.0
    layer_share: float = 0.6
    passes: int = 2
    measure_peak: bool = True
    fresh: bool = False
    wait_s: float = 60.0
    context: str = "network"

    def __post_init__(self) -> None:
        for k in ("batch", "enumerate_archs", "layer_runs", "networks", "net_runs", "passes"):
            if getattr(self, k) < 1:
                raise NasError(f"calibration {k}={getattr(self, k)} must be at least 1")
        if self.networks < 3:
            raise NasError(f"calibration networks={self.networks} must be at least 3 to fit the correction")
        if not (0 < self.budget_s < float("inf")) or not 0 < self.layer_share < 1:
            raise NasError("calibration budget_s must be positive and layer_share in (0, 1)")
        if self.context not in ("network", "isolated"):
            raise NasError(f"calibration context={self.context!r}; allowed: network, isolated")
        if not (0 <= self.wait_s <= 86_400):
            raise NasError(f"calibration wait_s={self.wait_s!r} must be between 0 and 86400 seconds")


@dataclass
class Calibration:
    """This machine's CPU latency data: machine description, roofline profile, layer table, the measured
    networks and, per space, the learned correction fitted on them (``corrections[space][base]``)."""

    machine: dict[str, Any]
    profile: DeviceProfile
    table: LatencyTable
    networks: list[dict[str, Any]]
    corrections: dict[str, dict[str, LearnedCorrection]]
    configs: list[dict[str, Any]]

    @property
    def roofline(self) -> RooflineModel:
        return self.table.roofline

    def to_json(self) -> dict[str, Any]:
        return {"format": CALIBRATION_FORMAT, "machine": self.machine, "profile": self.profile.to_json(),
                "table": self.table.to_json(), "networks": self.networks,
                "corrections": {s: {b: c.to_json() for b, c in d.items()} for s, d in self.corrections.items()},
                "configs": self.configs}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Calibration:
        if d.get("format") != CALIBRATION_FORMAT:
            raise NasError(f"not a CPU calibration file: format {d.get('format')!r}, expected {CALIBRATION_FORMAT!r}")
        profile = DeviceProfile.from_json(d["profile"])
        table = LatencyTable.from_json(d["table"], RooflineModel(profile))
        corr = {s: {b: LearnedCorrection.from_json(c) for b, c in v.items()} for s, v in d.get("corrections", {}).items()}
        return cls(dict(d["machine"]), profile, table, list(d.get("networks", [])), corr, list(d.get("configs", [])))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temporary file, then rename)."""
        from nas.io import write_json_atomic

        return write_json_atomic(path, self.to_json(), sort_keys=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        p = Path(path)
        try:
            return cls.from_json(json.loads(p.read_text()))
        except FileNotFoundError:
            raise NasError(f"calibration file {str(p)!r} does not exist") from None
        except json.JSONDecodeError as e:
            raise NasError(f"calibration file {str(p)!r} is not JSON: {e.msg} at line {e.lineno}") from None

    # -- using it ----------------------------------------------------------------------------------
    def layer_rows(self, spec: NetSpec, base: str = "table", batch: int = 1) -> np.ndarray:
        terms = [self.table.terms(layer, batch) for layer in spec.layers]
        base_ms = (self.table.per_layer_ms(spec, batch) if base == "table" else [t.total_ms for t in terms])
        return spec_layer_features(spec, base_ms, terms)

    def correction_for(self, spec: NetSpec, base: str = "table") -> LearnedCorrection | None:
        space = spec.meta.get("space") if spec.meta else None
        return self.corrections.get(str(space), {}).get(base) if space else None

    def refit(self, space: str, bases: Sequence[str] = ("table", "roofline")) -> None:
        """Refit ``space``'s corrections from the stored measured networks."""
        from nas.searchspace import get_space

        rows = [n for n in self.networks if n["space"] == space]
        if len(rows) < 3:
            return
        specs = [_resolve_stored(get_space, n) for n in rows]
        y = np.array([n["ms"] for n in rows])
        for base in bases:
            X = np.stack([network_features(self.layer_rows(s, base, int(n.get("batch", 1))))
                          for s, n in zip(specs, rows)])
            self.corrections.setdefault(space, {})[base] = LearnedCorrection.fit(X, y, base=base)


def _resolve_stored(get_space: Callable[..., Any], n: Mapping[str, Any]) -> NetSpec:
    from nas.searchspace.tensor_type import parse_input

    sp = get_space(n["space"], input=parse_input(n["input"]) if n.get("input") else None)
    return sp.resolve(Architecture.from_json(n["arch"]))


def settings_id(threads: int | None = None) -> str:
    """This machine's id at ``threads`` threads plus a digest of the measurement settings (torch
    version, its CPU backend, dtype): calibrations and layer caches taken under other settings live in
    other files, so unrelated runs never share or overwrite a table silently."""
    t = threads or default_threads()
    return f"{machine_id(t)}-{settings_digest(measurement_settings(t))}"


def calibration_path(threads: int | None = None) -> Path:
    """Where this machine's calibration for ``threads`` threads (and these settings) lives."""
    return user_data_dir() / f"{settings_id(threads)}.json"


def shipped_calibration_path() -> Path:
    """The calibration shipped in the package (measured on the development machine)."""
    return Path(__file__).resolve().parent / "tables" / "cpu_default.json"


def machine_info(threads: int) -> dict[str, Any]:
    import torch

    return {"id": machine_id(threads), "cpu": cpu_model(), "threads": threads, "torch": torch.__version__,
            "settings": measurement_settings(threads),
            "measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)


def measure_layers(layers: Sequence[tuple[Layer, str]], *, batch: int, runs: int, threads: int, deadline: float,
                   passes: int = 2, group_size: int = 12, log: Log = _stderr,
                   on_group: Callable[[list[TableEntry]], None] | None = None,
                   guard: LoadGuard | None = None) -> list[TableEntry]:
    """Measure (layer, input layout) pairs in interleaved groups, in ``passes`` separate passes, until
    ``deadline`` (a ``time.perf_counter`` value). A layer's time is the smallest of its pass medians:
    interference from other processes only adds time, and a burst that inflates a whole group in one
    pass rarely hits the same group in the other. ``on_group`` receives each group's entries. Each group
    runs under ``guard`` (re-measured when other work distorted it; a ``LoadError`` when it stays busy)
    and its entries carry the conditions it was measured under."""
    guard = guard or LoadGuard(threads, log=log)
    import torch

    from nas.hw_models.layout import make_input
    from nas.hw_models.measure import time_interleaved

    best: dict[int, TableEntry] = {}
    gen = torch.Generator().manual_seed(0)
    for p in range(passes):
        for start in range(0, len(layers), group_size):
            if time.perf_counter() > deadline:
                log(f"  layer budget reached in pass {p + 1} after {start} of {len(layers)} layers")
                return [best[i] for i in sorted(best)]
            chunk = layers[start:start + group_size]
            fns = []
            for layer, layout in chunk:
                module = layer.spec.build(layer.in_type, layer.hp).eval()
                x = make_input(layer.in_type.shape(batch), layout, gen)
                fns.append(lambda m=module, x=x: m(x))
            ms, cond = guard.run(lambda fns=fns: time_interleaved(fns, runs=runs, warmup=2, threads=threads,
                                                                    min_round_ms=0.5),
                                 f"layers {start + 1}-{start + len(chunk)} (pass {p + 1})")
            got = []
            for i, ((layer, layout), m) in enumerate(zip(chunk, ms), start=start):
                if i not in best or m.median_ms < best[i].ms:
                    best[i] = TableEntry(layer, batch, "fp32", m.median_ms, m.iqr_rel, layout, cond)
                got.append(best[i])
            if on_group is not None:
                on_group(got)
            if (start // group_size) % 10 == 0:
                log(f"  pass {p + 1}: layers measured {start + len(chunk)}/{len(layers)}")
    return [best[i] for i in sorted(best)]


def measure_networks(specs: Sequence[NetSpec], *, batch: int, runs: int, threads: int, passes: int = 2,
                     group_size: int = 8, log: Log = _stderr,
                     guard: LoadGuard | None = None) -> list[tuple[float, Conditions]]:
    """Whole networks measured interleaved in groups, in ``passes`` passes, each group under ``guard``:
    the smallest pass median of each, with the conditions of the pass that gave it."""
    from nas.hw_models.measure import measure_specs

    guard = guard or LoadGuard(threads, log=log)
    out: list[tuple[float, Conditions | None]] = [(math.inf, None)] * len(specs)
    for p in range(passes):
        for start in range(0, len(specs), group_size):
            chunk = specs[start:start + group_size]
            ms, cond = guard.run(lambda chunk=chunk: measure_specs(chunk, batch=batch, runs=runs, warmup=2,
                                                                   threads=threads),
                                 f"networks {start + 1}-{start + len(chunk)} (pass {p + 1})")
            for i, m in enumerate(ms, start=start):
                if m.median_ms < out[i][0]:
                    out[i] = (m.median_ms, cond)
        log(f"  pass {p + 1}: networks measured {len(specs)}")
    return out  # type: ignore[return-value]


def load_or_new(path: Path, threads: int, profile: DeviceProfile) -> Calibration:
    """The calibration at ``path`` (when it was measured on this machine id), else an empty one."""
    if path.is_file():
        try:
            cal = Calibration.load(path)
        except NasError:  # an older or foreign format: start afresh (it is overwritten on save)
            cal = None
        if cal is not None and cal.machine.get("id") == machine_id(threads):
            return cal
    info = machine_info(threads)
    return Calibration(info, profile, LatencyTable(info, RooflineModel(profile)), [], {}, [])


def shipped_profile_for(threads: int) -> DeviceProfile | None:
    """The shipped CPU profile measured on this machine id at ``threads`` threads, if there is one."""
    from nas.hw_models.profiles import profile_names

    for name in profile_names():
        p = load_profile(name)
        if p.kind == "cpu" and p.extra.get("machine_id") == machine_id(threads):
            return p
    return None


def measured_profile(threads: int, log: Log = _stderr, guard: LoadGuard | None = None) -> DeviceProfile:
    """This CPU's roofline profile: the shipped one when it was measured on this machine id (peaks are
    best measured on a quiet machine), else peaks measured now with the shipped efficiencies."""
    from nas.hw_models.measure import measure_peak

    here = shipped_profile_for(threads)
    if here is not None:
        log(f"  peak: shipped profile {here.name} was measured on this machine id; using it")
        return here
    base = load_profile(SHIPPED_PROFILE)
    guard = guard or LoadGuard(threads, log=log)
    peak, _ = guard.run(lambda: measure_peak(threads=threads), "peak")
    log(f"  peak: {peak.gflops:.1f} GFLOP/s fp32, {peak.bandwidth_gbs:.1f} GB/s, {peak.overhead_us:.1f} us/call")
    return replace(base, name=machine_id(threads), description=f"{cpu_model()}, {threads} threads (measured)",
                   peak_gflops={"fp32": round(peak.gflops, 1)}, bandwidth_gbs=round(peak.bandwidth_gbs, 2),
                   kernel_overhead_us=round(min(max(peak.overhead_us, 1.0), 20.0), 2), source=peak.how,
                   threads=threads, extra={"cpu_model": cpu_model()})


def calibrate(config: CalibrationConfig, path: str | os.PathLike[str] | None = None, log: Log = _stderr,
              guard: LoadGuard | None = None) -> tuple[Calibration, Path]:
    """Run a calibration (see the module docstring); returns the merged calibration and where it was saved.
    Raises ``LoadError`` (a one-line ``NasError``) when other work keeps the machine too busy."""
    from nas.searchspace import get_space
    from nas.searchspace.tensor_type import parse_input

    t0 = time.perf_counter()
    threads = config.threads or default_threads()
    target_path = Path(path) if path else calibration_path(threads)
    space = get_space(config.space, input=parse_input(config.input) if config.input else None)
    rng = np.random.default_rng(config.seed)
    guard = guard or LoadGuard(threads, wait_s=config.wait_s, log=log)
    guard.before("calibration refused before it started")

    from filelock import FileLock, Timeout

    target_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target_path) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise NasError(f"calibration file {str(target_path)!r} is being written by another calibration; wait "
                       "for it to finish (two calibrations at once would also distort each other)") from None
    try:
        return _calibrate_locked(config, target_path, space, rng, threads, guard, log, t0)
    finally:
        lock.release()


def _calibrate_locked(config: CalibrationConfig, target_path: Path, space: Any, rng: np.random.Generator,
                      threads: int, guard: LoadGuard, log: Log, t0: float) -> tuple[Calibration, Path]:
    profile = measured_profile(threads, log, guard) if config.measure_peak else load_profile(SHIPPED_PROFILE)
    cal = load_or_new(target_path, threads, profile)
    if config.measure_peak:
        cal.profile = profile
        cal.table = LatencyTable(cal.table.device, RooflineModel(profile), cal.table.entries, cal.table.transitions)

    log(f"calibrating {config.space} on {machine_id(threads)} ({threads} thread{'s' if threads != 1 else ''}, "
        f"batch {config.batch}), budget {config.budget_s:.0f} s")
    enum_specs = [space.resolve(space.sample(rng)) for _ in range(config.enumerate_archs)]
    net_archs = [space.sample(rng) for _ in range(config.networks)]
    net_specs = [space.resolve(a) for a in net_archs]
    # the layers of the networks that fit the correction come first, then the others in sampled order
    layers = walk_layouts(net_specs + enum_specs, cal.table, config.batch, threads)[:config.max_layers]
    log(f"  {len(layers)} distinct (layer, input layout) pairs in {config.enumerate_archs + config.networks} "
        f"sampled architectures ({time.perf_counter() - t0:.0f} s)")
    have = set() if config.fresh else {e.key for e in cal.table.entries if e.trusted}
    if not config.fresh:
        layers = [(layer, lay) for layer, lay in layers if layer_key(layer, config.batch, "fp32", lay) not in have]
        log(f"  {len(layers)} of them not yet measured on a quiet machine in this machine's table")
    deadline = t0 + config.budget_s * config.layer_share
    groups = [0]

    def keep(entries: list[TableEntry]) -> None:
        for e in entries:
            cal.table.add(e)
        groups[0] += 1
        if groups[0] % 10 == 0:  # written as it arrives: a killed run resumes from here
            cal.save(target_path)

    try:
        if config.context == "network":
            from nas.hw_models.in_context import measure_in_context, networks_adding

            todo, wanted = networks_adding(net_specs + enum_specs, have, cal.table, config.batch, threads)
            log(f"  timing them inside {len(todo)} of the networks, layer by layer")
            measure_in_context(todo, batch=config.batch, runs=config.layer_runs, threads=threads, guard=guard,
                               table=cal.table, passes=config.passes, deadline=deadline, wanted=wanted,
                               on_group=keep, log=log)
        else:
            measure_layers(layers, batch=config.batch, runs=config.layer_runs, threads=threads,
                           deadline=deadline, passes=config.passes, log=log, on_group=keep, guard=guard)
    finally:  # a refusal keeps every cleanly measured group: the same command resumes from there
        if groups[0] % 10:
            cal.save(target_path)

    ms = measure_networks(net_specs, batch=config.batch, runs=config.net_runs, threads=threads,
                          passes=config.passes, log=log, guard=guard)
    inp = space.config()["input"]
    cal.networks = [n for n in cal.networks if n["space"] != config.space or n.get("input") != inp] + [
        {"space": config.space, "input": inp, "batch": config.batch, "arch": a.to_json(), "ms": m,
         "conditions": c.to_json()} for a, (m, c) in zip(net_archs, ms)]
    cal.refit(config.space)
    cal.configs = [c for c in cal.configs if c.get("space") != config.space] + [
        {**asdict(config), "threads": threads, "seconds": round(time.perf_counter() - t0, 1),
         "remeasured_blocks": guard.remeasured}]
    cal.machine = {**machine_info(threads)}
    cal.table.device = cal.machine
    saved = cal.save(target_path)
    log(f"calibration saved to {saved} in {time.perf_counter() - t0:.0f} s")
    return cal, saved
