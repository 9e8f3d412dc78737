"""MLP / spectral, parameter-free and adapter ops: independent checks beyond the shared op contract."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from nas.errors import NasError, TypeMismatchError
from nas.searchspace import OPS, TensorType, resolve_layers


def _resolved(op: str, t: TensorType, hp: dict | None = None):
    spec = OPS.get(op)
    full, out = spec.resolve(t, hp or {})
    return spec, full, out


# -- fft_filter ---------------------------------------------------------------------------------

def test_fft_filter_is_a_circular_convolution_with_its_spatial_kernel() -> None:
    t = TensorType.map(3, 5, 6)
    spec, hp, _ = _resolved("fft_filter", t)
    module = spec.build(t, hp)
    g = torch.Generator().manual_seed(0)
    kernel = torch.randn(3, 5, 6, generator=g)
    with torch.no_grad():  # the filter of a real kernel: its (unnormalised) half spectrum
        module.weight.copy_(torch.view_as_real(torch.fft.rfft2(kernel)))
    x = torch.randn(2, 3, 5, 6, generator=g)
    # y[c, i, j] = sum_{a, b} k[c, a, b] · x[c, (i - a) mod H, (j - b) mod W], summed directly
    expected = sum(kernel[:, a, b].view(1, 3, 1, 1) * torch.roll(x, shifts=(a, b), dims=(2, 3))
                   for a in range(5) for b in range(6))
    with torch.no_grad():
        y = module(x)
    torch.testing.assert_close(y, expected, atol=1e-4, rtol=1e-5)  # float32 FFT round-off


def test_fft_filter_on_a_sequence_filters_its_grid() -> None:
    t_map, t_seq = TensorType.map(4, 3, 5), TensorType.seq(4, 3, 5)
    spec, hp, _ = _resolved("fft_filter", t_map)
    torch.manual_seed(0)
    on_map, on_seq = spec.build(t_map, hp), spec.build(t_seq, hp)
    on_seq.inner.load_state_dict(on_map.state_dict())
    x = torch.randn(2, 4, 3, 5)
    with torch.no_grad():
        y_map, y_seq = on_map(x), on_seq(x.flatten(2).transpose(1, 2))
    torch.testing.assert_close(y_seq, y_map.flatten(2).transpose(1, 2), atol=1e-6, rtol=0)


@pytest.mark.parametrize("t,macs,params", [
    # per channel: rfft2 + irfft2 of n = H·W points, n·ceil(log2 n) each, + 4 MACs × H·(W//2+1) products
    (TensorType.map(3, 4, 4), 3 * (2 * 16 * 4 + 4 * 4 * 3), 3 * 4 * 3 * 2),
    (TensorType.map(2, 5, 6), 2 * (2 * 30 * 5 + 4 * 5 * 4), 2 * 5 * 4 * 2),
    (TensorType.seq(8, 14, 14), 8 * (2 * 196 * 8 + 4 * 14 * 8), 8 * 14 * 8 * 2),
])
def test_fft_filter_costs_by_hand(t: TensorType, macs: int, params: int) -> None:
    spec, hp, _ = _resolved("fft_filter", t)
    assert spec.macs(t, hp) == spec.uncounted_macs(t, hp) == macs
    assert spec.params(t, hp) == params


# -- MLPs ---------------------------------------------------------------------------------------

def test_token_mlp_costs_by_hand_and_map_equals_sequence() -> None:
    t_seq, t_map = TensorType.seq(4, 3, 3), TensorType.map(4, 3, 3)
    spec, hp, _ = _resolved("token_mlp", t_seq, {"ratio": 2})
    hidden = 18  # N = 9 tokens, ratio 2
    assert spec.params(t_seq, hp) == 9 * hidden + hidden + hidden * 9 + 9 == 351
    assert spec.macs(t_seq, hp) == 2 * 4 * 9 * hidden == 1296
    torch.manual_seed(0)
    on_seq, on_map = spec.build(t_seq, hp), spec.build(t_map, hp)
    on_map.load_state_dict(on_seq.state_dict())
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(on_seq(x.flatten(2).transpose(1, 2)), on_map(x).flatten(2).transpose(1, 2),
                                   atol=1e-6, rtol=0)


def test_channel_mlp_hidden_is_round_ratio_times_c() -> None:
    t = TensorType.seq(96, 56, 56)  # a Swin-T-sized stage-1 MLP
    spec, hp, out = _resolved("channel_mlp", t)
    assert out == t
    assert spec.params(t, hp) == 96 * 384 + 384 + 384 * 96 + 96 == 74_208
    assert spec.macs(t, hp) == 56 * 56 * 2 * 96 * 384 == 231_211_008


# -- parameter-free -----------------------------------------------------------------------------

def test_pool_mixer_is_avgpool_minus_x_by_hand() -> None:
    t = TensorType.map(1, 3, 4)
    spec, hp, _ = _resolved("pool_mixer", t)
    x = torch.arange(12, dtype=torch.float32).view(1, 1, 3, 4) ** 2
    expected = torch.empty_like(x)
    for i in range(3):
        for j in range(4):
            window = [x[0, 0, a, b] for a in range(i - 1, i + 2) for b in range(j - 1, j + 2)
                      if 0 <= a < 3 and 0 <= b < 4]  # padding excluded from the mean
            expected[0, 0, i, j] = sum(window) / len(window) - x[0, 0, i, j]
    torch.testing.assert_close(spec.build(t, hp)(x), expected, atol=1e-5, rtol=0)
    seq = spec.build(TensorType.seq(1, 3, 4), hp)(x.flatten(2).transpose(1, 2))
    torch.testing.assert_close(seq, expected.flatten(2).transpose(1, 2), atol=1e-5, rtol=0)


def test_channel_shift_moves_four_groups_and_keeps_the_rest() -> None:
    t = TensorType.map(10, 4, 4)  # groups_ratio 0.5: 5 channels // 4 = 1 per direction, 6 unshifted
    spec, hp, _ = _resolved("channel_shift", t, {"shift": 1})
    x = torch.randn(1, 10, 4, 4)
    y = spec.build(t, hp)(x)
    zero_row, zero_col = torch.zeros(4), torch.zeros(4)
    assert torch.equal(y[0, 0, :3], x[0, 0, 1:]) and torch.equal(y[0, 0, 3], zero_row)          # up
    assert torch.equal(y[0, 1, 1:], x[0, 1, :3]) and torch.equal(y[0, 1, 0], zero_row)          # down
    assert torch.equal(y[0, 2, :, :3], x[0, 2, :, 1:]) and torch.equal(y[0, 2, :, 3], zero_col)  # left
    assert torch.equal(y[0, 3, :, 1:], x[0, 3, :, :3]) and torch.equal(y[0, 3, :, 0], zero_col)  # right
    assert torch.equal(y[0, 4:], x[0, 4:])
    with pytest.raises(NasError, match=r"groups_ratio=0.25 needs at least 16 channels"):
        resolve_layers(TensorType.map(12, 4, 4), [("shift", "channel_shift", {"groups_ratio": 0.25})])


def test_zero_and_identity() -> None:
    t = TensorType.seq(4, 2, 3)
    x = torch.randn(2, 6, 4)
    assert torch.equal(OPS.get("zero").build(t, {})(x), torch.zeros(2, 6, 4))
    assert torch.equal(OPS.get("identity").build(TensorType.vec(4), {})(x[:, 0]), x[:, 0])
    assert not OPS.get("zero").token_mixer and OPS.get("identity").token_mixer


@pytest.mark.parametrize("op,hp,size,out", [
    ("maxpool", {"kernel": 3, "stride": 1}, 7, 7),
    ("maxpool", {"kernel": 3, "stride": 2}, 7, 4),
    ("avgpool", {"kernel": 2, "stride": 2}, 7, 3),
    ("avgpool", {"kernel": 7, "stride": 2}, 8, 4),
])
def test_pool_padding_rule(op: str, hp: dict, size: int, out: int) -> None:
    t = TensorType.map(2, size, size)
    spec, full, o = _resolved(op, t, hp)
    assert o == TensorType.map(2, out, out)
    assert spec.macs(t, full) == 0 and spec.params(t, full) == 0
    assert spec.bytes(t, full) == (t.numel + o.numel) * 4


def test_even_pool_kernel_at_stride_1_is_refused() -> None:
    with pytest.raises(NasError, match=r"maxpool kernel=2 is even.*stride 1"):
        resolve_layers(TensorType.map(2, 8, 8), [("p", "maxpool", {"kernel": 2, "stride": 1})])


# -- adapters -----------------------------------------------------------------------------------

def test_map_to_seq_then_seq_to_map_is_the_identity() -> None:
    t = TensorType.map(3, 4, 5)
    spec = resolve_layers(t, [("flat", "map_to_seq", {}), ("unflat", "seq_to_map", {})])
    assert spec.layers[0].out_type == TensorType.seq(3, 4, 5) and spec.output == t
    assert sum(layer.macs() + layer.params() for layer in spec.layers) == 0
    x = torch.randn(2, 3, 4, 5)
    net = spec.build()
    assert torch.equal(net[0](x), x.permute(0, 2, 3, 1).reshape(2, 20, 3))
    assert torch.equal(net(x), x)


@pytest.mark.parametrize("t,hp,params", [
    (TensorType.map(6, 3, 3), {"classes": 5}, 6 * 5 + 5),
    (TensorType.map(6, 3, 3), {"classes": 5, "norm": "ln"}, 2 * 6 + 6 * 5 + 5),
    (TensorType.seq(6, 2, 2), {"classes": 5, "hidden": 9}, 6 * 9 + 9 + 9 * 5 + 5),
    (TensorType.seq(6, 2, 2), {"classes": 5, "hidden": 9, "norm": "ln"}, 6 * 9 + 9 + 2 * 9 + 9 * 5 + 5),
    # MobileNetV3-Large: 960 → 1280 hswish → 1000 classes
    (TensorType.map(960, 7, 7), {"classes": 1000, "hidden": 1280, "act": "hswish"}, 2_511_080),
])
def test_head_params_by_hand(t: TensorType, hp: dict, params: int) -> None:
    spec, full, out = _resolved("head", t, hp)
    assert out == TensorType.vec(hp["classes"])
    assert spec.params(t, full) == params
    assert sum(p.numel() for p in spec.build(t, full).parameters()) == params


def test_head_averages_positions_before_the_classifier() -> None:
    t = TensorType.seq(4, 2, 3)
    spec, hp, _ = _resolved("head", t, {"classes": 3})
    module = spec.build(t, hp)
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(module(x), F.linear(x.mean(1), module.fc.weight, module.fc.bias))


def test_reference_stems_and_patch_embed_costs() -> None:
    img = TensorType.map(3, 224, 224)
    resnet, hp, out = _resolved("stem", img, {"out": 64, "kernel": 7, "stride": 2, "pool": True})
    assert out == TensorType.map(64, 56, 56)
    assert (resnet.macs(img, hp), resnet.params(img, hp)) == (112 * 112 * 64 * 3 * 49, 64 * 3 * 49 + 2 * 64)
    convnext, hp, out = _resolved("stem", img, {"out": 96, "kernel": 4, "stride": 4, "bias": True, "norm": "ln",
                                                "act": "none"})
    assert out == TensorType.map(96, 56, 56)
    assert (convnext.macs(img, hp), convnext.params(img, hp)) == (56 * 56 * 96 * 48, 96 * 48 + 96 + 2 * 96)
    vit, hp, out = _resolved("patch_embed", img, {"dim": 768, "patch": 16})
    assert out == TensorType.seq(768, 14, 14)
    assert (vit.macs(img, hp), vit.params(img, hp)) == (196 * 768 * 768, 768 * 768 + 768 + 2 * 768)


@pytest.mark.parametrize("kind,params", [("conv", 8 * 4 * 9 + 16), ("patch", 8 + 8 * 4 * 4 + 8), ("pool", 8 * 4 + 16)])
def test_downsample_kinds_and_sequence_parity(kind: str, params: int) -> None:
    t_map, t_seq = TensorType.map(4, 6, 4), TensorType.seq(4, 6, 4)
    spec, hp, out = _resolved("downsample", t_map, {"out": 8, "kind": kind})
    assert out == TensorType.map(8, 3, 2) and spec.out_type(t_seq, hp) == TensorType.seq(8, 3, 2)
    assert spec.params(t_map, hp) == spec.params(t_seq, hp) == params
    torch.manual_seed(0)
    on_map, on_seq = spec.build(t_map, hp).eval(), spec.build(t_seq, hp).eval()
    on_seq.inner.load_state_dict(on_map.state_dict())
    x = torch.randn(2, 4, 6, 4)
    with torch.no_grad():
        torch.testing.assert_close(on_seq(x.flatten(2).transpose(1, 2)), on_map(x).flatten(2).transpose(1, 2),
                                   atol=1e-6, rtol=0)
    with pytest.raises(NasError, match=r"both must be even, got H=7 W=4"):
        spec.out_type(TensorType.map(4, 7, 4), hp)


# -- type errors at resolve ---------------------------------------------------------------------

def test_patch_not_dividing_h_is_one_line_naming_layer_op_and_type() -> None:
    with pytest.raises(NasError) as e:
        resolve_layers(TensorType.map(3, 30, 32), [("embed", "patch_embed", {"dim": 8, "patch": 16})])
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == "layer 'embed': patch_embed patch=16 must divide H=30 and W=32 of map[3x30x32]"


def test_sequence_into_a_map_only_op_names_layer_op_and_both_types() -> None:
    chain = [("embed", "patch_embed", {"dim": 8, "patch": 4}), ("pool", "maxpool", {})]
    with pytest.raises(TypeMismatchError) as e:
        resolve_layers(TensorType.map(3, 16, 16), chain)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == "layer 'pool': operation 'maxpool' accepts map, got seq[16x8 grid 4x4]"
    with pytest.raises(TypeMismatchError, match=r"layer 'stem': operation 'stem' accepts map, got seq\[16x3"):
        resolve_layers(TensorType.seq(3, 4, 4), [("stem", "stem", {"out": 8})])
    with pytest.raises(TypeMismatchError, match=r"operation 'seq_to_map' accepts seq, got map\[3x4x4\]"):
        resolve_layers(TensorType.map(3, 4, 4), [("back", "seq_to_map", {})])


def test_class_token_and_position_embedding_and_the_class_token_head() -> None:
    """patch_embed(cls_token, pos_embed) puts cls + pos[0] first (whatever the image); head(pool="cls")
    reads only that token. Params: D for the token, (N + 1)·D for the embedding."""
    from nas.searchspace import OPS

    t = TensorType.map(3, 8, 8)
    spec = OPS.get("patch_embed")
    hp, out = spec.resolve(t, {"dim": 5, "patch": 4, "norm": False, "cls_token": True, "pos_embed": True})
    assert out == TensorType.seq(5, 1, 5)
    assert spec.params(t, hp) == 3 * 16 * 5 + 5 + 5 + 5 * 5
    torch.manual_seed(0)
    embed = spec.build(t, hp)
    with torch.no_grad():
        a, b = embed(torch.randn(2, 3, 8, 8)), embed(torch.randn(2, 3, 8, 8))
    torch.testing.assert_close(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 1:], b[:, 1:])
    head_spec = OPS.get("head")
    hhp, _ = head_spec.resolve(out, {"classes": 3, "norm": "ln", "pool": "cls"})
    head = head_spec.build(out, hhp)
    with torch.no_grad():
        torch.testing.assert_close(head(a), head(torch.cat([a[:, :1], b[:, 1:]], dim=1)))
    with pytest.raises(NasError, match="pool='cls' takes the class token of a sequence"):
        head_spec.resolve(TensorType.map(4, 2, 2), {"classes": 3, "pool": "cls"})
