"""The torch modules behind the conv-family block ops (imported only when a module is built)."""

from __future__ import annotations

import torch
from torch import nn

from nas.searchspace.ops._layers import make_act


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1,
             groups: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return conv, nn.BatchNorm2d(c_out)


class SqueezeExcite(nn.Module):
    """x · gate(W2 · act(W1 · mean_hw(x) + b1) + b2): hard-sigmoid and ReLU (MobileNetV3 / OFA), or
    sigmoid and the block's activation (EfficientNet)."""

    def __init__(self, channels: int, squeeze: int, act: str = "relu", gate: str = "hsigmoid") -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.act = make_act(act)
        self.conv_expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = make_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.conv_expand(self.act(self.conv_reduce(s))))


class InvertedResidual(nn.Module):
    """MBConv: [1×1 expand BN act, when mid != c_in] → DW k×k BN act → [SE] → 1×1 project BN.

    Adds the input to the output when ``residual``; timm's names (conv_dw, bn2, se, conv_pwl, bn3).
    """

    def __init__(self, c_in: int, mid: int, c_out: int, kernel: int, stride: int, act: str, se: int,
                 residual: bool, se_kind: str = "mobilenetv3") -> None:
        super().__init__()
        self.expand = (nn.Sequential(*_conv_bn(c_in, mid, 1), make_act(act)) if mid != c_in
                       else nn.Identity())
        self.conv_dw, self.bn2 = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.act2 = make_act(act)
        se_acts = (act, "sigmoid") if se_kind == "efficientnet" else ("relu", "hsigmoid")
        self.se = SqueezeExcite(mid, se, *se_acts) if se else nn.Identity()
        self.conv_pwl, self.bn3 = _conv_bn(mid, c_out, 1)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.act2(self.bn2(self.conv_dw(self.expand(x)))))
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.residual else y

    def last_branch_norm(self) -> nn.Module | None:
        """The norm closing the residual branch (the trainer zero-initialises it); None without a residual."""
        return self.bn3 if self.residual else None


def _downsample(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """ResNet basic block (mid = c_out) or TinyNAS's ResKXKX (another mid); torchvision's names
    (conv1, bn1, relu, conv2, bn2, downsample)."""

    def __init__(self, c_in: int, mid: int, c_out: int, kernel: int, stride: int, project: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(c_in, mid, kernel, stride)
        self.relu = nn.ReLU()
        self.conv2, self.bn2 = _conv_bn(mid, c_out, kernel)
        self.downsample = _downsample(c_in, c_out, stride) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    def last_branch_norm(self) -> nn.Module:
        return self.bn2


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck; torchvision's names (conv1..3, bn1..3, relu, downsample)."""

    def __init__(self, c_in: int, mid: int, c_out: int, kernel: int, stride: int, project: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(c_in, mid, 1)
        self.conv2, self.bn2 = _conv_bn(mid, mid, kernel, stride)
        self.conv3, self.bn3 = _conv_bn(mid, c_out, 1)
        self.relu = nn.ReLU()
        self.downsample = _downsample(c_in, c_out, stride) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))

    def last_branch_norm(self) -> nn.Module:
        return self.bn3


class _Mlp(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ConvNeXtBlockModule(nn.Module):
    """ConvNeXt block with timm's names (conv_dw, norm, mlp.fc1, mlp.fc2, gamma); gamma starts at 1e-6."""

    def __init__(self, channels: int, kernel: int, hidden: int, layer_scale: bool) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=True)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = _Mlp(channels, hidden)
        self.gamma = nn.Parameter(torch.full((channels,), 1e-6)) if layer_scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1)))
        if self.gamma is not None:
            y = y * self.gamma
        return x + y.permute(0, 3, 1, 2)


class InceptionDWModule(nn.Module):
    """[identity | DW ks×ks | DW 1×kb | DW kb×1] on channel slices, concatenated (InceptionNeXt)."""

    def __init__(self, channels: int, branch: int, square_kernel: int, band_kernel: int) -> None:
        super().__init__()
        g, kb = branch, band_kernel
        self.dwconv_hw = nn.Conv2d(g, g, square_kernel, padding=square_kernel // 2, groups=g)
        self.dwconv_w = nn.Conv2d(g, g, (1, kb), padding=(0, kb // 2), groups=g)
        self.dwconv_h = nn.Conv2d(g, g, (kb, 1), padding=(kb // 2, 0), groups=g)
        self.split = (channels - 3 * g, g, g, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, self.split, dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)
