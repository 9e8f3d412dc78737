"""Atomic writes and one-line-error JSON reads: results are never half-written or lost.

Every write goes to a temporary file with a unique name beside the target (so two writers never share
one), is flushed to disk, then renamed over the target: a reader sees the old file or the new one,
never a part of either, and a process killed mid-write leaves at most a stray ``.<name>.*.tmp`` file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas.errors import NasError

# the process umask, read once: mkstemp creates 0600 files, a written result gets the usual 0666 & ~umask
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path`` to write by any means (``savefig``, ``torch.save``);
    on a clean exit it is renamed over ``path``, on an error it is removed and ``path`` is untouched."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a unique temporary file beside ``path``, flush it to disk, rename it over ``path``."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_bytes(data)
    return p


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) atomically; see :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def strict_floats(obj: Any) -> Any:
    """``obj`` (JSON types) with every non-finite float replaced by ``"inf"``, ``"-inf"`` or ``"nan"``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else "inf" if obj > 0 else "-inf"  # float() reads each back
    if isinstance(obj, dict):
        return {k: strict_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strict_floats(v) for v in obj]
    return obj


def strict_json(obj: Any, **dumps: Any) -> str:
    """``json.dumps(obj, **dumps)`` as strict JSON: a non-finite float (a synflow of −inf, a NaN) becomes
    the string ``"inf"``, ``"-inf"`` or ``"nan"``, not the bare ``Infinity``/``NaN`` that Python writes
    and strict readers (``jq``, JavaScript, ``serde_json``) refuse. ``dumps["default"]`` converts other
    objects first."""
    default = dumps.pop("default", None)
    # a first pass turns every object into JSON types (through ``default``), so the second sees all floats
    plain = json.loads(json.dumps(obj, default=default))
    return json.dumps(strict_floats(plain), allow_nan=False, **dumps)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, **dumps: Any) -> Path:
    """``strict_json(obj, **dumps)`` plus a final newline, written atomically."""
    return write_text_atomic(path, strict_json(obj, **dumps) + "\n")


def parse_json(text: str, what: str) -> Any:
    """``json.loads(text)``; malformed, truncated, empty or absurdly nested JSON is a one-line NasError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        problem = "is empty" if not text.strip() else f"is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        raise NasError(f"{what} {problem}") from None
    except RecursionError:
        raise NasError(f"{what} is nested too deeply to be an architecture or a configuration") from None


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file is a one-line NasError naming ``what``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NasError(f"{what} file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise NasError(f"{what} file {str(p)!r} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise NasError(f"{what} file {str(p)!r} is not text (not UTF-8)") from None
    except OSError as e:
        raise NasError(f"{what} file {str(p)!r} cannot be read: {e.strerror or e}") from None
    return parse_json(text, f"{what} file {str(p)!r}")


def check_out_dir(out: str | os.PathLike[str]) -> Path:
    """``--out`` (a run folder) as a Path, or a one-line NasError when it is empty, a file, or under a
    file or an unwritable folder. Creates nothing."""
    text = os.fspath(out)
    if not text.strip():
        raise NasError("--out is empty; give a run folder such as runs/my-search")
    p = Path(text)
    try:
        if p.exists() and not p.is_dir():
            raise NasError(f"--out {text!r} is a file, not a folder; give a run folder")
        anc = p.absolute()
        while not anc.exists():
            anc = anc.parent
        if not anc.is_dir():
            raise NasError(f"--out {text!r} cannot be created: {str(anc)!r} is a file")
        if not os.access(anc, os.W_OK | os.X_OK):
            raise NasError(f"--out {text!r}: cannot write in {str(anc)!r} (permission denied)")
    except OSError as e:  # a name too long, a loop of links
        raise NasError(f"--out {text!r} cannot be used: {e.strerror or e}") from None
    return p
