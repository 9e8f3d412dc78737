"""Memory layouts of activations, as the lookup table needs them.

The same layer can run several times slower on a contiguous NCHW input than on the channels-last tensor
it receives inside a network (a depthwise conv after a LayerNorm stem, for example). So a table entry
records the input's layout, as the order of its dimensions in memory from outermost to innermost
(``"0123"`` = contiguous B×C×H×W, ``"0231"`` = channels-last, ``"021"`` = a transposed sequence), and
the table learns, per layer and input layout, the layout of the output, to propagate layouts through a
NetSpec it predicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def contiguous(rank: int) -> str:
    return "".join(str(i) for i in range(rank))


def layout_of(x: torch.Tensor) -> str:
    """The dimension order of ``x`` in memory, outermost first (ties, from size-1 dims, in dim order)."""
    dims = sorted(range(x.dim()), key=lambda d: (-x.stride(d) if x.size(d) > 1 else -float("inf"), d))
    # a size-1 dimension has no meaningful stride: put it where a contiguous tensor would have it
    ordered = [d for d in dims if x.size(d) > 1]
    for d in range(x.dim()):
        if x.size(d) == 1:
            pos = sum(1 for e in ordered if e < d)
            ordered.insert(pos, d)
    return "".join(str(d) for d in ordered)


def make_input(shape: tuple[int, ...], layout: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random tensor of ``shape`` whose memory order is ``layout``."""
    import torch

    order = [int(c) for c in layout] if layout and len(layout) == len(shape) else list(range(len(shape)))
    base = torch.randn([shape[d] for d in order], generator=generator)
    inverse = [order.index(d) for d in range(len(shape))]
    return base.permute(inverse)
