"""Tensor types: what operations accept and give. Pure data, no torch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from nas.errors import NasError, SizeCollapseError


class Layout(str, Enum):
    """MAP: B×C×H×W feature map. SEQ: B×N×D token sequence (N = H·W, grid kept). VEC: B×C."""

    MAP = "map"
    SEQ = "seq"
    VEC = "vec"


@dataclass(frozen=True)
class TensorType:
    """The type of one activation, batch excluded.

    ``channels`` is C for a map, the token dimension D for a sequence, the length for a vector.
    A sequence keeps the grid (``height`` × ``width`` = number of tokens) it was flattened from, so
    window attention and seq→map adapters know the spatial layout. A vector has height = width = 1.
    """

    layout: Layout
    channels: int
    height: int = 1
    width: int = 1

    def __post_init__(self) -> None:
        if self.channels <= 0 or self.height <= 0 or self.width <= 0:
            raise SizeCollapseError(f"tensor sizes must be positive, got {self}")

    @property
    def tokens(self) -> int:
        return self.height * self.width

    @property
    def numel(self) -> int:
        """Elements per sample."""
        return self.channels * self.height * self.width

    def shape(self, batch: int = 1) -> tuple[int, ...]:
        """The torch shape of this type at a batch size."""
        if self.layout is Layout.MAP:
            return (batch, self.channels, self.height, self.width)
        if self.layout is Layout.SEQ:
            return (batch, self.tokens, self.channels)
        return (batch, self.channels)

    def __str__(self) -> str:
        if self.layout is Layout.MAP:
            return f"map[{self.channels}x{self.height}x{self.width}]"
        if self.layout is Layout.SEQ:
            return f"seq[{self.tokens}x{self.channels} grid {self.height}x{self.width}]"
        return f"vec[{self.channels}]"

    def to_json(self) -> dict[str, object]:
        return {"layout": self.layout.value, "channels": self.channels, "height": self.height, "width": self.width}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> TensorType:
        return cls(Layout(d["layout"]), int(d["channels"]), int(d["height"]), int(d["width"]))  # type: ignore[arg-type]

    @classmethod
    def map(cls, channels: int, height: int, width: int | None = None) -> TensorType:
        return cls(Layout.MAP, channels, height, height if width is None else width)

    @classmethod
    def seq(cls, dim: int, height: int, width: int | None = None) -> TensorType:
        return cls(Layout.SEQ, dim, height, height if width is None else width)

    @classmethod
    def vec(cls, length: int) -> TensorType:
        return cls(Layout.VEC, length)


_INPUT_RE = re.compile(r"^(\d+)x(\d+)x(\d+)$")


def parse_input(text: str) -> TensorType:
    """Parse ``3x224x224`` (C×H×W) into a map type."""
    m = _INPUT_RE.match(text.strip().lower())
    if not m:
        raise NasError(f"bad input size {text!r}; expected CxHxW such as 3x224x224")
    c, h, w = (int(g) for g in m.groups())
    if min(c, h, w) <= 0:
        raise NasError(f"bad input size {text!r}; all of C, H, W must be positive")
    return TensorType.map(c, h, w)
