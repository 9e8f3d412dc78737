"""GFNet's global filter (``fft_filter``): irfft2(rfft2(x) · K) with a learnable complex filter K."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import register_op
from nas.searchspace.ops._formulas import fft_macs
from nas.searchspace.ops._parts import Part, PartsOp
from nas.searchspace.tensor_type import Layout, TensorType


def spectrum_size(t: TensorType) -> int:
    """Real elements of the half spectrum of every channel: C·H·(W//2+1) complex numbers, 2 reals each."""
    return t.channels * t.height * (t.width // 2 + 1) * 2


@register_op("fft_filter")
class FFTFilter(PartsOp):
    """Global filter: a 2-D real FFT over H×W ("ortho" norm), a product with a learnable complex filter
    of C×H×(W//2+1) (stored as a real C×H×(W//2+1)×2 tensor), and the inverse FFT. Equivalent to a
    circular convolution of every channel with its own H×W kernel. No hyper-parameters.

    A sequence is filtered through its grid. The filter has the size of the grid, so the op is not
    resolution-agnostic. ``torch.utils.flop_counter`` counts none of it; ``macs`` (all of it
    ``uncounted_macs``) charges per channel ``fft_macs(H·W, real=True)`` for the FFT and again for the
    inverse, plus 4 real MACs per complex product of the filter.
    """

    family = "spectral"
    accepts = (Layout.MAP, Layout.SEQ)
    token_mixer = True
    elastic = ("in",)
    domain: dict[str, Any] = {}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        n, s = t.numel, spectrum_size(t)
        fft = t.channels * fft_macs(t.height * t.width, real=True)
        return [Part(n, s, macs=fft),                     # rfft2
                Part(s, s, macs=2 * s, params=s),         # spectrum × filter: 4 MACs per complex (2 reals)
                Part(s, n, macs=fft)]                     # irfft2

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        return self.macs(t, hp)

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._pf_modules import GlobalFilter, OnGrid

        module = GlobalFilter(t.channels, t.height, t.width)
        return module if t.layout is Layout.MAP else OnGrid(module, t.height, t.width)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.tokens,)  # a learned circular depthwise filter over the whole H×W grid

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 4, 4), {}),
                (TensorType.map(2, 5, 6), {}),
                (TensorType.seq(4, 3, 5), {})]
