"""The conditions a latency measurement was taken under, and whether other work distorted it.

A measurement on a shared CPU is only as good as the share of the cores it had. The load average is
a lagging, one-minute view that also counts the measuring process itself, so the decision uses the CPU
time other processes actually consumed *during* the measured block: the busy time of this process's
cores (``/proc/stat``: user, nice, system, irq, softirq, steal) minus this process's own CPU time,
divided by the wall time. Where ``/proc/stat`` is missing (macOS, Windows) the one-minute load average
less the measuring threads stands in.

A block is *contended* when the cores left to the measurement by other work are fewer than its
threads plus half a core: on 2 cores measuring with 1 thread that is another process using more than
half a core; a busy loop on both cores shows up as ~2 busy cores of others. Measuring on every core,
other work of up to a tenth of a core is tolerated.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from nas.errors import NasError
from nas.hw_models.machine import cpu_count

T = TypeVar("T")

MARGIN_CORES = 0.5
"""Cores kept free beyond the measuring threads before a block counts as contended."""


@dataclass(frozen=True)
class Conditions:
    """How one measurement was taken: ``threads``, the 1-minute ``load_avg`` at the end of the block,
    ``others_cores`` (CPU cores' worth of time other processes used during it, None when unknown),
    ``cores`` visible to this process, the ``torch`` version and the UTC time ``at``."""

    threads: int
    load_avg: float | None
    others_cores: float | None
    cores: int
    torch: str
    at: str

    @property
    def contended(self) -> bool:
        """Other work left fewer than ``threads`` + 0.5 cores to the measurement."""
        return contended(self.others_cores, self.threads, self.cores)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Conditions:
        return cls(int(d["threads"]), _opt_float(d.get("load_avg")), _opt_float(d.get("others_cores")),
                   int(d.get("cores", 0)), str(d.get("torch", "")), str(d.get("at", "")))

    def describe(self) -> str:
        others = "unknown" if self.others_cores is None else f"{self.others_cores:.2f}"
        load = "unknown" if self.load_avg is None else f"{self.load_avg:.2f}"
        return (f"{self.threads} thread{'s' if self.threads != 1 else ''}, other processes used {others} of "
                f"{self.cores} cores, load average {load}")


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def contended(others_cores: float | None, threads: int, cores: int | None = None) -> bool:
    """Whether ``others_cores`` of busy other work leaves too little of ``cores`` for ``threads``."""
    if others_cores is None:
        return False
    cores = cores or cpu_count()
    # measuring on every core, a tenth of a core of other work is tolerated
    return cores - others_cores < min(threads + MARGIN_CORES, cores - 0.1)


def torch_version() -> str:
    import torch

    return str(torch.__version__)


def _my_cpus() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:
        return None


def _busy_jiffies(cpus: set[int] | None) -> int | None:
    """Busy ticks (user+nice+system+irq+softirq+steal) summed over ``cpus`` (all when None)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    total = 0
    found = False
    for line in lines:
        name, *vals = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        v = [int(x) for x in vals[:8]] + [0] * max(0, 8 - len(vals))
        user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
        total += user + nice + system + irq + softirq + steal
        found = True
    return total if found else None


def load_avg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


class CpuUse:
    """Measures the CPU time other processes use while a block runs (see the module docstring).

    ``start()`` then ``stop()`` returns others' busy cores over the interval (None when unknown)."""

    def __init__(self) -> None:
        self.cpus = _my_cpus()
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._t0 = self._busy0 = self._own0 = None

    def start(self) -> CpuUse:
        self._t0 = time.perf_counter()
        self._busy0 = _busy_jiffies(self.cpus)
        self._own0 = time.process_time()
        return self

    def stop(self, threads: int) -> float | None:
        wall = time.perf_counter() - self._t0
        busy1 = _busy_jiffies(self.cpus)
        own = time.process_time() - self._own0
        if wall <= 0:
            return None
        if busy1 is None or self._busy0 is None:
            la = load_avg()
            return None if la is None else max(0.0, la - threads)
        others = ((busy1 - self._busy0) / self._hz - own) / wall
        return round(max(0.0, others), 3)


def sample_others(seconds: float = 1.0) -> float | None:
    """Others' busy cores over ``seconds`` of this process sleeping (a quick look before measuring)."""
    use = CpuUse().start()
    time.sleep(seconds)
    return use.stop(threads=0)


@contextmanager
def observed(threads: int) -> Iterator[list[Conditions]]:
    """Run a block and append its ``Conditions`` to the yielded list when it ends."""
    out: list[Conditions] = []
    use = CpuUse().start()
    yield out
    out.append(Conditions(threads, load_avg(), use.stop(threads), cpu_count(), torch_version(),
                          _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")))


def measurement_settings(threads: int, batch: int = 1, dtype: str = "fp32") -> dict[str, Any]:
    """What, besides the machine, decides a CPU latency: torch version and its CPU backends, threads,
    batch and dtype. Tables measured under different settings are kept apart."""
    import torch

    return {"threads": threads, "batch": batch, "dtype": dtype, "torch": torch_version(),
            "mkldnn": bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
            "capability": torch.backends.cpu.get_cpu_capability()}


def settings_digest(settings: Mapping[str, Any]) -> str:
    """A short digest of ``measurement_settings``, part of a calibration's file name."""
    text = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class LoadError(NasError):
    """Other work kept the machine too busy to measure: a one-line refusal (exit 2 on the CLI).
    ``others`` is the busy cores of other work last seen, ``load`` the load average."""

    def __init__(self, msg: str, others: float | None = None, load: float | None = None) -> None:
        super().__init__(msg)
        self.others, self.load = others, load


class LoadGuard:
    """Runs measurement blocks only when other work leaves the cores free, re-measuring a block that
    other work distorted.

    ``before(what)`` waits (up to ``wait_s``) until other processes leave ``threads`` + 0.5 cores free,
    else raises ``LoadError``. ``run(fn, what)`` calls ``fn()`` and observes the block; when it was
    contended it waits for quiet and runs it again, up to ``attempts`` times, then raises ``LoadError``
    naming what it saw. ``observe`` and ``sample`` are injectable (tests feed them fake loads)."""

    def __init__(self, threads: int, wait_s: float = 60.0, attempts: int = 3,
                 log: Callable[[str], None] | None = None,
                 observe: Callable[[int], AbstractContextManager[list[Conditions]]] | None = None,
                 sample: Callable[[float], float | None] | None = None, poll_s: float = 1.0) -> None:
        if not (wait_s >= 0) or wait_s == float("inf"):
            raise NasError(f"bad wait {wait_s!r}; use 0 or more seconds")
        self.threads, self.wait_s, self.attempts, self.poll_s = threads, wait_s, max(1, attempts), poll_s
        self.log = log or (lambda s: None)
        self.observe = observe or observed
        self.sample = sample or sample_others
        self.remeasured = 0

    def _refuse(self, what: str, others: float | None, load: float | None) -> LoadError:
        seen = "an unknown share" if others is None else f"{others:.1f}"
        la = "" if load is None else f" (load average {load:.1f})"
        return LoadError(f"{what}: other processes used {seen} of {cpu_count()} cores{la}, leaving less than "
                         f"{self.threads} thread{'s' if self.threads != 1 else ''} + {MARGIN_CORES} core free, so "
                         "the times would be inflated; stop the other work and run the same command again "
                         "(measured entries are kept; --wait SECONDS waits longer)", others, load)

    def quiet(self) -> tuple[bool, float | None]:
        """Wait up to ``wait_s`` for a quiet second; (whether it came, others' cores last seen)."""
        t0 = time.perf_counter()
        while True:
            others = self.sample(min(self.poll_s, self.wait_s) if self.wait_s > 0 else 0.2)
            if not contended(others, self.threads):
                return True, others
            if time.perf_counter() - t0 >= self.wait_s:
                return False, others

    def before(self, what: str) -> None:
        ok, others = self.quiet()
        if not ok:
            raise self._refuse(what, others, load_avg())

    def run(self, fn: Callable[[], T], what: str) -> tuple[T, Conditions]:
        cond: Conditions | None = None
        for attempt in range(self.attempts):
            with self.observe(self.threads) as seen:
                result = fn()
            cond = seen[0]
            if not cond.contended:
                return result, cond
            self.remeasured += 1
            self.log(f"  {what}: other processes used {cond.others_cores:.1f} cores meanwhile; waiting for "
                     f"quiet to measure again ({attempt + 1}/{self.attempts})")
            ok, others = self.quiet()
            if not ok:
                raise self._refuse(what, others, load_avg())
        assert cond is not None
        raise self._refuse(what, cond.others_cores, cond.load_avg)
