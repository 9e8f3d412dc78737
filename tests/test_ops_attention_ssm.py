"""Attention and state-space ops: what the generic op contract cannot see.

Parity with reference computations (float64, tolerance 1e-10 unless stated), causality, the
hand counts behind ``uncounted_macs``, and the one-line errors for bad heads / windows.
"""

from __future__ import annotations

import cmath
import math

import pytest
import torch
from torch import nn

from nas.errors import NasError
from nas.searchspace import OPS
from nas.searchspace.ops._attention_modules import relative_position_index
from nas.searchspace.ops._formulas import fft_macs
from nas.searchspace.ops._ssm_modules import fft_causal_conv, scan_plan, selective_scan
from nas.searchspace.ops.ssm_mamba import selective_scan_macs
from nas.searchspace.ops.ssm_s4d import s4d_kernel_macs
from nas.searchspace.tensor_type import TensorType

TOL = 1e-10


def _build(name: str, t: TensorType, **hp):
    spec = OPS.get(name)
    full, _ = spec.resolve(t, hp)
    torch.manual_seed(0)
    return spec, full, spec.build(t, full).double().eval()


def _randn(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- attention --------------------------------------------------------------------------------------


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_mhsa_matches_torch_multihead_attention(qkv_bias: bool) -> None:
    t = TensorType.seq(16, 4, 6)
    _, _, ours = _build("mhsa", t, heads=4, qkv_bias=qkv_bias)
    ref = nn.MultiheadAttention(16, 4, bias=True, batch_first=True).double().eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias if qkv_bias else torch.zeros(48))
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
        x = _randn(3, 24, 16)
        expected, _ = ref(x, x, x, need_weights=False)
        torch.testing.assert_close(ours(x), expected, rtol=0, atol=TOL)


def _explicit_attention(module: nn.Module, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The attention SDPA replaced, as explicit matmuls that torch's flop counter sees."""
    b, n, d = x.shape
    q, k, v = module.qkv(x).reshape(b, n, 3, module.heads, d // module.heads).permute(2, 0, 3, 1, 4)
    scores = (q * module.scale) @ k.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias
    return module.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


def test_mhsa_sdpa_equals_explicit_matmuls_and_declares_what_the_counter_misses() -> None:
    """SDPA output = explicit softmax(QKᵀ/√d)V; the counter sees only the projections through SDPA, and
    all of ``macs`` through explicit matmuls: uncounted = QKᵀ + AV = 2·N·N·D by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    t = TensorType.seq(12, 2, 3)  # N = 6, D = 12, 3 heads of 4
    spec, full, module = _build("mhsa", t, heads=3)
    x = _randn(1, 6, 12)
    with torch.no_grad():
        torch.testing.assert_close(module(x), _explicit_attention(module, x), rtol=0, atol=TOL)
    with FlopCounterMode(display=False) as sdpa, torch.no_grad():
        module(x)
    with FlopCounterMode(display=False) as explicit, torch.no_grad():
        _explicit_attention(module, x)
    assert spec.uncounted_macs(t, full) == 6 * 6 * 12 + 6 * 6 * 12 == 864
    assert explicit.get_total_flops() // 2 == spec.macs(t, full) == 6 * 12 * 36 + 6 * 12 * 12 + 864
    assert sdpa.get_total_flops() // 2 == spec.macs(t, full) - 864


def test_window_equal_to_grid_is_mhsa() -> None:
    t = TensorType.seq(16, 4, 4)
    _, _, win = _build("window_attention", t, window=4, heads=2)
    _, _, glob = _build("mhsa", t, heads=2)
    glob.load_state_dict(win.state_dict())
    x = _randn(2, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(win(x), glob(x), rtol=0, atol=TOL)


def test_window_attention_attends_within_each_raster_window() -> None:
    # a 4x8 grid with window 4 holds two windows: columns 0-3 and 4-7 of every row
    t = TensorType.seq(8, 4, 8)
    _, _, win = _build("window_attention", t, window=4, heads=2)
    _, _, glob = _build("mhsa", TensorType.seq(8, 4, 4), heads=2)
    glob.load_state_dict(win.state_dict())
    x = _randn(2, 32, 8)
    grid = torch.arange(32).reshape(4, 8)
    with torch.no_grad():
        y = win(x)
        for cols in (slice(0, 4), slice(4, 8)):
            idx = grid[:, cols].reshape(-1)
            torch.testing.assert_close(y[:, idx], glob(x[:, idx]), rtol=0, atol=TOL)


def test_relative_position_bias_table_and_index() -> None:
    t = TensorType.seq(8, 4, 4)
    spec, full, win = _build("window_attention", t, window=2, heads=4, rel_pos=True)
    assert tuple(win.rel_table.shape) == (9, 4)
    assert spec.params(t, full) == spec.params(t, full.replace(rel_pos=False)) + 9 * 4
    idx = relative_position_index(2)
    # tokens (0,0),(0,1),(1,0),(1,1): offsets (dy+1)*3 + (dx+1); the diagonal is offset (0,0) = 4
    assert idx.tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
    # a zero table is the plain window attention; a non-zero one changes the output
    _, _, plain = _build("window_attention", t, window=2, heads=4)
    plain.load_state_dict({k: v for k, v in win.state_dict().items() if k != "rel_table"})
    x = _randn(1, 16, 8)
    with torch.no_grad():
        win.rel_table.zero_()
        torch.testing.assert_close(win(x), plain(x), rtol=0, atol=TOL)
        win.rel_table.fill_(0.5).add_(_randn(9, 4))
        assert (win(x) - plain(x)).abs().max() > 1e-3


def test_linear_attention_matches_direct_formula() -> None:
    t = TensorType.seq(12, 3, 4)
    _, _, lin = _build("linear_attention", t, heads=2)
    x = _randn(2, 12, 12)
    with torch.no_grad():
        q, k, v = lin.qkv(x).split(12, dim=-1)
        out = torch.empty_like(x)
        for h in range(2):
            hs = slice(6 * h, 6 * h + 6)
            fq, fk = nn.functional.elu(q[..., hs]) + 1, nn.functional.elu(k[..., hs]) + 1
            sim = fq @ fk.transpose(1, 2)  # N×N form: same result as the linear-cost form
            out[..., hs] = (sim @ v[..., hs]) / (sim.sum(-1, keepdim=True) + 1e-6)
        torch.testing.assert_close(lin(x), lin.proj(out), rtol=0, atol=TOL)


def test_linear_attention_macs_hand_count() -> None:
    spec = OPS.get("linear_attention")
    t = TensorType.seq(12, 3, 4)  # N=12, D=12, heads 2, d=6
    full, _ = spec.resolve(t, {"heads": 2})
    # qkv 12*12*36 + KtV 2*12*6*6 + Q(KtV) 2*12*6*6 + normaliser 2*12*6 + proj 12*12*12
    assert spec.macs(t, full) == 5184 + 864 + 864 + 144 + 1728
    assert spec.uncounted_macs(t, full) == 0


@pytest.mark.parametrize("name,hp", [("mhsa", {"heads": 6}), ("linear_attention", {"heads": 12}),
                                     ("window_attention", {"window": 2, "heads": 6})])
def test_heads_must_divide_dim(name: str, hp: dict) -> None:
    with pytest.raises(NasError) as err:
        OPS.get(name).resolve(TensorType.seq(16, 4, 4), hp, where="stage2.block0")
    msg = str(err.value)
    assert "\n" not in msg and f"heads={hp['heads']}" in msg and "D=16" in msg and "stage2.block0" in msg


def test_window_must_divide_grid() -> None:
    with pytest.raises(NasError) as err:
        OPS.get("window_attention").resolve(TensorType.seq(16, 8, 6), {"window": 4, "heads": 2})
    msg = str(err.value)
    assert "\n" not in msg and "window=4" in msg and "8x6" in msg
    assert OPS.get("window_attention").resolve(TensorType.seq(16, 7, 14), {"heads": 2})[1].tokens == 98
    with pytest.raises(NasError, match="window=7 must divide the grid 8x7"):
        OPS.get("window_attention").resolve(TensorType.seq(16, 8, 7), {"heads": 2})  # default window 7


def test_window_attention_macs_hand_count() -> None:
    spec = OPS.get("window_attention")
    t = TensorType.seq(8, 4, 8)  # N=32, D=8, window 4: 2 windows of 16 tokens
    full, _ = spec.resolve(t, {"window": 4, "heads": 2})
    # qkv 32*8*24 + proj 32*8*8 + per window (QKt 16*16*8 + AV 16*16*8) * 2 windows
    assert spec.macs(t, full) == 6144 + 2048 + 2 * 4096
    mhsa = OPS.get("mhsa")
    assert mhsa.macs(t, mhsa.check(t, {"heads": 2})) == 6144 + 2048 + 2 * 32 * 32 * 8


# -- S4D --------------------------------------------------------------------------------------------


def _direct_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """O(L²) reference: y_t = Σ_{s≤t} K0[t−s] u_s (+ Σ_{s>t} K1[s−t−1] u_s when bidirectional)."""
    length = u.shape[-1]
    y = torch.zeros_like(u)
    for t in range(length):
        for s in range(length):
            if s <= t:
                y[..., t] += kernel[0, :, t - s] * u[..., s]
            elif kernel.shape[0] == 2:
                y[..., t] += kernel[1, :, s - t - 1] * u[..., s]
    return y


@pytest.mark.parametrize("bidirectional", [False, True])
def test_s4d_fft_convolution_equals_direct_convolution(bidirectional: bool) -> None:
    t = TensorType.seq(6, 3, 5)
    _, _, s4d = _build("s4d", t, state=8, bidirectional=bidirectional)
    u = _randn(2, 6, 15)
    with torch.no_grad():
        kernel = s4d.kernel(15)
        assert tuple(kernel.shape) == (2 if bidirectional else 1, 6, 15)
        torch.testing.assert_close(fft_causal_conv(u, kernel), _direct_conv(u, kernel), rtol=0, atol=TOL)


def test_s4d_kernel_equals_scalar_vandermonde_and_its_count() -> None:
    """A scalar re-computation of K[l] = Σ_n Re(Ĉ_n exp(ΔA_n l)) that counts its real multiplies."""
    t = TensorType.seq(3, 2, 3)
    _, _, s4d = _build("s4d", t, state=8, bidirectional=True)
    length, mults = 6, 0
    with torch.no_grad():
        kernel = s4d.kernel(length)
        expected = torch.zeros_like(kernel)
        for k in range(2):
            for d in range(3):
                dt = math.exp(s4d.log_dt[k, d].item())
                for n in range(4):
                    a = complex(-math.exp(s4d.a_re[k, d, n].item()), s4d.a_im[k, d, n].item())
                    b = complex(*s4d.b[k, d, n].tolist())
                    c = complex(*s4d.c[k, d, n].tolist())
                    c_hat = 2 * c * b * (cmath.exp(dt * a) - 1) / a  # per mode, not charged
                    for pos in range(length):
                        w = complex((dt * a).real * pos, (dt * a).imag * pos)
                        z = cmath.exp(w)
                        mults += 2
                        expected[k, d, pos] += c_hat.real * z.real - c_hat.imag * z.imag
                        mults += 2
        torch.testing.assert_close(kernel, expected, rtol=0, atol=TOL)
    assert mults == s4d_kernel_macs(3, 8, length, kernels=2) == 2 * 3 * 4 * 6 * 4


def test_s4d_uncounted_macs_hand_count() -> None:
    spec = OPS.get("s4d")
    t = TensorType.seq(2, 2, 2)  # D=2, L=4, state 8 = 4 complex modes
    full = spec.check(t, {"state": 8})
    assert fft_macs(8) == 24  # 8 points * log2(8)
    # Vandermonde 1*2*4*4 taps*4 = 128; per channel 3 FFTs (72) + 5 complex products (20) = 92, x2 = 184;
    # skip 4*2 = 8
    assert spec.uncounted_macs(t, full) == 128 + 184 + 8
    assert spec.uncounted_macs(t, full.replace(bidirectional=True)) == 2 * 128 + 184 + 8
    assert spec.macs(t, full) == 320 + 4 * 2 * 2  # + output Linear 2->2 on 4 tokens


# -- Mamba ------------------------------------------------------------------------------------------


def test_selective_scan_equals_naive_recurrence_and_its_count() -> None:
    """Scalar step-by-step h ← exp(ΔA)h + ΔBu, y = C·h + skip·u, counting every multiply."""
    batch, length, channels, state = 2, 5, 3, 4
    u, delta = _randn(batch, length, channels, seed=2), _randn(batch, length, channels, seed=3).abs()
    a = -_randn(channels, state, seed=4).exp()
    b, c = _randn(batch, length, state, seed=5), _randn(batch, length, state, seed=6)
    skip = _randn(channels, seed=7)
    y = selective_scan(u, delta, a, b, c, skip)
    mults = 0
    for i in range(batch):
        h = [[0.0] * state for _ in range(channels)]
        for t in range(length):
            for ch in range(channels):
                dt, x = delta[i, t, ch].item(), u[i, t, ch].item()
                du = dt * x
                out = skip[ch].item() * x
                mults += 2
                for s in range(state):
                    h[ch][s] = math.exp(dt * a[ch, s].item()) * h[ch][s] + du * b[i, t, s].item()
                    out += c[i, t, s].item() * h[ch][s]
                    mults += 4
                assert abs(y[i, t, ch].item() - out) <= TOL
    assert mults == batch * selective_scan_macs(length, channels, state)


@pytest.mark.parametrize("rate,chunk", [(0.05, 32), (0.05, None), (3.0, None), (40.0, None), (2000.0, None)])
def test_chunked_scan_equals_the_token_loop_in_float32(rate: float, chunk: int | None) -> None:
    """Outputs and all six gradients of the chunked scan equal the token loop within 1e-5 (float32),
    from slow decay (long chunks) to decay so fast that chunks shrink to a token or two, and past
    float64's range within one token (Δ·|A| > 700: the recurrence itself, never a ratio of decays)."""
    from _ssm_reference import naive_selective_scan

    batch, length, channels, state = 2, 77, 6, 4
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(batch, length, channels, generator=g),
            rate * torch.rand(batch, length, channels, generator=g),
            -torch.rand(channels, state, generator=g) - 0.5,
            torch.randn(batch, length, state, generator=g), torch.randn(batch, length, state, generator=g),
            torch.randn(channels, generator=g)]
    xs = [x.clone().requires_grad_() for x in args]
    ref = [x.clone().requires_grad_() for x in args]
    assert (scan_plan(args[1], args[2])[0] == 0) == (rate > 1000)  # the doubling scan, past float64's range
    y = selective_scan(*xs, chunk=chunk)
    y0 = naive_selective_scan(*ref)
    torch.testing.assert_close(y, y0, rtol=1e-5, atol=1e-5)
    w = torch.randn(y.shape, generator=g)
    for ours, theirs in zip(torch.autograd.grad((y * w).sum(), xs), torch.autograd.grad((y0 * w).sum(), ref)):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5 * float(theirs.abs().max()))


def test_mamba_macs_hand_count() -> None:
    spec = OPS.get("mamba")
    t = TensorType.seq(16, 2, 3)  # N=6, D=16: dt_rank 1; expand 1 -> E*D = 16; state 4; conv kernel 3
    full = spec.check(t, {"state": 4, "expand": 1, "conv_kernel": 3})
    assert spec.uncounted_macs(t, full) == 6 * 16 * (4 * 4 + 2)  # 1728
    # in_proj 6*16*32 + conv 6*16*3 + x_proj 6*16*(1+8) + dt_proj 6*1*16 + out_proj 6*16*16
    assert spec.macs(t, full) == 1728 + 3072 + 288 + 864 + 96 + 1536


# -- both SSMs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,hp", [("s4d", {"state": 16}), ("mamba", {"state": 8, "conv_kernel": 4}),
                                     ("mamba", {"state": 4, "expand": 1, "conv_kernel": 2})])
def test_ssm_is_causal(name: str, hp: dict) -> None:
    t = TensorType.seq(8, 3, 4)
    _, _, module = _build(name, t, **hp)
    x = _randn(2, 12, 8)
    x2 = x.clone()
    x2[:, 7:] += _randn(2, 5, 8, seed=9)
    with torch.no_grad():
        y, y2 = module(x), module(x2)
    torch.testing.assert_close(y[:, :7], y2[:, :7], rtol=0, atol=1e-12)
    assert (y[:, 7] - y2[:, 7]).abs().max() > 1e-6


def test_bidirectional_s4d_sees_later_tokens() -> None:
    t = TensorType.seq(8, 3, 4)
    _, _, module = _build("s4d", t, state=16, bidirectional=True)
    x = _randn(1, 12, 8)
    x2 = x.clone()
    x2[:, 11] += 1.0
    with torch.no_grad():
        assert (module(x)[:, 0] - module(x2)[:, 0]).abs().max() > 1e-6


@pytest.mark.parametrize("name,hp", [("s4d", {"state": 8, "bidirectional": True}), ("mamba", {"state": 4})])
def test_ssm_on_a_map_is_the_raster_scan(name: str, hp: dict) -> None:
    _, _, on_map = _build(name, TensorType.map(8, 3, 4), **hp)
    _, _, on_seq = _build(name, TensorType.seq(8, 3, 4), **hp)
    on_seq.load_state_dict(on_map.state_dict())
    x = _randn(2, 8, 3, 4)
    with torch.no_grad():
        y = on_map(x)
        expected = on_seq(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 8, 3, 4)
    torch.testing.assert_close(y, expected, rtol=0, atol=TOL)


@pytest.mark.parametrize("name", ["mhsa", "window_attention", "linear_attention", "s4d", "mamba"])
def test_token_mixers_keep_the_type(name: str) -> None:
    spec = OPS.get(name)
    assert spec.token_mixer
    for t, hp in spec.examples():
        assert spec.resolve(t, hp)[1] == t


def test_s4d_kernel_in_blocks_of_modes_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel built a few modes at a time (never the whole complex Vandermonde matrix) equals the
    one-shot kernel, and so do its gradients through the recomputed blocks."""
    from nas.searchspace.ops import _ssm_modules

    t = TensorType.seq(5, 3, 7)
    _, _, s4d = _build("s4d", t, state=16, bidirectional=True)   # 8 modes, L = 21
    whole = s4d.kernel(21)
    (g_whole,) = torch.autograd.grad(whole.square().sum(), [s4d.c])
    monkeypatch.setattr(_ssm_modules, "KERNEL_BLOCK", 2 * 5 * 21 * 3)  # 3 modes per block: blocks 3, 3, 2
    blocks = s4d.kernel(21)
    (g_blocks,) = torch.autograd.grad(blocks.square().sum(), [s4d.c])
    torch.testing.assert_close(blocks, whole, rtol=0, atol=TOL)
    torch.testing.assert_close(g_blocks, g_whole, rtol=0, atol=TOL)


def test_shifted_windows_keep_rolled_together_regions_apart() -> None:
    """Swin's shifted windows on an 8×8 grid, w = 4, shift 2: token (3, 3) sees the window rows/cols
    2..5 only; token (0, 0) shares a rolled window with (6, 6)..(7, 7) but the mask keeps them apart."""
    t = TensorType.seq(6, 8, 8)
    _, _, attn = _build("window_attention", t, window=4, heads=2, rel_pos=True, shift=True)
    x = _randn(1, 64, 6)

    def changed(at: tuple[int, int], poke: tuple[int, int]) -> bool:
        y = x.clone()
        y[0, poke[0] * 8 + poke[1]] += 1.0
        with torch.no_grad():
            return not torch.allclose(attn(x)[0, at[0] * 8 + at[1]], attn(y)[0, at[0] * 8 + at[1]], atol=1e-12)

    assert changed((3, 3), (5, 5)) and changed((3, 3), (2, 2))
    assert not changed((3, 3), (1, 1)) and not changed((3, 3), (6, 3))
    assert changed((0, 0), (1, 1)) and not changed((0, 0), (7, 7)) and not changed((0, 0), (6, 0))
