"""Settings that shrink a space to a supernet a CPU can train: one home for their rules (hybrid, resnet)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nas.errors import NasError


def check_width_mult(space: str, value: object) -> float:
    """``value`` as a width multiplier in (0, 1]; a one-line NasError naming ``space`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise NasError(f"{space} width_mult={value!r} not allowed; give a number in (0, 1]")
    return float(value)


def check_max_depth(space: str, value: object) -> int | None:
    """``value`` as a depth cap (None: none); a one-line NasError naming ``space`` otherwise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise NasError(f"{space} max_depth={value!r} not allowed; give an integer >= 1")
    return value


def shrink_config(width_mult: float, max_depth: int | None) -> dict[str, Any]:
    """The settings that differ from the whole space, as ``SearchSpace.config()`` writes them."""
    out: dict[str, Any] = {}
    if width_mult != 1.0:
        out["width_mult"] = width_mult
    if max_depth is not None:
        out["max_depth"] = max_depth
    return out


def scaled_widths(choices: Sequence[int], width_mult: float) -> tuple[int, ...]:
    """Width choices × ``width_mult``, rounded to multiples of 8 (at least 8), duplicates dropped."""
    return tuple(dict.fromkeys(max(8, int(round(w * width_mult / 8)) * 8) for w in choices))


def capped_depths(choices: Sequence[int], max_depth: int | None) -> tuple[int, ...]:
    """Depth choices up to ``max_depth`` (all when None)."""
    return tuple(d for d in choices if max_depth is None or d <= max_depth)
