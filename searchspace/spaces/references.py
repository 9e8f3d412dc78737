"""Reference networks by name: ``resnet18``, ``resnet50``, ``mobilenetv2_100``, ``convnext_tiny``,
``efficientnet_b0``, ``mobilenetv3_large_100``, ``deit_tiny``, ``swin_tiny``.

Each builder maps (input type, classes) to a NetSpec made of registered ops, layer for layer as the
torchvision / timm model, so the analytic params equal the library model's parameter count.
"""

from __future__ import annotations

from typing import Any

from nas.searchspace.netspec import NetSpec, resolve_layers
from nas.searchspace.reference import REFERENCES
from nas.searchspace.tensor_type import TensorType

Layers = list[tuple[str, str, dict[str, Any]]]


def _resnet(input: TensorType, num_classes: int, name: str, block: str, depths: tuple[int, ...]) -> NetSpec:
    layers: Layers = [("stem", "stem", {"out": 64, "kernel": 7, "stride": 2, "norm": "bn", "act": "relu",
                                        "pool": True})]
    for s, (depth, planes) in enumerate(zip(depths, (64, 128, 256, 512)), start=1):
        for b in range(1, depth + 1):
            hp: dict[str, Any] = {"out": planes, "kernel": 3, "stride": 2 if s > 1 and b == 1 else 1}
            if block == "resnet_bottleneck":
                hp.update(out=4 * planes, mid=planes)
            layers.append((f"layer{s}.{b}", block, hp))
    layers.append(("head", "head", {"classes": num_classes, "hidden": 0, "norm": "none"}))
    return resolve_layers(input, layers, name=name, meta={"reference": name})


def resnet18(input: TensorType, num_classes: int) -> NetSpec:
    """ResNet-18 (torchvision): 7×7/2 stem + max-pool, BasicBlocks (2, 2, 2, 2), pool + Linear."""
    return _resnet(input, num_classes, "resnet18", "resnet_basic", (2, 2, 2, 2))


def resnet50(input: TensorType, num_classes: int) -> NetSpec:
    """ResNet-50 v1.5 (torchvision): 7×7/2 stem + max-pool, Bottlenecks (3, 4, 6, 3), pool + Linear."""
    return _resnet(input, num_classes, "resnet50", "resnet_bottleneck", (3, 4, 6, 3))


#: MobileNetV2's inverted-residual settings (expansion t, out channels c, repeats n, first stride s).
MOBILENETV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenetv2_100(input: TensorType, num_classes: int) -> NetSpec:
    """MobileNetV2 1.0 (torchvision / timm): stem 3×3/2 32 ReLU6, 17 mbconv blocks, 1×1 to 1280, pool + Linear."""
    layers: Layers = [("stem", "stem", {"out": 32, "kernel": 3, "stride": 2, "norm": "bn", "act": "relu6",
                                        "pool": False})]
    i = 0
    for t, c, n, s in MOBILENETV2_SETTINGS:
        for b in range(n):
            layers.append((f"blocks.{i}", "mbconv", {"out": c, "expand": t, "kernel": 3, "stride": s if b == 0 else 1,
                                                     "se": 0, "act": "relu6", "round_mid": False}))
            i += 1
    layers += [("conv_head", "conv", {"out": 1280, "kernel": 1, "norm": True, "act": "relu6"}),
               ("head", "head", {"classes": num_classes, "hidden": 0, "norm": "none"})]
    return resolve_layers(input, layers, name="mobilenetv2_100", meta={"reference": "mobilenetv2_100"})


def convnext_tiny(input: TensorType, num_classes: int) -> NetSpec:
    """ConvNeXt-T (timm): 4×4/4 stem + LN, blocks (3, 3, 9, 3) at (96, 192, 384, 768), LN + 2×2/2 conv
    downsampling, head pool + LN + Linear."""
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    layers: Layers = [("stem", "stem", {"out": dims[0], "kernel": 4, "stride": 4, "norm": "ln", "act": "none",
                                        "bias": True, "pool": False})]
    for s, (dim, depth) in enumerate(zip(dims, depths)):
        if s:
            layers.append((f"stages.{s}.downsample", "downsample", {"out": dim, "kind": "patch"}))
        layers += [(f"stages.{s}.{b}", "convnext_block", {"kernel": 7, "mlp_ratio": 4, "layer_scale": True})
                   for b in range(depth)]
    layers.append(("head", "head", {"classes": num_classes, "hidden": 0, "norm": "ln"}))
    return resolve_layers(input, layers, name="convnext_tiny", meta={"reference": "convnext_tiny"})


#: EfficientNet-B0 stages (expansion, kernel, first stride, out channels, repeats)
EFFICIENTNET_B0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def efficientnet_b0(input: TensorType, num_classes: int) -> NetSpec:
    """EfficientNet-B0 (timm): stem 3×3/2 32 SiLU, 16 MBConv blocks with SE 0.25 of the block input
    (SiLU inside, sigmoid gate), 1×1 to 1280 SiLU, pool + Linear."""
    layers: Layers = [("conv_stem", "stem", {"out": 32, "kernel": 3, "stride": 2, "act": "silu"})]
    i = 0
    for expand, kernel, stride, out, repeats in EFFICIENTNET_B0_STAGES:
        for r in range(repeats):
            layers.append((f"blocks.{i}", "mbconv", {"out": out, "expand": expand, "kernel": kernel,
                                                     "stride": stride if r == 0 else 1, "se": 0.25,
                                                     "se_kind": "efficientnet", "act": "silu", "round_mid": True}))
            i += 1
    layers += [("conv_head", "conv", {"out": 1280, "kernel": 1, "norm": True, "act": "silu"}),
               ("classifier", "head", {"classes": num_classes})]
    return resolve_layers(input, layers, name="efficientnet_b0", meta={"reference": "efficientnet_b0"})


#: MobileNetV3-Large blocks (expansion, kernel, stride, out channels, SE, activation), timm's arch_def
MOBILENETV3_LARGE_BLOCKS = (
    (1, 3, 1, 16, 0, "relu"), (4, 3, 2, 24, 0, "relu"), (3, 3, 1, 24, 0, "relu"),
    (3, 5, 2, 40, 0.25, "relu"), (3, 5, 1, 40, 0.25, "relu"), (3, 5, 1, 40, 0.25, "relu"),
    (6, 3, 2, 80, 0, "hswish"), (2.5, 3, 1, 80, 0, "hswish"), (2.3, 3, 1, 80, 0, "hswish"),
    (2.3, 3, 1, 80, 0, "hswish"), (6, 3, 1, 112, 0.25, "hswish"), (6, 3, 1, 112, 0.25, "hswish"),
    (6, 5, 2, 160, 0.25, "hswish"), (6, 5, 1, 160, 0.25, "hswish"), (6, 5, 1, 160, 0.25, "hswish"))


def mobilenetv3_large_100(input: TensorType, num_classes: int) -> NetSpec:
    """MobileNetV3-Large 1.0 (timm): stem 3×3/2 16 hard-swish, 15 MBConv blocks (SE on the expanded
    width, ReLU inside, hard-sigmoid gate), 1×1 to 960 hard-swish, pool → Linear 960→1280 hard-swish →
    Linear."""
    layers: Layers = [("conv_stem", "stem", {"out": 16, "kernel": 3, "stride": 2, "act": "hswish"})]
    for i, (expand, kernel, stride, out, se, act) in enumerate(MOBILENETV3_LARGE_BLOCKS):
        layers.append((f"blocks.{i}", "mbconv", {"out": out, "expand": expand, "kernel": kernel, "stride": stride,
                                                 "se": se, "act": act, "round_mid": True}))
    layers += [("conv_head", "conv", {"out": 960, "kernel": 1, "norm": True, "act": "hswish"}),
               ("classifier", "head", {"classes": num_classes, "hidden": 1280, "act": "hswish"})]
    return resolve_layers(input, layers, name="mobilenetv3_large_100",
                          meta={"reference": "mobilenetv3_large_100"})


def deit_tiny(input: TensorType, num_classes: int) -> NetSpec:
    """DeiT-Tiny/16 (timm ``deit_tiny_patch16_224``): 16×16 patches to 192, class token and position
    embedding, 12 pre-norm blocks (3-head attention, MLP ×4), LayerNorm, class-token head."""
    layers: Layers = [("patch_embed", "patch_embed", {"dim": 192, "patch": 16, "norm": False, "cls_token": True,
                                                      "pos_embed": True})]
    layers += [(f"blocks.{i}", "metaformer", {"mixer": "mhsa", "mixer_hp": {"heads": 3}, "mlp_ratio": 4})
               for i in range(12)]
    layers.append(("head", "head", {"classes": num_classes, "norm": "ln", "pool": "cls"}))
    return resolve_layers(input, layers, name="deit_tiny", meta={"reference": "deit_tiny"})


def swin_tiny(input: TensorType, num_classes: int) -> NetSpec:
    """Swin-T (timm ``swin_tiny_patch4_window7_224``): 4×4 patches to 96 + LayerNorm, stages (2, 2, 6, 2)
    at (96, 192, 384, 768) with (3, 6, 12, 24) heads, 7×7 windows with relative position bias, every
    second block shifted, patch merging between stages, head LayerNorm + pool + Linear."""
    dims, depths, heads = (96, 192, 384, 768), (2, 2, 6, 2), (3, 6, 12, 24)
    layers: Layers = [("patch_embed", "patch_embed", {"dim": dims[0], "patch": 4, "norm": True})]
    for s, (dim, depth, h) in enumerate(zip(dims, depths, heads)):
        if s:
            layers.append((f"layers.{s}.downsample", "downsample", {"out": dim, "kind": "merge"}))
        layers += [(f"layers.{s}.blocks.{b}", "metaformer",
                    {"mixer": "window_attention", "mlp_ratio": 4,
                     "mixer_hp": {"window": 7, "heads": h, "rel_pos": True, "shift": b % 2 == 1}})
                   for b in range(depth)]
    layers.append(("head", "head", {"classes": num_classes, "norm": "ln"}))
    return resolve_layers(input, layers, name="swin_tiny", meta={"reference": "swin_tiny"})


for _fn in (resnet18, resnet50, mobilenetv2_100, convnext_tiny, efficientnet_b0, mobilenetv3_large_100,
            deit_tiny, swin_tiny):
    REFERENCES.add(_fn.__name__, _fn)
