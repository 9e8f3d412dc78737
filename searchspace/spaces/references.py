"""Reference networks by name: ``resnet18``, ``resnet50``, ``mobilenetv2_100``, ``convnext_tiny``.

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


for _fn in (resnet18, resnet50, mobilenetv2_100, convnext_tiny):
    REFERENCES.add(_fn.__name__, _fn)
