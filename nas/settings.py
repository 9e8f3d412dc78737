"""Where the project finds external data. Settable per call, by environment variable, or by default."""

from __future__ import annotations

import os
from pathlib import Path

from nas.errors import NasError

BENCHMARKS_ENV = "NAS_BENCHMARKS"


def benchmarks_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder of external benchmark data (NAS-Bench-201, HELP latencies, zero-cost samples).

    Order: the explicit ``path``; the ``NAS_BENCHMARKS`` environment variable; ``../shared/benchmarks``
    beside the project checkout; last, ``../shared/benchmarks`` beside the current directory (so a stray
    folder elsewhere never shadows the project's own data).
    """
    if path is not None:
        p = Path(path)
        if not p.is_dir():
            raise NasError(f"benchmark data folder {str(p)!r} does not exist; pass an existing folder")
        return p
    env = os.environ.get(BENCHMARKS_ENV)
    if env:
        p = Path(env)
        if not p.is_dir():
            raise NasError(f"{BENCHMARKS_ENV}={env!r} is not a folder; point it at the benchmark data")
        return p
    candidates = [Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks",
                  Path.cwd() / ".." / "shared" / "benchmarks"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    raise NasError(
        f"benchmark data not found in {', '.join(str(c) for c in candidates)}; "
        f"set {BENCHMARKS_ENV} or pass --data PATH"
    )
