"""The torch modules behind the state-space ops ``s4d`` and ``mamba`` (imported only when built).

Both take a B×N×D sequence or a B×C×H×W map; a map is scanned as its raster-ordered token sequence
and reshaped back. What ``torch.utils.flop_counter`` does not count (the S4D kernel's Vandermonde
product and FFTs, Mamba's selective scan) is written with elementwise ops only, so the counter sees
exactly the Linears/convolutions and the ops charge the rest as ``uncounted_macs``; the selective
scan is one dispatcher op (``nas_ssm::selective_scan``) that the counter does not look inside.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint


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


#: complex Vandermonde entries computed at once while building an S4D kernel
KERNEL_BLOCK = 1 << 20


def _vandermonde_block(dt_a: torch.Tensor, c_hat: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Σ over a block of modes of Re(Ĉ_n · exp(ΔA_n · l)) for every tap l: k×D×L."""
    z = torch.exp(dt_a.unsqueeze(-1) * pos)
    return (c_hat.real.unsqueeze(-1) * z.real - c_hat.imag.unsqueeze(-1) * z.imag).sum(dim=-2)


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
        """The k×D×L real convolution kernel(s) for sequences of ``length`` tokens.

        Built a block of modes at a time (about ``KERNEL_BLOCK`` complex powers each), so neither the
        forward nor, through recomputation, the backward holds the k×D×(S/2)×L complex Vandermonde
        matrix: peak memory is the k×D×L kernel plus one block.
        """
        a = torch.complex(-torch.exp(self.a_re), self.a_im)
        dt_a = a * torch.exp(self.log_dt).unsqueeze(-1)
        c_hat = 2 * torch.view_as_complex(self.c.contiguous()) * torch.view_as_complex(self.b.contiguous()) * (torch.exp(dt_a) - 1) / a
        pos = torch.arange(length, dtype=self.a_re.dtype, device=self.a_re.device)
        k, dim, modes = dt_a.shape
        step = max(1, KERNEL_BLOCK // (k * dim * length))
        out = self.a_re.new_zeros(k, dim, length)
        for m in range(0, modes, step):
            args = (dt_a[..., m:m + step], c_hat[..., m:m + step], pos)
            if torch.is_grad_enabled() and self.a_re.requires_grad and step < modes:
                out = out + checkpoint(_vandermonde_block, *args, use_reentrant=False)
            else:
                out = out + _vandermonde_block(*args)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = _to_seq(x).transpose(1, 2)
        y = fft_causal_conv(u, self.kernel(u.shape[-1])) + u * self.skip.unsqueeze(-1)
        return _like(self.out(F.gelu(y.transpose(1, 2))), x)


# -- Mamba ----------------------------------------------------------------------------------------


#: |log| of the largest decay ratio each dtype holds as a finite normal number (e^±80 in float32)
_LOG_RANGE = {torch.float32: 80.0, torch.float64: 700.0}


def scan_plan(delta: torch.Tensor, a: torch.Tensor, longest: int = 32) -> tuple[int, torch.dtype]:
    """Tokens per chunk and the dtype of the chunked scan. A chunk's worst-case log-decay (tokens ·
    max Δ · max |A|) must stay inside the dtype's range so every exp and ratio is finite: float32 with
    the longest power-of-two chunk (≤ ``longest``, ≥ 8) that fits, else float64 (range ±700) with the
    longest that fits there, so fast decay costs at most float64 arithmetic, not a token loop. When not
    even 8 tokens fit in float64 (a synflow pass with |θ| decays past e^−700 within a token), chunk 0:
    one scan by recursive doubling, which multiplies decays and never divides by one."""
    rate = float(delta.detach().abs().max()) * float(a.detach().abs().max())
    for dtype in (torch.float32, torch.float64):
        if dtype is torch.float32 and delta.dtype is torch.float64:
            continue
        t = longest
        while t > 8 and t * rate > _LOG_RANGE[dtype]:
            t //= 2
        if t * rate <= _LOG_RANGE[dtype]:
            return t, dtype
    return 0, torch.float64


def _linear_scan(a: torch.Tensor, x: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """h_t = a_t·h_{t−1} + x_t along dim 1 (h before the first token is 0; from the end when ``reverse``)
    by recursive doubling (Hillis & Steele): log2(L) vectorised steps, each composing a token with the
    one ``offset`` before it; decays only multiply, so one that underflows to 0 is exact, not 0/0."""
    if reverse:
        a, x = a.flip(1), x.flip(1)
    h, offset = x, 1
    while offset < h.shape[1]:
        h = torch.cat([h[:, :offset], torch.addcmul(h[:, offset:], a[:, offset:], h[:, :-offset])], 1)
        if 2 * offset < h.shape[1]:
            a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], 1)
        offset *= 2
    return h.flip(1) if reverse else h


def _chunks(t: torch.Tensor, chunk: int) -> torch.Tensor:
    """B×L×… → (L/chunk)×B×chunk×… (L a multiple of ``chunk``), contiguous per chunk."""
    return t.reshape(t.shape[0], -1, chunk, *t.shape[2:]).transpose(0, 1).contiguous()


def _scan_forward(u: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                  chunk: int, keep: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """y (B×L×C, without the skip term) and, when ``keep``, the states h and decays e, chunk-major
    ((L/chunk)×B×chunk×C·S). L must be a multiple of ``chunk`` (``selective_scan`` pads).

    Within a chunk, with e_t = exp(Σ_{r≤t} Δ_r·A) (the cumulative decay from the chunk start):
    h_t = e_t · (h_0 + Σ_{s≤t} x_s / e_s), x_s = (Δ_s·u_s) ⊗ B_s; the prefix sums are one
    lower-triangular matmul; chunks run in sequence, each starting from the last state of the one before.
    Chunk 0 (``scan_plan``: decay past the dtype's range): one chunk of the whole sequence, h by
    ``_linear_scan`` of the per-token decays e_t = exp(Δ_t·A), which are what ``es`` then holds.
    """
    bsz, length, ch = u.shape
    doubling, chunk = chunk == 0, chunk or length
    n_chunks, cs = length // chunk, ch * a.shape[-1]
    dk, duk, bk, ck = (_chunks(t, chunk) for t in (delta, delta * u, b, c))
    y = u.new_empty(n_chunks, bsz, chunk, ch)
    hs = u.new_empty(n_chunks, bsz, chunk, cs) if keep else u.new_empty(0)
    es = u.new_empty(n_chunks, bsz, chunk, cs) if keep else u.new_empty(0)
    h0 = u.new_zeros(bsz, 1, cs)
    tri = torch.ones(chunk, chunk, dtype=u.dtype, device=u.device).tril_()
    for k in range(n_chunks):
        # Σ_{r≤t} Δ_r·A = (Σ_{r≤t} Δ_r)·A: the prefix sum runs over B×n×C, not B×n×C·S
        log_e = dk[k] if doubling else torch.matmul(tri, dk[k])
        e4 = torch.mul(log_e[..., None], a, out=es[k].view(bsz, chunk, ch, -1) if keep else None)
        e = e4.view(bsz, chunk, cs).exp_()
        x = (duk[k][..., None] * bk[k][:, :, None, :]).flatten(2)
        if doubling:
            h = _linear_scan(e, x)
            if keep:
                hs[k] = h
        else:
            h = torch.matmul(tri, x.div_(e), out=hs[k] if keep else None).add_(h0).mul_(e)
        y[k] = torch.einsum("btcs,bts->btc", h.view(bsz, chunk, ch, -1), ck[k])
        h0 = h[:, -1:]
    return y.transpose(0, 1).reshape(bsz, length, ch), hs, es


def _scan_backward(gy: torch.Tensor, u: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                   c: torch.Tensor, hs: torch.Tensor, es: torch.Tensor, chunk: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of y (without skip) for u, Δ, A, B, C, chunk by chunk from the end.

    The state gradient runs the same recurrence backwards: gh_t = gy_t ⊗ C_t + a_{t+1} · gh_{t+1}, so
    gh_t = (Σ_{s≥t} e_s · q_s + e_n · g_in) / e_t within a chunk (one upper-triangular matmul).
    ∂/∂(Δ_t·A) = gh_t · a_t · h_{t−1} = gh_t · (h_t − x_t).
    """
    bsz, length, ch = u.shape
    st = a.shape[-1]
    doubling, chunk = chunk == 0, chunk or length
    uk, dk, duk, bk, ck, gk = (_chunks(t, chunk) for t in (u, delta, delta * u, b, c, gy))
    gu, gdelta, gb, gc = (torch.empty_like(t) for t in (uk, dk, bk, ck))
    ga = torch.zeros_like(a)
    g_in = u.new_zeros(bsz, 1, ch * st)
    triu = torch.ones(chunk, chunk, dtype=u.dtype, device=u.device).triu_()
    for k in reversed(range(len(hs))):
        d, du, bb, g, h, e = dk[k], duk[k], bk[k], gk[k], hs[k], es[k]
        q = (g[..., None] * ck[k][:, :, None, :]).flatten(2)
        if doubling:  # gh_t = q_t + e_{t+1}·gh_{t+1}, from the end (one chunk: no g_in)
            gh = _linear_scan(torch.cat([e[:, 1:], torch.zeros_like(e[:, :1])], 1), q, reverse=True)
        else:
            gh = torch.matmul(triu, q.mul_(e)).add_(g_in * e[:, -1:]).div_(e)
        g_in = torch.exp(d[:, :1, :, None] * a).flatten(2) * gh[:, :1]
        h4, gh4 = h.view(bsz, chunk, ch, st), gh.view(bsz, chunk, ch, st)
        gc[k] = torch.einsum("btc,btcs->bts", g, h4)
        gdu = torch.einsum("btcs,bts->btc", gh4, bb)
        gb[k] = torch.einsum("btcs,btc->bts", gh4, du)
        gla = gh4.mul_(h4 - du[..., None] * bb[:, :, None, :])
        gdelta[k] = torch.einsum("btcs,cs->btc", gla, a).addcmul_(gdu, uk[k])
        ga += (gla * d[..., None]).sum((0, 1))  # an einsum here runs as a slow bmm
        gu[k] = gdu * d
    return (*(t.transpose(0, 1).reshape(bsz, length, -1) for t in (gu, gdelta)), ga,
            *(t.transpose(0, 1).reshape(bsz, length, -1) for t in (gb, gc)))


# A dispatcher op of its own (not ``torch.library.custom_op``, whose first call imports torch._dynamo):
# torch's flop counter sees ``nas_ssm::selective_scan`` as one op it has no formula for, never its insides.
_LIB = torch.library.Library("nas_ssm", "DEF")  # its own namespace: one DEF library per namespace
_LIB.define("selective_scan(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, int chunk, bool keep)"
            " -> (Tensor, Tensor, Tensor)")
_LIB.impl("selective_scan", _scan_forward, "CompositeExplicitAutograd")


class _SelectiveScan(torch.autograd.Function):
    """The op forward, ``_scan_backward`` backward."""

    @staticmethod
    def forward(ctx, u, delta, a, b, c, chunk: int, keep: bool):  # type: ignore[override]
        y, hs, es = torch.ops.nas_ssm.selective_scan(u, delta, a, b, c, chunk, keep)
        ctx.chunk = chunk
        ctx.save_for_backward(u, delta, a, b, c, hs, es)
        return y

    @staticmethod
    def backward(ctx, gy):  # type: ignore[override]
        u, delta, a, b, c, hs, es = ctx.saved_tensors
        return (*_scan_backward(gy.contiguous(), u, delta, a, b, c, hs, es, ctx.chunk), None, None)


def selective_scan(u: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                   skip: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """Mamba's selective scan, chunked: h_t = exp(Δ_t·A) ⊙ h_{t−1} + (Δ_t·u_t) ⊗ B_t, y_t = h_t·C_t + skip ⊙ u_t.

    u, delta: B×L×C; a: C×S (negative); b, c: B×L×S; skip: C. Returns B×L×C, equal to the token-by-token
    recurrence up to float rounding. Runs as one dispatcher op (``nas_ssm::selective_scan``) with a hand-written
    backward, so torch's flop counter sees none of it (the op charges it as ``uncounted_macs``) and
    autograd keeps one B×L×C×S state and decay instead of a graph per token. Chunk length and the
    arithmetic's dtype follow ``scan_plan`` (``chunk`` can only shorten the chunks).
    """
    planned, dtype = scan_plan(delta, a)
    chunk = min(chunk or planned, planned)
    keep = torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, a, b, c))
    length = u.shape[1]
    if chunk:  # as many chunks as needed, evened out: a short sequence is not padded to a whole chunk
        # (one token on a 1×1 grid padded to 64 made a hybrid network's training 30× slower)
        chunk = -(-length // -(-length // chunk))
    pad = -length % (chunk or length)  # zero tokens after the end: Δ = 0 keeps the state, x = 0 adds nothing
    args = [F.pad(t, (0, 0, 0, pad)) if pad else t for t in (u, delta, b, c)]
    args = [t.to(dtype) for t in (args[0], args[1], a, args[2], args[3])]
    y = _SelectiveScan.apply(*args, chunk, keep)
    return y[:, :length].to(u.dtype) + u * skip


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
