"""Diagonal state-space model computed as an FFT long convolution (``s4d``)."""

from __future__ import annotations

from typing import Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops._formulas import fft_macs, linear_macs, linear_params
from nas.searchspace.tensor_type import Layout, TensorType


def s4d_kernel_macs(dim: int, state: int, length: int, kernels: int = 1) -> int:
    """MACs of materialising ``kernels`` S4D kernels of ``length`` taps for ``dim`` channels.

    Per kernel, channel, complex mode (state/2 of them) and tap l: ΔA·l, a complex times a real,
    2 MACs (the exp after it is not a MAC, like softmax); K[l] += Re(Ĉ)·Re(z) − Im(Ĉ)·Im(z), 2 MACs.
    So 4 per (mode, tap) = 2·state per tap. The L-independent per-mode discretisation of Ĉ is not charged.
    """
    return kernels * dim * (state // 2) * length * 4


def s4d_fft_conv_macs(dim: int, length: int) -> int:
    """MACs of one FFT convolution per channel at length 2L (``fft_macs`` convention, real transforms):
    rfft of the input, rfft of the kernel, L+1 complex products (4 MACs each), irfft."""
    return dim * (3 * fft_macs(2 * length, real=True) + 4 * (length + 1))


@register_op("s4d")
class S4D(OpSpec):
    """S4D mixer: y = GELU(K * u + skip·u) then Linear D→D, K a long kernel built from diagonal (A, B, C, Δ).

    ``state`` real states per channel = state/2 complex-conjugate mode pairs. ``bidirectional`` adds a
    second kernel (own A, B, C, Δ) applied to the reversed sequence; both share one length-2L FFT
    convolution. On a map the H·W tokens are scanned in raster order and reshaped back.
    MACs = N·D·D (counted by torch) + uncounted: kernel materialisation (``s4d_kernel_macs``), the FFT
    convolution (``s4d_fft_conv_macs``) and the skip skip·u + y (N·D). GELU counts 0.
    """

    family = "ssm"
    accepts = (Layout.SEQ, Layout.MAP)
    elastic = ("in",)
    domain = {"state": (8, 16, 32, 64), "bidirectional": (False, True)}
    defaults = {"state": 64, "bidirectional": False}
    token_mixer = True

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return t

    @staticmethod
    def _kernels(hp: HParams) -> int:
        return 2 if hp["bidirectional"] else 1

    def macs(self, t: TensorType, hp: HParams) -> int:
        return linear_macs(t.tokens, t.channels, t.channels) + self.uncounted_macs(t, hp)

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        d, n = t.channels, t.tokens
        return s4d_kernel_macs(d, hp["state"], n, self._kernels(hp)) + s4d_fft_conv_macs(d, n) + n * d

    def params(self, t: TensorType, hp: HParams) -> int:
        d, modes = t.channels, hp["state"] // 2
        # per kernel: log Δ (D), Re A and Im A (D·modes each), complex B and C (2·D·modes each)
        per_kernel = d + 6 * d * modes
        return self._kernels(hp) * per_kernel + d + linear_params(d, d)

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        """Input read; Vandermonde powers written and read (2 reals each); kernels written; the length-2L
        circular kernel written and read; each spectrum (2·D·(L+1) reals) written by its rfft and read by
        the product; the product written and read by irfft, which writes 2L·D; skip (read 2, write 1),
        GELU and Linear (read 1, write 1 each)."""
        d, n, k = t.channels, t.tokens, self._kernels(hp)
        spec = 2 * d * (n + 1)
        elems = (n * d + 2 * 2 * k * d * (hp["state"] // 2) * n + k * d * n + 2 * 2 * d * n
                 + (n * d + spec) + spec + (2 * spec + spec) + (spec + 2 * n * d) + 3 * n * d + 4 * n * d)
        return (elems + self.params(t, hp)) * dtype_bytes

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._ssm_modules import S4DMixer

        return S4DMixer(t.channels, hp["state"], hp["bidirectional"])

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        # a learned long convolution over the tokens: causal, token n sees n + 1 tokens (mean (N + 1)/2);
        # bidirectional, every token sees all N; then the output Linear (fan-in D). The skip adds no width.
        reach = t.tokens if hp["bidirectional"] else (t.tokens + 1) / 2
        return (reach, t.channels)

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 10

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(16, 4, 4), {"state": 8}),
                (TensorType.map(16, 4, 6), {"state": 16, "bidirectional": True}),
                (TensorType.seq(12, 3, 5), {"state": 8, "bidirectional": True}),
                (TensorType.map(8, 4, 4), {"state": 32})]
