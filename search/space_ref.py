"""What every role of a search shares about its space: ``SpaceRef`` (a registered space with its
settings, cheap to pickle), the canonical settings value, and the latency target by name."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.searchspace.space import SearchSpace, get_space
from nas.searchspace.tensor_type import parse_input

RESOLVED_KEPT = 32


def load_target(name: str | None) -> Any | None:
    """The latency target ``name`` from ``nas.hw_models.targets``; None when no name is given.

    A NasError when the target module is not installed or the name is unknown.
    """
    if not name:
        return None
    try:
        from nas.hw_models.targets import get_target
    except ModuleNotFoundError as e:
        if e.name == "nas.hw_models.targets":
            raise NasError(f"latency targets are not available in this install; cannot use target {name!r}") from None
        raise
    return get_target(name)


def targets_available() -> bool:
    try:
        import nas.hw_models.targets  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name == "nas.hw_models.targets":
            return False
        raise
    return True


def settings_of(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """A space's settings as a hashable, canonical value (lists become tuples)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in (options or {}).items()))


@dataclass(frozen=True)
class SpaceRef:
    """A registered space with its settings, cheap to pickle (rebuilt lazily on a worker)."""

    name: str
    input: str | None = None
    num_classes: int | None = None
    settings: tuple[tuple[str, Any], ...] = ()
    """The space's own settings as sorted (name, value) pairs (``settings_of`` makes them from a mapping)."""

    @cached_property
    def space(self) -> SearchSpace:
        return get_space(self.name, input=parse_input(self.input) if self.input else None,
                         num_classes=self.num_classes, **dict(self.settings))

    @cached_property
    def _resolved(self) -> OrderedDict[str, NetSpec]:
        return OrderedDict()

    def resolve(self, arch: Architecture) -> NetSpec:
        """``space.resolve(arch)``, once per architecture: a trial's costs, score and trainer share the
        NetSpec (the last ``RESOLVED_KEPT`` architectures are kept)."""
        key = arch.digest()
        spec = self._resolved.get(key)
        if spec is None:
            spec = self._resolved[key] = self.space.resolve(arch)
            if len(self._resolved) > RESOLVED_KEPT:
                self._resolved.popitem(last=False)
        else:
            self._resolved.move_to_end(key)
        return spec

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input, "num_classes": self.num_classes, "settings": self.settings}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def arch_config(self) -> dict[str, Any]:
        """What ``save_architecture`` writes beside an architecture so ``nas cost`` resolves it the same way."""
        return {k: v for k, v in self.space.config().items() if k != "space"}
