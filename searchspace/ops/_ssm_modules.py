"""The torch modules behind the state-space ops ``s4d`` and ``mamba`` (imported only when built).

Both take a B×N×D sequence or a B×C×H×W map; a map is scanned as its raster-ordered token sequence
and reshaped back. What ``torch.utils.flop_counter`` does not count (the S4D kernel's Vandermonde
product and FFTs, Mamba's selective scan) is written with elementwise ops only, so the counter sees
exactly the Linears/convolutions and the ops charge the rest as ``uncounted_macs``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _to_seq(x: torch.Tensor) -> torch.Tensor:
    """B×C×H×W → B×(H·W)×C in raster order; a B×N×D sequence is returned as is."""
    return x.flatten(2).transpose(1, 2) if x.dim() == 4 else x


def _like(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Give the B×N×D result ``y`` the layout of the input ``x``."""
    if x.dim() == 4:
        b, c, h, w = x.shape
        return y.transpose(1, 2).reshape(b, c, h, w)
    return y


# -- S4D ------------------------------------------------------------------------------------------


def fft_causal_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """y = kernel * u along the last axis by FFT of length 2L.

    ``u`` is …×D×L; ``kernel`` is k×D×L with k = 1 (causal: y_t = Σ_{s≤t} K0[t−s] u_s) or k = 2
    (bidirectional: plus Σ_{s>t} K1[s−t−1] u_s). Both kernels go into one length-2L circular kernel,
    so the cost is one rfft of u, one of the kernel, one irfft, whatever k is.
    """
    length = u.shape[-1]
    circ = F.pad(kernel[0], (0, length))
    if kernel.shape[0] == 2:
        circ = circ + F.pad(kernel[1].flip(-1), (length, 0))
    y = torch.fft.irfft(torch.fft.rfft(u, n=2 * length) * torch.fft.rfft(circ, n=2 * length), n=2 * length)
    return y[..., :length]


class S4DMixer(nn.Module):
    """Diagonal state-space model (S4D, Gu et al. 2022) as a long convolution, then GELU and Linear D→D.

    Per channel: ``state``/2 complex modes (each stands for a conjugate pair, so ``state`` real states),
    A_n = −exp(a_re) + i·a_im, complex B_n and C_n, step Δ = exp(log_dt). Zero-order hold gives the
    kernel K[l] = Σ_n Re(Ĉ_n · exp(ΔA_n·l)) with Ĉ_n = 2·C_n·B_n·(exp(ΔA_n) − 1)/A_n (the Vandermonde
    product), y = K * u by FFT + skip·u. ``bidirectional`` adds a second kernel for the reversed
    sequence (its own A, B, C, Δ). Complex parameters are stored as real pairs so numel counts reals.
    """

    def __init__(self, dim: int, state: int, bidirectional: bool = False) -> None:
        super().__init__()
        k, modes = (2 if bidirectional else 1), state // 2
        log_dt = torch.rand(k, dim) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)
        self.log_dt = nn.Parameter(log_dt)
        self.a_re = nn.Parameter(torch.full((k, dim, modes), math.log(0.5)))
        self.a_im = nn.Parameter(math.pi * torch.arange(modes, dtype=torch.float32).expand(k, dim, modes).clone())
        self.b = nn.Parameter(torch.stack([torch.ones(k, dim, modes), torch.zeros(k, dim, modes)], dim=-1))
        self.c = nn.Parameter(torch.randn(k, dim, modes, 2) * 0.5 ** 0.5)
        self.skip = nn.Parameter(torch.randn(dim))
        self.out = nn.Linear(dim, dim)

    def kernel(self, length: int) -> torch.Tensor:
        """The k×D×L real convolution kernel(s) for sequences of ``length`` tokens."""
        a = torch.complex(-torch.exp(self.a_re), self.a_im)
        dt_a = a * torch.exp(self.log_dt).unsqueeze(-1)
        c_hat = 2 * torch.view_as_complex(self.c) * torch.view_as_complex(self.b) * (torch.exp(dt_a) - 1) / a
        pos = torch.arange(length, dtype=self.a_re.dtype, device=self.a_re.device)
        z = torch.exp(dt_a.unsqueeze(-1) * pos)
        return (c_hat.real.unsqueeze(-1) * z.real - c_hat.imag.unsqueeze(-1) * z.imag).sum(dim=-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = _to_seq(x).transpose(1, 2)
        y = fft_causal_conv(u, self.kernel(u.shape[-1])) + u * self.skip.unsqueeze(-1)
        return _like(self.out(F.gelu(y.transpose(1, 2))), x)


# -- Mamba ----------------------------------------------------------------------------------------


def selective_scan(u: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                   skip: torch.Tensor) -> torch.Tensor:
    """Mamba's selective scan, one token at a time.

    u, delta: B×L×C; a: C×S (negative); b, c: B×L×S; skip: C. For each token t:
    h ← exp(Δ_t·A) ⊙ h + (Δ_t·u_t) ⊗ B_t;  y_t = h·C_t + skip ⊙ u_t. Returns B×L×C.
    Elementwise ops only (the flop counter sees none of it).
    """
    batch, length, channels = u.shape
    h = u.new_zeros(batch, channels, a.shape[-1])
    du = delta * u
    ys = []
    for t in range(length):
        h = torch.exp(delta[:, t, :, None] * a) * h + du[:, t, :, None] * b[:, t, None, :]
        ys.append((h * c[:, t, None, :]).sum(dim=-1))
    return torch.stack(ys, dim=1) + u * skip


class MambaMixer(nn.Module):
    """Mamba block (Gu & Dao 2023) in pure torch.

    in_proj D→2·E·D (x, gate z, no bias); causal depthwise conv1d (left-padded, kernel k) + SiLU;
    x_proj E·D → (R + 2S) giving Δ-rank-R, B, C (no bias); dt_proj R → E·D, Δ = softplus;
    selective scan with A = −exp(A_log) (E·D×S) and skip D; y ⊙ SiLU(z); out_proj E·D→D (no bias).
    """

    def __init__(self, dim: int, state: int, expand: int, conv_kernel: int) -> None:
        super().__init__()
        inner, self.rank, self.state = expand * dim, math.ceil(dim / 16), state
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, conv_kernel, groups=inner)
        self.x_proj = nn.Linear(inner, self.rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(self.rank, inner)
        dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
        self.a_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.skip = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = _to_seq(x)
        u, z = self.in_proj(seq).chunk(2, dim=-1)
        u = F.pad(u.transpose(1, 2), (self.conv.kernel_size[0] - 1, 0))
        u = F.silu(self.conv(u)).transpose(1, 2)
        dt, b, c = self.x_proj(u).split([self.rank, self.state, self.state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        y = selective_scan(u, delta, -torch.exp(self.a_log), b, c, self.skip)
        return _like(self.out_proj(y * F.silu(z)), x)
