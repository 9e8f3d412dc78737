"""Checkpoints: one dict of tensors and plain values, written atomically, read with ``weights_only=True``.

Every checkpoint the project writes carries ``format`` (``CHECKPOINT_FORMAT``), ``kind`` (what wrote it:
``train``, ``supernet``, ``darts``...) and whatever its writer needs to resume (weights, optimizer,
scheduler and rng states, the architecture JSON). Loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from nas.errors import NasError

CHECKPOINT_FORMAT = "nas.checkpoint/1"


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any], kind: str) -> Path:
    """Write ``payload`` (plus ``format`` and ``kind``) to a unique temporary file beside ``path``, then
    rename it over ``path``: a reader sees the old checkpoint or the new one, never half of one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({**payload, "format": CHECKPOINT_FORMAT, "kind": kind}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def load_checkpoint(path: str | os.PathLike[str], kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    A missing, truncated, corrupt or foreign file, or one of another ``kind``, is a one-line NasError.
    """
    p = Path(path)
    if not p.is_file():
        raise NasError(f"checkpoint {str(p)!r} does not exist")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NasError(f"checkpoint {str(p)!r} is corrupt or truncated ({first[:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise NasError(f"{str(p)!r} is not a nas checkpoint (format {CHECKPOINT_FORMAT!r} expected)")
    if kind is not None and ckpt.get("kind") != kind:
        raise NasError(f"checkpoint {str(p)!r} is a {ckpt.get('kind')!r} checkpoint; expected {kind!r}")
    return ckpt
