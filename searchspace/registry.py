"""One small registry type, one instance per family (ops, spaces, searchers, predictors, targets...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from nas.errors import NasError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps unique names to objects.

    Contract: ``register(name)`` decorates a class or function and stores it (or, for a class
    registered with ``instantiate=True``, one instance of it); a duplicate name is an error; ``get``
    of an unknown name raises a one-line ``NasError`` listing the names that exist. Third-party
    plug-ins register through the entry-point group ``nas.<kind>``, loaded on first lookup.
    """

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._loader = loader
        self._loaded = False

    def register(self, name: str, *, instantiate: bool = False) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj() if instantiate else obj)  # type: ignore[operator]
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise NasError(f"duplicate {self.kind} name {name!r}")
        self._items[name] = obj

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._loader is not None:
            self._loader()
        for ep in entry_points(group=f"nas.{self.kind}s"):
            if ep.name not in self._items:
                ep.load()

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise NasError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(sorted(self._items))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        return iter(sorted(self._items.items()))

    def __len__(self) -> int:
        self._load()
        return len(self._items)
