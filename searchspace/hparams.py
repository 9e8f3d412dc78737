"""An immutable, hashable, JSON-friendly mapping for hyper-parameters and architecture genes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_SCALARS = frozenset((int, float, str, bool, type(None)))


def freeze(value: Any) -> Any:
    """Turn dicts into HParams and lists into tuples, recursively, so the value is hashable."""
    if type(value) in _SCALARS:  # fast path: resolve freezes every hp value
        return value
    if isinstance(value, HParams):
        return value
    if isinstance(value, Mapping):
        return HParams(value)
    if isinstance(value, (list, tuple)):
        if type(value) is tuple and all(type(v) in _SCALARS for v in value):
            return value
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The JSON form: HParams to dicts, tuples to lists."""
    if isinstance(value, HParams):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


class HParams(Mapping[str, Any]):
    """A frozen mapping from names to values (ints, floats, strings, bools, tuples, nested HParams).

    Contract: equal contents give equal, equally-hashed objects regardless of insertion order;
    ``to_json()`` gives plain dicts and lists; ``replace(**kw)`` returns a new HParams.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[str, Any] | None = None, **kw: Any) -> None:
        merged = dict(items or {})
        merged.update(kw)
        self._items: tuple[tuple[str, Any], ...] = tuple(
            sorted((str(k), freeze(v)) for k, v in merged.items())
        )
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HParams):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self == HParams(other)
        return NotImplemented

    def __repr__(self) -> str:
        return "HParams(" + ", ".join(f"{k}={v!r}" for k, v in self._items) + ")"

    def replace(self, **kw: Any) -> HParams:
        return HParams(dict(self._items), **kw)

    def to_json(self) -> dict[str, Any]:
        return thaw(self)
