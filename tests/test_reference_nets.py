"""Reference networks: MACs and params against the published values, and against the built modules."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas.errors import NasError
from nas.hw_models.analytic import analytic_costs
from nas.searchspace import TensorType
from nas.searchspace.reference import REFERENCES, reference_net

# name: (exact MACs, exact params at 3×224×224 / 1000 classes, published MACs, rel tol, published params, rel tol)
EXPECTED = {
    "resnet18": (1_814_073_344, 11_689_512, 1.82e9, 0.01, 11.69e6, 0.001),
    "resnet50": (4_089_184_256, 25_557_032, 4.1e9, 0.01, 25.56e6, 0.001),
    "mobilenetv2_100": (300_774_272, 3_504_872, 300e6, 0.02, 3.50e6, 0.01),
    "convnext_tiny": (4_455_531_264, 28_589_128, 4.47e9, 0.02, 28.6e6, 0.005),
    # published: timm's model cards (GMACs, params); params equal timm's parameter counts exactly
    "efficientnet_b0": (385_814_752, 5_288_548, 0.39e9, 0.02, 5.29e6, 0.005),
    "mobilenetv3_large_100": (216_589_760, 5_483_032, 219e6, 0.02, 5.48e6, 0.005),
    "deit_tiny": (1_253_683_200, 5_717_416, 1.26e9, 0.02, 5.72e6, 0.005),
    "swin_tiny": (4_490_566_656, 28_288_354, 4.5e9, 0.02, 28.29e6, 0.005),
}
#: parity input per network: 224² where a CPU forward is quick (and for DeiT, whose position embedding
#: is sized for 196 + 1 tokens, and Swin, whose 7×7 windows need it), 64² for
#: the larger ones
PARITY_SIDE = {"resnet18": 224, "mobilenetv2_100": 224, "resnet50": 64, "convnext_tiny": 64,
               "efficientnet_b0": 224, "mobilenetv3_large_100": 224, "deit_tiny": 224, "swin_tiny": 224}


def test_registered() -> None:
    assert set(EXPECTED) <= set(REFERENCES.names())
    with pytest.raises(NasError, match="unknown reference network 'resnet51'"):
        REFERENCES.get("resnet51")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_costs_match_published(name: str) -> None:
    macs, params, pub_macs, tol_macs, pub_params, tol_params = EXPECTED[name]
    spec = reference_net(name)
    c = analytic_costs(spec)
    assert (c.flops, c.params) == (macs, params)
    assert c.flops == pytest.approx(pub_macs, rel=tol_macs)
    assert c.params == pytest.approx(pub_params, rel=tol_params)
    assert spec.output == TensorType.vec(1000)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_built_module_matches_analytic(name: str) -> None:
    side = PARITY_SIDE[name]
    spec = reference_net(name, TensorType.map(3, side, side))
    c = analytic_costs(spec)
    torch.manual_seed(0)
    module = spec.build().eval()
    assert sum(p.numel() for p in module.parameters()) == c.params == EXPECTED[name][1]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = module(torch.randn(1, 3, side, side))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()
    uncounted = sum(layer.spec.uncounted_macs(layer.in_type, layer.hp) for layer in spec.layers)  # SDPA
    assert counter.get_total_flops() == 2 * (c.flops - uncounted)


def test_num_classes_changes_only_the_classifier() -> None:
    a, b = reference_net("resnet50", num_classes=1000), reference_net("resnet50", num_classes=10)
    assert analytic_costs(a).params - analytic_costs(b).params == 2048 * 990 + 990
