"""Conv-family ops: what the generic op contract cannot see (residuals, widths, hand-counted costs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.errors import NasError, TypeMismatchError
from nas.searchspace import OPS, TensorType, resolve_layers


def _built(op: str, t: TensorType, hp: dict) -> tuple[nn.Module, dict]:
    spec = OPS.get(op)
    full, _ = spec.resolve(t, hp)
    torch.manual_seed(0)
    return spec.build(t, full).eval(), full


def _traced_macs(module: nn.Module, t: TensorType) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(t.shape(1)))
    return counter.get_total_flops() // 2


def _zero(*modules: nn.Module) -> None:
    with torch.no_grad():
        for m in modules:
            for p in m.parameters():
                p.zero_()


# -- residuals: a zeroed branch leaves exactly the shortcut ------------------------------------------

@pytest.mark.parametrize("c_in,out,stride,residual", [(8, 8, 1, True), (8, 8, 2, False), (8, 16, 1, False)])
def test_mbconv_residual_exactly_when_stride_1_and_same_width(c_in: int, out: int, stride: int,
                                                              residual: bool) -> None:
    t = TensorType.map(c_in, 6, 6)
    m, _ = _built("mbconv", t, {"out": out, "expand": 3, "stride": stride, "se": 0.25})
    _zero(m.bn3)
    x = torch.randn(t.shape(2))
    with torch.no_grad():
        y = m(x)
    expected = x if residual else torch.zeros_like(y)
    assert torch.equal(y, expected)


@pytest.mark.parametrize("op,extra", [("resnet_basic", {}), ("resnet_bottleneck", {"mid": 4})])
@pytest.mark.parametrize("c_in,out,stride,projects", [(8, 8, 1, False), (8, 8, 2, True), (4, 8, 1, True)])
def test_resnet_shortcut_identity_or_projection(op: str, extra: dict, c_in: int, out: int, stride: int,
                                                projects: bool) -> None:
    t = TensorType.map(c_in, 5, 5)
    m, _ = _built(op, t, {"out": out, "stride": stride, **extra})
    assert (m.downsample is not None) == projects
    _zero(m.bn3 if op == "resnet_bottleneck" else m.bn2)
    x = torch.randn(t.shape(2))
    with torch.no_grad():
        y = m(x)
        shortcut = m.downsample(x) if projects else x
    assert torch.equal(y, torch.relu(shortcut))  # the ReLU comes after the add
    if projects:  # a 1×1 conv with the block's stride + BN: c_in·out + 2·out parameters
        assert m.downsample[0].stride == (stride, stride) and m.downsample[0].kernel_size == (1, 1)
        assert sum(p.numel() for p in m.downsample.parameters()) == c_in * out + 2 * out


@pytest.mark.parametrize("layer_scale", [True, False])
def test_convnext_block_is_residual(layer_scale: bool) -> None:
    t = TensorType.map(6, 5, 5)
    m, _ = _built("convnext_block", t, {"kernel": 3, "layer_scale": layer_scale})
    assert (m.gamma is not None) == layer_scale
    _zero(m.mlp.fc2)
    x = torch.randn(t.shape(2))
    with torch.no_grad():
        assert torch.equal(m(x), x)


def test_convnext_block_matches_functional_definition() -> None:
    """Parity with the block written out by hand: LayerNorm over channels only, gamma per channel."""
    t = TensorType.map(8, 5, 6)
    m, _ = _built("convnext_block", t, {"kernel": 5, "mlp_ratio": 2})
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
        x = torch.randn(t.shape(2))
        y = F.conv2d(x, m.conv_dw.weight, m.conv_dw.bias, padding=2, groups=8).permute(0, 2, 3, 1)
        y = F.layer_norm(y, (8,), m.norm.weight, m.norm.bias, eps=1e-6)
        y = F.linear(F.gelu(F.linear(y, m.mlp.fc1.weight, m.mlp.fc1.bias)), m.mlp.fc2.weight, m.mlp.fc2.bias)
        expected = x + (y * m.gamma).permute(0, 3, 1, 2)
        torch.testing.assert_close(m(x), expected, rtol=1e-5, atol=1e-5)


# -- widths -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("c_in,expand,round_mid,mid", [
    (4, 3, True, 16),    # make_divisible(12, 8) = 16 (OFA MobileNetV3)
    (4, 3, False, 12),   # exact 4·3 (torchvision / timm MobileNetV2)
    (20, 6, True, 120),  # already a multiple of 8
    (12, 1, True, 12),   # expand 1: no expansion conv, DW on C_in even when C_in is not a multiple of 8
])
def test_mbconv_expanded_width(c_in: int, expand: int, round_mid: bool, mid: int) -> None:
    m, _ = _built("mbconv", TensorType.map(c_in, 4, 4), {"out": 8, "expand": expand, "round_mid": round_mid})
    assert m.conv_dw.in_channels == m.conv_dw.out_channels == m.conv_dw.groups == mid
    assert isinstance(m.expand, nn.Identity) == (expand == 1)


def test_inception_dw_splits_identity_and_three_branches() -> None:
    t = TensorType.map(12, 5, 9)
    m, _ = _built("inception_dw", t, {"square_kernel": 5, "band_kernel": 7, "branch_ratio": 0.25})
    assert m.split == (3, 3, 3, 3)
    assert (m.dwconv_w.kernel_size, m.dwconv_h.kernel_size) == ((1, 7), (7, 1))
    x = torch.randn(t.shape(2))
    with torch.no_grad():
        y = m(x)
        assert torch.equal(y[:, :3], x[:, :3])
        torch.testing.assert_close(y[:, 3:6], m.dwconv_hw(x[:, 3:6]), rtol=0, atol=0)
    # int(16·0.125) = 2 channels per branch, 10 identity; MACs 7·7·2·(3·3 + 11 + 11) = 3038
    assert OPS.get("inception_dw").macs(TensorType.map(16, 7, 7), OPS.get("inception_dw").check(
        TensorType.map(16, 7, 7))) == 3038


# -- large kernels and depthwise-ness -----------------------------------------------------------------

@pytest.mark.parametrize("dilation", [1, 3])
def test_dwconv_kernel_31_keeps_the_map_and_counts_exactly(dilation: int) -> None:
    t = TensorType.map(4, 12, 10)
    m, hp = _built("dwconv", t, {"kernel": 31, "dilation": dilation})
    assert OPS.get("dwconv").out_type(t, hp) == t
    # 12·10 positions · 4 channels · 31·31 taps = 461,280 MACs; weights 4·961 + BN 8 = 3,852
    assert OPS.get("dwconv").macs(t, hp) == 461_280 == _traced_macs(m, t)
    assert OPS.get("dwconv").params(t, hp) == 3_852
    x = torch.randn(t.shape(1))
    x2 = x.clone()
    x2[:, 1] += 1.0
    with torch.no_grad():
        diff = (m(x2) - m(x)).abs().amax(dim=(0, 2, 3))
    assert diff[1] > 0 and torch.all(diff[[0, 2, 3]] == 0)  # depthwise: channels never mix


def test_dwconv_is_a_token_mixer_at_stride_1_for_every_kernel_and_dilation() -> None:
    spec, t = OPS.get("dwconv"), TensorType.map(3, 7, 6)
    assert spec.token_mixer
    for k in spec.domain["kernel"]:
        for d in spec.domain["dilation"]:
            assert spec.out_type(t, spec.check(t, {"kernel": k, "dilation": d})) == t
    assert spec.out_type(t, spec.check(t, {"stride": 2})) == TensorType.map(3, 4, 3)


# -- hand-counted costs -------------------------------------------------------------------------------

def test_mbconv_with_se_hand_counted() -> None:
    # 16→24, expand 6 (mid 96), k5, stride 2, SE 0.25 (squeeze make_divisible(24, 8) = 24), 14×14 → 7×7:
    #   expand 14·14·16·96 = 301,056; DW 7·7·96·25 = 117,600; SE 96·24 + 24·96 = 4,608;
    #   project 7·7·96·24 = 112,896; total 536,160 MACs.
    #   params: 1,536 + 192 (BN) + 2,400 + 192 + (2,304 + 24 + 2,304 + 96) + 2,304 + 48 = 11,400.
    t = TensorType.map(16, 14, 14)
    hp_in = {"out": 24, "expand": 6, "kernel": 5, "stride": 2, "se": 0.25, "act": "hswish"}
    m, hp = _built("mbconv", t, hp_in)
    spec = OPS.get("mbconv")
    assert spec.macs(t, hp) == 536_160 == _traced_macs(m, t)
    assert spec.params(t, hp) == 11_400 == sum(p.numel() for p in m.parameters())
    assert spec.out_type(t, hp) == TensorType.map(24, 7, 7)


def test_resnet50_layer2_first_bottleneck_hand_counted() -> None:
    # torchvision resnet50.layer2[0]: 256→(128)→512, stride 2, 56×56 → 28×28:
    #   conv1 56·56·256·128 = 102,760,448; conv2 28·28·128·128·9 = 115,605,504;
    #   conv3 28·28·128·512 = 51,380,224; downsample 28·28·256·512 = 102,760,448; total 372,506,624.
    #   params 32,768 + 147,456 + 65,536 + 131,072 + BN 2·(128 + 128 + 512 + 512) = 379,392.
    t = TensorType.map(256, 56, 56)
    spec = OPS.get("resnet_bottleneck")
    hp = spec.check(t, {"out": 512, "mid": 128, "stride": 2})
    assert spec.macs(t, hp) == 372_506_624
    assert spec.params(t, hp) == 379_392
    assert spec.out_type(t, hp) == TensorType.map(512, 28, 28)


def test_resnet_basic_with_bottleneck_width_hand_counted() -> None:
    # TinyNAS ResKXKX 16→(8)→32, k3, stride 2, 8×8 → 4×4:
    #   conv1 4·4·16·8·9 = 18,432; conv2 4·4·8·32·9 = 36,864; downsample 4·4·16·32 = 8,192; total 63,488.
    #   params 1,152 + 2,304 + 512 + BN 2·(8 + 32 + 32) = 4,112.
    t = TensorType.map(16, 8, 8)
    m, hp = _built("resnet_basic", t, {"out": 32, "mid": 8, "stride": 2})
    spec = OPS.get("resnet_basic")
    assert spec.macs(t, hp) == 63_488 == _traced_macs(m, t)
    assert spec.params(t, hp) == 4_112 == sum(p.numel() for p in m.parameters())
    assert (m.conv1.out_channels, m.conv2.in_channels, m.conv2.out_channels) == (8, 8, 32)
    assert spec.out_type(t, hp) == TensorType.map(32, 4, 4)


def test_resnet_basic_mid_0_is_torchvision_basic_block() -> None:
    # torchvision resnet18.layer2[0]: 64→128, stride 2, 56×56 → 28×28; mid 0 and mid 128 are one block:
    #   conv1 28·28·64·128·9 = 57,802,752; conv2 28·28·128·128·9 = 115,605,504; downsample 6,422,528.
    #   params 73,728 + 147,456 + 8,192 + BN 2·(128 + 128 + 128) = 230,144.
    t = TensorType.map(64, 56, 56)
    spec = OPS.get("resnet_basic")
    default, explicit = spec.check(t, {"out": 128, "stride": 2}), spec.check(t, {"out": 128, "mid": 128, "stride": 2})
    assert default["mid"] == 0
    for hp in (default, explicit):
        assert spec.macs(t, hp) == 179_830_784
        assert spec.params(t, hp) == 230_144


def test_convnext_tiny_stage1_block_params() -> None:
    # timm convnext_tiny stages[0].blocks[0], C = 96: DW 96·49 + 96 = 4,800; LN 192;
    # fc1 96·384 + 384 = 37,248; fc2 384·96 + 96 = 36,960; gamma 96; total 79,296.
    assert OPS.get("convnext_block").params(TensorType.map(96, 56, 56), OPS.get("convnext_block").check(
        TensorType.map(96, 56, 56))) == 79_296


def test_bytes_count_every_sub_layer() -> None:
    # dwconv 4×5×5, k3, BN: conv reads 100, writes 100, weights 36; BN 100 + 100 + 8 → 444 elements
    dw = OPS.get("dwconv")
    t = TensorType.map(4, 5, 5)
    assert dw.bytes(t, dw.check(t), dtype_bytes=4) == 444 * 4
    # mbconv 2→2, expand 2 exact (mid 4), k3, ReLU, 2×2, residual. Read+write per sub-layer:
    #   expand 8+16, BN 16+16, act 16+16, DW 16+16, BN 16+16, act 16+16, project 16+8, BN 8+8, add 16+8 = 248;
    #   weights 8 + 8 + 36 + 8 + 8 + 4 = 72 → 320 elements.
    mb = OPS.get("mbconv")
    t = TensorType.map(2, 2, 2)
    assert mb.bytes(t, mb.check(t, {"out": 2, "expand": 2, "round_mid": False, "act": "relu"}), 2) == 320 * 2


# -- errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op,hp", [("mbconv", {"out": 16}), ("dwconv", {}), ("convnext_block", {}),
                                   ("resnet_basic", {"out": 16}), ("inception_dw", {})])
def test_sequence_input_is_rejected_naming_layer_op_and_types(op: str, hp: dict) -> None:
    with pytest.raises(TypeMismatchError) as e:
        resolve_layers(TensorType.seq(16, 4, 4), [("stage2.block1", op, hp)])
    assert str(e.value) == f"layer 'stage2.block1': operation '{op}' accepts map, got seq[16x16 grid 4x4]"


def test_bad_values_are_one_line_and_name_what_is_allowed() -> None:
    t = TensorType.map(8, 8, 8)
    with pytest.raises(NasError) as e:
        resolve_layers(t, [("b0", "mbconv", {"out": 8, "expand": 5})])
    assert str(e.value) == "layer 'b0': operation 'mbconv': expand=5 not allowed; allowed: (1, 2, 2.3, 2.5, 3, 4, 6)"
    allowed = r"\(3, 5, 7, 9, 11, 13, 17, 21, 27, 31\)"
    with pytest.raises(NasError, match=r"kernel=15 not allowed; allowed: " + allowed):
        resolve_layers(t, [("b0", "dwconv", {"kernel": 15})])
    with pytest.raises(NasError) as e:
        resolve_layers(TensorType.map(4, 8, 8), [("mixer", "inception_dw", {})])
    assert str(e.value) == ("layer 'mixer': inception_dw branch_ratio 0.125 leaves no channels per branch on "
                            "map[4x8x8]; needs at least 8 channels")
    assert "\n" not in str(e.value)


def test_squeeze_excite_width_from_the_block_input_or_the_expanded_width() -> None:
    """EfficientNet squeezes to round(C_in · 0.25); MobileNetV3 to make_divisible(mid · 0.25, 8)."""
    from nas.searchspace.ops.mbconv import se_width

    assert se_width(40, 240, 0.25, "efficientnet") == 10
    assert se_width(32, 32, 0.25, "efficientnet") == 8
    assert se_width(40, 240, 0.25, "mobilenetv3") == 64
    spec = OPS.get("mbconv")
    t = TensorType.map(40, 7, 7)
    eff = spec.check(t, {"out": 40, "expand": 6, "kernel": 5, "se": 0.25, "se_kind": "efficientnet", "act": "silu"})
    mb3 = eff.replace(se_kind="mobilenetv3")
    # the two SE 1×1 convs with bias: 240·sq + sq + sq·240 + 240
    assert spec.params(t, mb3) - spec.params(t, eff) == (2 * 240 + 1) * (64 - 10)


def test_darts_sep_and_dil_conv_by_hand() -> None:
    """DARTS at C = 16 on 8×8: sep_conv_3x3 = 2 × (dw 9·16 + pw 16·16 + BN 2·16) = 864 params,
    2 × 64 · (144 + 256) MACs; dil_conv_3x3 is one such stack (432) with a 5×5 receptive field."""
    spec, t = OPS.get("sep_conv"), TensorType.map(16, 8, 8)
    sep, dil = spec.check(t, {"out": 16}), spec.check(t, {"out": 16, "dilation": 2})
    assert (spec.params(t, sep), spec.macs(t, sep)) == (864, 2 * 64 * (144 + 256))
    assert (spec.params(t, dil), spec.macs(t, dil)) == (432, 64 * (144 + 256))
    assert spec.out_type(t, dil) == t and spec.out_type(t, sep.replace(stride=2)) == TensorType.map(16, 4, 4)
    assert spec.fan_ins(t, sep) == (9, 16, 9, 16)
