"""Architecture: a frozen value naming its space and its genes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.io import read_json, write_json_atomic
from nas.searchspace.hparams import HParams


@dataclass(frozen=True)
class Architecture:
    """One point of a search space. Immutable and hashable.

    Contract: two architectures with the same space name and genes are equal, have the same
    ``canonical_json()`` and the same ``digest()`` across processes and machines.
    """

    space: str
    genes: HParams

    def __init__(self, space: str, genes: Mapping[str, Any]) -> None:
        object.__setattr__(self, "space", space)
        object.__setattr__(self, "genes", genes if isinstance(genes, HParams) else HParams(genes))

    def __getitem__(self, key: str) -> Any:
        return self.genes[key]

    def replace(self, **genes: Any) -> Architecture:
        return Architecture(self.space, self.genes.replace(**genes))

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "genes": self.genes.to_json()}

    def canonical_json(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """A stable 16-hex-digit identifier (sha256 of the canonical JSON)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Architecture:
        if "space" not in d or "genes" not in d:
            raise NasError(f"not an architecture: expected keys 'space' and 'genes', got {sorted(d)}")
        if not isinstance(d["space"], str) or not isinstance(d["genes"], Mapping):
            raise NasError("not an architecture: 'space' must be a name and 'genes' an object of gene values, "
                           f"got {type(d['space']).__name__} and {type(d['genes']).__name__}")
        return cls(d["space"], d["genes"])

    def __repr__(self) -> str:
        return f"Architecture({self.space}, {self.digest()})"


def save_architecture(path: str | os.PathLike[str], arch: Architecture, **space_config: Any) -> Path:
    """Write the architecture JSON (plus the space settings it was resolved with) atomically."""
    data = arch.to_json()
    if space_config:
        data["space_config"] = {k: v for k, v in space_config.items() if v is not None}
    return write_json_atomic(path, data, indent=2, sort_keys=True)


def load_architecture(path: str | os.PathLike[str]) -> tuple[Architecture, dict[str, Any]]:
    """Read an architecture JSON written by ``save_architecture``: the arch and its space settings."""
    p = Path(path)
    data = read_json(p, "architecture")
    if not isinstance(data, dict):
        raise NasError(f"architecture file {str(p)!r} holds no JSON object")
    cfg = data.get("space_config", {})
    if not isinstance(cfg, dict):
        raise NasError(f"architecture file {str(p)!r}: 'space_config' must be an object, got {type(cfg).__name__}")
    return Architecture.from_json(data), dict(cfg)
