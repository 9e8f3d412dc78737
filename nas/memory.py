"""Memory-sized requests checked against the machine before anything is allocated."""

from __future__ import annotations

import os
from pathlib import Path

from nas.errors import NasError

#: A request may take at most this share of the memory free now (the rest is for the process itself).
SHARE = 0.8


def available_bytes(device: str = "cpu") -> int | None:
    """Memory a new allocation can take now: Linux ``MemAvailable`` (CPU) or free CUDA memory; None if
    unknown (then no request is refused)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0]) if torch.cuda.is_available() else None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require(need_bytes: float, what: str, advice: str, device: str = "cpu") -> None:
    """A one-line NasError when ``what`` needs more than ``SHARE`` of the memory free on ``device``."""
    free = available_bytes(device)
    if free is not None and need_bytes > SHARE * free:
        raise NasError(f"{what} needs about {need_bytes / 2**30:,.1f} GiB on {device}, but {free / 2**30:,.1f} GiB "
                       f"are free; {advice}")
