"""Who this machine is (for naming calibration files) and where per-user latency data lives."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

NAS_HOME_ENV = "NAS_HOME"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown-cpu"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine_id(threads: int) -> str:
    """A file-name-safe id of this CPU model, its visible core count and the thread count measured with,
    e.g. ``cpu-amd-epyc-2c-2t``: a table measured under this id applies to machines with the same id."""
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")
    slug = re.sub(r"-(processor|cpu|with-radeon-graphics)$", "", slug)[:48]
    return f"cpu-{slug}-{cpu_count()}c-{threads}t"


def user_data_dir() -> Path:
    """Where calibrations are stored: ``$NAS_HOME/latency`` or ``~/.cache/nas/latency``."""
    home = os.environ.get(NAS_HOME_ENV)
    base = Path(home) if home else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nas"
    return base / "latency"


THREADS_ENV = "NAS_THREADS"


def default_threads() -> int:
    """The thread count measurements, calibrations and the ``cpu`` target use unless told otherwise:
    ``$NAS_THREADS``, else 1. One thread is the usual batch-1 CPU deployment setting and the one that
    stays reproducible on a shared machine (a second thread stalls at every barrier when another
    process holds a core)."""
    env = os.environ.get(THREADS_ENV)
    if env:
        if not env.isdigit() or int(env) < 1:
            from nas.errors import NasError

            raise NasError(f"{THREADS_ENV}={env!r} is not a positive integer")
        return int(env)
    return 1
