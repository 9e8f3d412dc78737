"""The contract every registered operation meets (one test file checks them all, as timm does)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas.searchspace import FAMILIES, OPS

CASES = [(name, i) for name, spec in OPS.items() for i in range(len(spec.examples()))]


def _case(name: str, i: int):
    spec = OPS.get(name)
    t, hp = spec.examples()[i]
    full, out = spec.resolve(t, hp)
    return spec, t, full, out


def test_registry_has_every_family() -> None:
    families = {spec.family for _, spec in OPS.items()}
    assert families == set(FAMILIES)


@pytest.mark.parametrize("name,i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_shape_params_and_macs_match_torch(name: str, i: int) -> None:
    spec, t, hp, out = _case(name, i)
    torch.manual_seed(0)
    module = spec.build(t, hp).eval()
    x = torch.randn(t.shape(2))
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape) == out.shape(2)
    assert sum(p.numel() for p in module.parameters()) == spec.params(t, hp)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(t.shape(1)))
    total = counter.get_total_flops()
    assert total % 2 == 0
    assert spec.macs(t, hp) - spec.uncounted_macs(t, hp) == total // 2
    assert spec.bytes(t, hp) >= (t.numel + out.numel) * 4
