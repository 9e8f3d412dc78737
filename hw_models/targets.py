"""Hardware targets: a device and the latency model that predicts it, looked up by name.

``get_target(name)`` returns a ``Target``. Built in:

- ``gpu`` (and ``gpu-h100``, ``gpu-a100``, ``gpu-rtx2080ti``): roofline on a shipped GPU profile; no GPU
  table has been measured yet, and ``describe()`` says so;
- ``cpu``: this machine's CPU, from the calibration ``nas latency calibrate --target cpu`` stored for this
  machine (lookup table + learned correction), else the calibration shipped with the package (measured on
  the development machine), else the roofline; ``cpu-roofline``: the roofline part alone;
- each HELP device (``pixel3``, ``2080ti_32``, ``gold_6226``, ...; see ``nb201_latency.DEVICES``): measured
  NAS-Bench-201 latencies of every cell; applies to ``nb201`` NetSpecs at 3×32×32, C=16, N=5 only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nas.errors import NasError
from nas.searchspace.netspec import NetSpec
from nas.searchspace.registry import Registry

if TYPE_CHECKING:
    from nas.hw_models.conditions import LoadGuard


class Target(ABC):
    """A hardware target.

    Contract: ``per_layer_ms(spec, batch)`` gives one non-negative time per layer of ``spec`` and
    ``latency_ms(spec, batch)`` their sum (batch ``None`` = the target's own batch, 1 unless the device
    name fixes another); ``describe()`` says in one line which model and which device, and whether the
    numbers are measured or estimated. A spec the target cannot cover raises a one-line ``NasError``.
    """

    name: str = ""
    kind: str = ""

    @abstractmethod
    def per_layer_ms(self, spec: NetSpec, batch: int | None = None) -> list[float]: ...

    def latency_ms(self, spec: NetSpec, batch: int | None = None) -> float:
        return float(sum(self.per_layer_ms(spec, batch)))

    @abstractmethod
    def describe(self) -> str: ...

    def __repr__(self) -> str:
        return f"<target {self.name}: {self.describe()}>"


def _batch(batch: int | None) -> int:
    if batch is None:
        return 1
    if batch < 1:
        raise NasError(f"bad batch size {batch}; use a positive integer")
    return batch


class RooflineTarget(Target):
    """A target predicted by the roofline model on a shipped device profile."""

    def __init__(self, name: str, profile: str, note: str = "") -> None:
        from nas.hw_models.profiles import load_profile
        from nas.hw_models.roofline import RooflineModel

        self.name = name
        self.model = RooflineModel(load_profile(profile))
        self.kind = self.model.profile.kind
        self.note = note

    def per_layer_ms(self, spec: NetSpec, batch: int | None = None) -> list[float]:
        return self.model.per_layer_ms(spec, _batch(batch))

    def describe(self) -> str:
        return f"{self.note}{self.model.describe()}"


class CpuTarget(Target):
    """This machine's CPU: lookup table + learned correction from a calibration (see the module docstring).

    ``model`` is ``"auto"`` (table + learned where the spec's space was calibrated and the correction's
    leave-one-out error on the calibration networks beats the table's, else the table),
    ``"table"``, ``"table+learned"``, ``"roofline"`` or ``"roofline+learned"``. The table includes this
    machine's layers measured on demand (``on_demand.LayerCache``); after ``measure_on_demand()`` a
    prediction first measures the layers of the network the table lacks. ``sources(spec)`` says how many
    layers were measured, interpolated or modelled.
    """

    kind = "cpu"
    MODELS = ("auto", "table", "table+learned", "roofline", "roofline+learned")

    def __init__(self, name: str = "cpu", model: str = "auto", threads: int | None = None,
                 calibration_file: str | Path | None = None) -> None:
        from nas.hw_models.calibrate import (
            SHIPPED_PROFILE,
            Calibration,
            calibration_path,
            shipped_calibration_path,
            shipped_profile_for,
        )
        from nas.hw_models.machine import default_threads, machine_id

        if model not in self.MODELS:
            raise NasError(f"unknown cpu latency model {model!r}; allowed: {', '.join(self.MODELS)}")
        self.name, self.model = name, model
        self.threads = threads or default_threads()
        self.here = machine_id(self.threads)
        path = Path(calibration_file) if calibration_file else calibration_path(self.threads)
        self.source = "calibration of this machine"
        if not path.is_file() and calibration_file is None:
            path = shipped_calibration_path()
            self.source = "calibration shipped with nas"
        if not path.is_file():
            if calibration_file is not None:
                raise NasError(f"calibration file {str(path)!r} does not exist")
            self.path, self.calibration = None, None
            here = shipped_profile_for(self.threads)
            self._roofline = RooflineTarget(name, here.name if here else SHIPPED_PROFILE, "roofline estimate: no CPU calibration found "
                                            "(run `nas latency calibrate --target cpu --space hybrid`); ")
        else:
            self.path = path
            self.calibration = Calibration.load(path)
        self._on_demand = None
        if self.calibration is not None:
            from nas.hw_models.on_demand import LayerCache, cache_path

            for e in LayerCache(cache_path(self.threads), self.threads).entries(self.calibration.roofline):
                self.calibration.table.add(e)

    def measure_on_demand(self, log: Callable[[str], None] | None = None, wait_s: float = 5.0,
                          guard: LoadGuard | None = None) -> CpuTarget:
        """From now on, measure (and cache) a network's layers the table lacks before predicting it."""
        from nas.hw_models.on_demand import LayerCache, cache_path

        if self.calibration is not None:
            self._on_demand = LayerCache(cache_path(self.threads), self.threads, log=log, wait_s=wait_s,
                                         guard=guard)
        return self

    def sources(self, spec: NetSpec, batch: int | None = None) -> dict[str, int]:
        """How many of ``spec``'s layers the table has measured, interpolates from measured layers of
        their variant, or models (roofline); a learned correction, where used, adjusts them all."""
        from nas.hw_models.lookup_table import INTERPOLATED, MEASURED, MODELLED

        out = {MEASURED: 0, INTERPOLATED: 0, MODELLED: 0}
        if self.calibration is None or self._parts(spec)[0] != "table":
            out[MODELLED] = len(spec.layers)
            return out
        if self._on_demand is not None:
            self._on_demand.fill(spec, self.calibration.table, _batch(batch))
        for s in self.calibration.table.sources(spec, _batch(batch)):
            out[s] += 1
        return out

    @property
    def foreign(self) -> bool:
        return self.calibration is not None and self.calibration.machine.get("id") != self.here

    def _parts(self, spec: NetSpec) -> tuple[str, str | None]:
        """(base model, correction base or None) used for ``spec``."""
        if self.model == "auto":
            corr = self.calibration.correction_for(spec, "table")
            return ("table", "table") if corr is not None and corr.beats_base else ("table", None)
        base, _, learned = self.model.partition("+")
        return base, (base if learned else None)

    def per_layer_ms(self, spec: NetSpec, batch: int | None = None) -> list[float]:
        b = _batch(batch)
        if self.calibration is None:
            return self._roofline.per_layer_ms(spec, b)
        base, learned = self._parts(spec)
        cal = self.calibration
        if self._on_demand is not None and base == "table":
            self._on_demand.fill(spec, cal.table, b)
        if learned is not None and b == 1:
            corr = cal.correction_for(spec, learned)
            if corr is None:
                space = spec.meta.get("space") if spec.meta else None
                raise NasError(f"no learned correction for space {space!r} in {self.path}; run "
                               f"`nas latency calibrate --target cpu --space {space or 'SPACE'}`")
            return corr.per_layer(cal.layer_rows(spec, base, b))
        if base == "table":
            return cal.table.per_layer_ms(spec, b)
        return cal.roofline.per_layer_ms(spec, b)

    def describe(self) -> str:
        if self.calibration is None:
            return self._roofline.describe()
        cal = self.calibration
        m = cal.machine
        if self.model == "auto":
            learned = ", ".join(s for s, c in sorted(cal.corrections.items()) if "table" in c and c["table"].beats_base)
            what = (f"lookup table of {len(cal.table)} measured layers + learned correction for spaces "
                    f"{learned or 'none'} (table alone elsewhere)")
        elif self.model.startswith("table"):
            what = f"lookup table of {len(cal.table)} measured layers" + (" + learned correction" if "+" in self.model else "")
        else:
            what = cal.roofline.describe() + (" + learned correction" if "+" in self.model else "")
        where = (f"measured on {m.get('id')}, NOT this machine ({self.here}): run `nas latency calibrate "
                 "--target cpu --space SPACE` here" if self.foreign else f"measured on this machine ({m.get('id')})")
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        return f"{what}; {threads}; {where}; {self.source} {self.path.name}"


class NB201DeviceTarget(Target):
    """A HELP device: measured latency of every NAS-Bench-201 cell (3×32×32, C=16, N=5).

    ``latency_ms`` is the device's measured value for the spec's cell (the data covers all 15,625
    cells, so no fit is needed for the total); ``per_layer_ms`` splits it over the layers in
    proportion to a roofline estimate on a profile of the same kind (a GPU or a CPU profile).
    """

    def __init__(self, device: str) -> None:
        from nas.hw_models.nb201_latency import DEVICE_KIND

        self.name = device
        self.kind = DEVICE_KIND[device]
        tail = device.rsplit("_", 1)[-1]
        self.batch = int(tail) if self.kind == "gpu" and tail.isdigit() else 1

    def _arch_string(self, spec: NetSpec) -> str:
        from nas.searchspace.ops.nb201 import NB201_EDGES

        ops = [layer.op for layer in spec.layers]
        space = spec.meta.get("space") if spec.meta else None
        cells = [layer for layer in spec.layers if layer.op == "nb201_cell"]
        if (space not in (None, "nb201") or not cells or ops[0] != "conv"
                or (spec.input.channels, spec.input.height, spec.input.width) != (3, 32, 32)
                or len(cells) != 15 or cells[0].in_type.channels != 16):
            raise NasError(f"target {self.name!r}: the device's data covers NB201 cells only "
                           f"(space nb201 at 3x32x32, C=16, N=5), got {space or spec.name or 'another network'} "
                           f"at {spec.input}")
        edges = cells[0].hp["edges"]
        parts = []
        for j in (1, 2, 3):
            parts.append("|" + "|".join(f"{op}~{i}" for op, (i, jj) in zip(edges, NB201_EDGES) if jj == j) + "|")
        return "+".join(parts)

    def per_layer_ms(self, spec: NetSpec, batch: int | None = None) -> list[float]:
        from nas.hw_models.nb201_latency import load_help_data
        from nas.hw_models.profiles import load_profile
        from nas.hw_models.roofline import RooflineModel

        if batch is not None and batch != self.batch:
            raise NasError(f"target {self.name!r} holds data at batch {self.batch} only, not {batch}")
        total = load_help_data().latency(self.name, self._arch_string(spec))
        profile = "rtx2080ti" if self.kind == "gpu" else "amd_epyc_2c"
        shares = RooflineModel(load_profile(profile)).per_layer_ms(spec, self.batch)
        s = sum(shares)
        return [total * v / s for v in shares]

    def describe(self) -> str:
        return (f"measured HELP NB201 latency on {self.name} ({self.kind}, batch {self.batch}; all 15,625 cells); "
                "per-layer split in proportion to a roofline estimate")


def _register_builtin() -> None:
    from nas.hw_models.nb201_latency import DEVICES

    no_table = "roofline estimate: no measured table; "
    TARGETS.add("gpu", lambda: RooflineTarget("gpu", "h100_sxm", no_table))
    TARGETS.add("gpu-h100", lambda: RooflineTarget("gpu-h100", "h100_sxm", no_table))
    TARGETS.add("gpu-a100", lambda: RooflineTarget("gpu-a100", "a100_sxm", no_table))
    TARGETS.add("gpu-rtx2080ti", lambda: RooflineTarget("gpu-rtx2080ti", "rtx2080ti", no_table))
    TARGETS.add("cpu", lambda: CpuTarget("cpu"))
    TARGETS.add("cpu-roofline", lambda: CpuTarget("cpu-roofline", model="roofline"))
    for d in DEVICES:
        TARGETS.add(d, lambda d=d: NB201DeviceTarget(d))


TARGETS: Registry[Callable[[], Target]] = Registry("target", loader=_register_builtin)
"""Target factories by name; ``get_target(name)`` calls one."""


def get_target(name: str) -> Target:
    """The registered target ``name`` (a one-line NasError listing the names when unknown)."""
    return TARGETS.get(name)()


def target_names() -> list[str]:
    return TARGETS.names()
