"""Adapters: ``stem``, ``patch_embed``, ``map_to_seq``, ``seq_to_map``, ``downsample`` and ``head``."""

from __future__ import annotations

from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OpSpec, register_op
from nas.searchspace.ops._formulas import conv_out
from nas.searchspace.ops._parts import Part, PartsOp, conv, eltwise, linear, norm
from nas.searchspace.tensor_type import Layout, TensorType

CHANNELS = range(1, 1 << 16)
CLASSES = range(1, 1 << 20)


def stem_padding(kernel: int) -> int:
    """k//2 for an odd kernel, 0 for an even one (a patchify stem such as ConvNeXt's 4×4/4)."""
    return kernel // 2 if kernel % 2 else 0


@register_op("stem")
class Stem(PartsOp):
    """The network's first layer: k×k conv at stride s (padding k//2 for odd k, 0 for even k, bias
    optional) → norm → act, then optionally ResNet's 3×3/2 max-pool (padding 1).

    ``norm`` is "bn" (BatchNorm), "ln" (LayerNorm over channels, ConvNeXt's stem) or "none".
    ConvNeXt-T: stem(out=96, kernel=4, stride=4, bias=True, norm="ln", act="none");
    ResNet: stem(out=64, kernel=7, stride=2, pool=True); EfficientNet: act="silu"; MobileNetV3: "hswish".
    """

    family = "adapter"
    accepts = (Layout.MAP,)
    elastic = ("out",)
    domain = {"out": CHANNELS, "kernel": (3, 4, 7), "stride": (1, 2, 4), "norm": ("bn", "ln", "none"),
              "act": ("relu", "relu6", "hswish", "silu", "gelu", "none"), "pool": (False, True),
              "bias": (False, True)}
    defaults = {"kernel": 3, "stride": 2, "norm": "bn", "act": "relu", "pool": False, "bias": False}

    def _conv_type(self, t: TensorType, hp: HParams) -> TensorType:
        k, s = hp["kernel"], hp["stride"]
        h, w = (conv_out(x, k, s, stem_padding(k)) for x in (t.height, t.width))
        if h <= 0 or w <= 0:
            raise NasError(f"stem kernel={k} stride={s} leaves no output on {t}")
        return TensorType.map(hp["out"], h, w)

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        c = self._conv_type(t, hp)
        if not hp["pool"]:
            return c
        return TensorType.map(c.channels, conv_out(c.height, 3, 2, 1), conv_out(c.width, 3, 2, 1))

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c = self._conv_type(t, hp)
        parts = [conv(t.channels, c.channels, c.height, c.width, hp["kernel"], h_in=t.height, w_in=t.width,
                      bias=hp["bias"])]
        if hp["norm"] != "none":
            parts.append(norm(c.channels, c.tokens))
        if hp["act"] != "none":
            parts.append(eltwise(c.numel))
        if hp["pool"]:
            parts.append(Part(c.numel, self.out_type(t, hp).numel))
        return parts

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        from nas.searchspace.ops._layers import ChannelsLastLayerNorm, make_act

        k, out = hp["kernel"], hp["out"]
        layers: list[nn.Module] = [nn.Conv2d(t.channels, out, k, hp["stride"], stem_padding(k), bias=hp["bias"])]
        if hp["norm"] == "bn":
            layers.append(nn.BatchNorm2d(out))
        elif hp["norm"] == "ln":
            layers.append(ChannelsLastLayerNorm(out))
        if hp["act"] != "none":
            layers.append(make_act(hp["act"]))
        if hp["pool"]:
            layers.append(nn.MaxPool2d(3, 2, 1))
        return nn.Sequential(*layers)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels * hp["kernel"] ** 2,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 16, 16), {"out": 8, "kernel": 7, "stride": 2, "pool": True}),
                (TensorType.map(3, 12, 12), {"out": 6, "kernel": 4, "stride": 4, "bias": True, "norm": "ln",
                                              "act": "none"}),
                (TensorType.map(2, 9, 7), {"out": 4, "kernel": 3, "stride": 1, "norm": "none", "act": "hswish"})]


@register_op("patch_embed")
class PatchEmbed(PartsOp):
    """Map → sequence: non-overlapping p×p conv at stride p (with bias) to ``dim`` channels, flattened
    to H/p·W/p tokens (grid kept), then LayerNorm over D when ``norm``. H and W must be divisible by p.

    ``cls_token`` prepends a learned class token (ViT / DeiT): the sequence then has H/p·W/p + 1 tokens
    and no grid any more (it is typed as a 1×(N+1) sequence, so window attention and ``seq_to_map``
    reject it); ``pos_embed`` adds a learned position embedding, one D-vector per output token.
    """

    family = "adapter"
    accepts = (Layout.MAP,)
    domain = {"dim": CHANNELS, "patch": (2, 4, 7, 8, 14, 16), "norm": (True, False), "cls_token": (False, True),
              "pos_embed": (False, True)}
    defaults = {"norm": True, "cls_token": False, "pos_embed": False}

    def _grid(self, t: TensorType, hp: HParams) -> TensorType:
        p = hp["patch"]
        if t.height % p or t.width % p:
            raise NasError(f"patch_embed patch={p} must divide H={t.height} and W={t.width} of {t}")
        return TensorType.seq(hp["dim"], t.height // p, t.width // p)

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        g = self._grid(t, hp)
        return TensorType.seq(g.channels, 1, g.tokens + 1) if hp["cls_token"] else g

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        g, o = self._grid(t, hp), self.out_type(t, hp)
        parts = [conv(t.channels, o.channels, g.height, g.width, hp["patch"], h_in=t.height, w_in=t.width,
                      bias=True)]
        if hp["norm"]:
            parts.append(norm(o.channels, g.tokens))
        if hp["cls_token"]:
            parts.append(Part(g.numel, o.numel, 0, o.channels))         # concatenate the class token
        if hp["pos_embed"]:
            parts.append(eltwise(o.numel, extra_reads=o.numel, params=o.numel))
        return parts

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        from nas.searchspace.ops._pf_modules import SeqLayerNorm, TokenEmbed

        p, d = hp["patch"], hp["dim"]
        if hp["cls_token"] or hp["pos_embed"]:
            return TokenEmbed(t.channels, d, p, hp["norm"], hp["cls_token"],
                              self.out_type(t, hp).tokens if hp["pos_embed"] else 0)
        return nn.Sequential(nn.Conv2d(t.channels, d, p, p), SeqLayerNorm(d, hp["norm"]))

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels * hp["patch"] ** 2,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 8, 8), {"dim": 6, "patch": 4}),
                (TensorType.map(2, 14, 7), {"dim": 5, "patch": 7, "norm": False}),
                (TensorType.map(3, 4, 6), {"dim": 4, "patch": 2}),
                (TensorType.map(3, 8, 4), {"dim": 6, "patch": 4, "norm": False, "cls_token": True, "pos_embed": True}),
                (TensorType.map(2, 4, 4), {"dim": 3, "patch": 2, "cls_token": True})]


@register_op("map_to_seq")
class MapToSeq(OpSpec):
    """Map B×C×H×W → sequence B×(H·W)×C with the grid kept. 0 MACs, 0 params; charged as one copy."""

    family = "adapter"
    accepts = (Layout.MAP,)
    domain: dict[str, Any] = {}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return TensorType.seq(t.channels, t.height, t.width)

    def macs(self, t: TensorType, hp: HParams) -> int:
        return 0

    def params(self, t: TensorType, hp: HParams) -> int:
        return 0

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._layers import MapToSeq as Module

        return Module()

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 1

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 4, 5), {}), (TensorType.map(2, 1, 1), {})]


@register_op("seq_to_map")
class SeqToMap(OpSpec):
    """Sequence B×N×D → map B×D×H×W on the sequence's grid. 0 MACs, 0 params; charged as one copy."""

    family = "adapter"
    accepts = (Layout.SEQ,)
    domain: dict[str, Any] = {}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        return TensorType.map(t.channels, t.height, t.width)

    def macs(self, t: TensorType, hp: HParams) -> int:
        return 0

    def params(self, t: TensorType, hp: HParams) -> int:
        return 0

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._layers import SeqToMap as Module

        return Module(t.height, t.width)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return ()

    def launches(self, t: TensorType, hp: HParams) -> int:
        return 1

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.seq(3, 4, 5), {}), (TensorType.seq(2, 3, 1), {})]


@register_op("downsample")
class Downsample(PartsOp):
    """Halve H and W (both must be even) and set the channels to ``out``. ``kind``:

    - "conv": 3×3 stride-2 conv (padding 1, no bias) → BatchNorm;
    - "patch": LayerNorm over channels → 2×2 stride-2 conv with bias (ConvNeXt's downsample layers);
    - "pool": 2×2 stride-2 average pool → 1×1 conv (no bias) → BatchNorm;
    - "merge": Swin's patch merging: each 2×2 neighbourhood stacked to 4·C channels → LayerNorm over
      them → Linear 4·C → ``out`` without bias (a 1×1 conv on the stacked map).

    A sequence is downsampled through its grid (viewed as a map, same op, flattened back to a sequence
    on the halved grid), so a space needs no adapters around it; costs are the same for both layouts.
    """

    family = "adapter"
    accepts = (Layout.MAP, Layout.SEQ)
    elastic = ("in", "out")
    domain = {"out": CHANNELS, "kind": ("conv", "patch", "pool", "merge")}
    defaults = {"kind": "conv"}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        if t.height % 2 or t.width % 2:
            raise NasError(f"downsample halves H and W: both must be even, got H={t.height} W={t.width} of {t}")
        return TensorType(t.layout, hp["out"], t.height // 2, t.width // 2)

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        o = self.out_type(t, hp)
        c, out, h, w = t.channels, o.channels, o.height, o.width
        kind = hp["kind"]
        if kind == "conv":
            return [conv(c, out, h, w, 3, h_in=t.height, w_in=t.width), norm(out, h * w)]
        if kind == "patch":
            return [norm(c, t.tokens), conv(c, out, h, w, 2, h_in=t.height, w_in=t.width, bias=True)]
        if kind == "merge":
            return [Part(t.numel, t.numel), norm(4 * c, h * w), conv(4 * c, out, h, w, 1, h_in=h, w_in=w)]
        return [Part(t.numel, c * h * w), conv(c, out, h, w, 1, h_in=h, w_in=w), norm(out, h * w)]

    def build(self, t: TensorType, hp: HParams):
        from torch import nn

        from nas.searchspace.ops._layers import ChannelsLastLayerNorm
        from nas.searchspace.ops._pf_modules import OnGrid

        c, out, kind = t.channels, hp["out"], hp["kind"]
        if kind == "conv":
            module = nn.Sequential(nn.Conv2d(c, out, 3, 2, 1, bias=False), nn.BatchNorm2d(out))
        elif kind == "patch":
            module = nn.Sequential(ChannelsLastLayerNorm(c), nn.Conv2d(c, out, 2, 2))
        elif kind == "merge":
            module = nn.Sequential(nn.PixelUnshuffle(2), ChannelsLastLayerNorm(4 * c, eps=1e-5),
                                   nn.Conv2d(4 * c, out, 1, bias=False))
        else:
            module = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out))
        return module if t.layout is Layout.MAP else OnGrid(module, t.height, t.width)

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        # "pool" averages (no width), then 1×1; "merge" stacks 2×2 positions, then a 1×1 on 4·C
        kernel = {"conv": 3, "patch": 2, "pool": 1, "merge": 2}[hp["kind"]]
        return (t.channels * kernel ** 2,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(3, 6, 8), {"out": 5}),
                (TensorType.map(4, 4, 4), {"out": 8, "kind": "patch"}),
                (TensorType.map(3, 6, 2), {"out": 4, "kind": "pool"}),
                (TensorType.seq(4, 4, 6), {"out": 6, "kind": "patch"}),
                (TensorType.seq(3, 4, 6), {"out": 6, "kind": "merge"})]


@register_op("head")
class Head(PartsOp):
    """Map or sequence → vector of ``classes`` logits: global average pool over positions (``pool`` =
    "avg"), or the class token of a sequence (``pool`` = "cls", ViT / DeiT) →
    [Linear to ``hidden`` with bias → ``act``] when hidden > 0 (MobileNetV3's 960→1280 hswish layer) →
    [LayerNorm] when norm = "ln" (ConvNeXt's head norm) → Linear to ``classes`` with bias.
    """

    family = "adapter"
    accepts = (Layout.MAP, Layout.SEQ)
    elastic = ("in",)
    domain = {"classes": CLASSES, "hidden": range(1 << 16), "norm": ("none", "ln"),
              "act": ("relu", "hswish", "gelu", "none"), "pool": ("avg", "cls")}
    defaults = {"hidden": 0, "norm": "none", "act": "relu", "pool": "avg"}

    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        if hp["pool"] == "cls" and t.layout is not Layout.SEQ:
            raise NasError(f"head pool='cls' takes the class token of a sequence, got {t}")
        return TensorType.vec(hp["classes"])

    def parts(self, t: TensorType, hp: HParams) -> list[Part]:
        c, hidden = t.channels, hp["hidden"]
        parts = [Part(t.numel if hp["pool"] == "avg" else c, c)]
        if hidden:
            parts.append(linear(1, c, hidden))
            if hp["act"] != "none":
                parts.append(eltwise(hidden))
        d = hidden or c
        if hp["norm"] == "ln":
            parts.append(norm(d, 1))
        parts.append(linear(1, d, hp["classes"]))
        return parts

    def build(self, t: TensorType, hp: HParams):
        from nas.searchspace.ops._layers import make_act
        from nas.searchspace.ops._pf_modules import Head as Module

        return Module(t.channels, hp["hidden"], make_act(hp["act"]), hp["norm"] == "ln", hp["classes"],
                      seq=t.layout is Layout.SEQ, cls=hp["pool"] == "cls")

    def fan_ins(self, t: TensorType, hp: HParams) -> tuple[float, ...]:
        return (t.channels, hp["hidden"]) if hp["hidden"] else (t.channels,)

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        return [(TensorType.map(6, 3, 3), {"classes": 5}),
                (TensorType.map(6, 2, 3), {"classes": 4, "hidden": 9, "act": "hswish"}),
                (TensorType.seq(8, 2, 2), {"classes": 3, "norm": "ln"}),
                (TensorType.seq(4, 3, 1), {"classes": 2, "hidden": 5, "norm": "ln", "act": "none"}),
                (TensorType.seq(6, 1, 5), {"classes": 3, "norm": "ln", "pool": "cls"})]
