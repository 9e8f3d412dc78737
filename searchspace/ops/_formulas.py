"""Closed-form cost pieces shared by operations (MACs count one multiply-accumulate as one)."""

from __future__ import annotations


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Padding that keeps the size at stride 1 for an odd effective kernel."""
    return dilation * (kernel - 1) // 2


def conv_macs(c_in: int, c_out: int, kernel: int, groups: int, h_out: int, w_out: int) -> int:
    return h_out * w_out * c_out * (c_in // groups) * kernel * kernel


def conv_params(c_in: int, c_out: int, kernel: int, groups: int, bias: bool = False) -> int:
    return c_out * (c_in // groups) * kernel * kernel + (c_out if bias else 0)


def linear_macs(tokens: int, d_in: int, d_out: int) -> int:
    return tokens * d_in * d_out


def linear_params(d_in: int, d_out: int, bias: bool = True) -> int:
    return d_in * d_out + (d_out if bias else 0)


def norm_params(channels: int, affine: bool = True) -> int:
    """BatchNorm / LayerNorm / GroupNorm with an affine weight and bias."""
    return 2 * channels if affine else 0


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without dropping more than 10%."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def fft_macs(n: int, real: bool = True) -> int:
    """MACs we charge for one FFT (or inverse FFT) of ``n`` points; torch's flop counter counts none.

    Convention (shared by every spectral op): a complex radix-2 FFT of n points has (n/2)·⌈log2 n⌉
    butterflies with one complex multiply each, 4 real multiply-adds: 2·n·⌈log2 n⌉ MACs. A real-input
    FFT (rfft / irfft) costs half: n·⌈log2 n⌉. A 2-D FFT of H×W is charged as one FFT of n = H·W points.
    """
    if n <= 1:
        return 0
    log = (n - 1).bit_length()
    return n * log * (1 if real else 2)
