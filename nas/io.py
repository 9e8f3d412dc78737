"""Atomic writes and one-line-error JSON reads: results are never half-written or lost."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nas.errors import NasError


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, p)
    return p


def write_json_atomic(path: str | os.PathLike[str], obj: Any, **dumps: Any) -> Path:
    """``json.dumps(obj, **dumps)`` plus a final newline, written atomically."""
    return write_text_atomic(path, json.dumps(obj, **dumps) + "\n")


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; a missing or malformed file is a one-line NasError naming ``what``."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise NasError(f"{what} file {str(p)!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise NasError(f"{what} file {str(p)!r} is not JSON: {e.msg} at line {e.lineno}") from None
