"""``KEY=VALUE`` options of the command line (``--option``, ``--train-option``, ``--supernet-option``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from nas.errors import NasError


def parse_options(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` items of a repeatable ``flag`` as a dict; a value is JSON when it parses (numbers,
    booleans, lists), else the text. A malformed item is a one-line NasError naming ``flag``."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise NasError(f"{flag} {item!r}: expected KEY=VALUE")
        if not key.isidentifier():
            raise NasError(f"{flag} {item!r}: {key!r} is not an option name (letters, digits, _)")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        except RecursionError:
            raise NasError(f"{flag} {key}: the value is nested too deeply") from None
        if isinstance(out[key], float) and not math.isfinite(out[key]):
            raise NasError(f"{flag} {key}={value}: the value must be a finite number")
    return out
