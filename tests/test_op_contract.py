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


# -- consumer hooks: what DeepMAD, the roofline, the lookup table and the analysis read off an op ---------
@pytest.mark.parametrize("name,i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_op_declares_what_every_consumer_needs(name: str, i: int) -> None:
    """Every registered op answers every hook (forgetting ``fan_ins`` fails here, not in a search)."""
    from nas.errors import NasError
    from nas.predictors.deepmad import fan_ins

    spec, t, hp, out = _case(name, i)
    # DeepMAD: positive fan-ins, or a one-line NasError saying why the op cannot be scored
    try:
        widths = spec.fan_ins(t, hp)
    except NasError as e:
        assert name in str(e)
        with pytest.raises(NasError, match="no entropy term"):
            fan_ins(name, t, hp)
    else:
        assert isinstance(widths, tuple) and all(w > 0 for w in widths)
        assert fan_ins(name, t, hp) == tuple(float(w) for w in widths)
    assert isinstance(spec.deepmad_block, bool)
    # roofline: the kernels carry exactly the op's MACs and weights
    kernels = spec.kernels(t, hp)
    assert sum(k.macs for k in kernels) == spec.macs(t, hp)
    assert sum(k.weights for k in kernels) == spec.params(t, hp)
    assert all(k.count >= 1 and k.act_elems >= 0 for k in kernels)
    assert kernels or spec.macs(t, hp) == spec.params(t, hp) == 0
    # lookup table and family histogram
    assert spec.latency_group(t, hp) in FAMILIES
    assert spec.variant(t, hp).split("/")[0] == name
    parts = spec.components(t, hp)
    assert parts and all(p in OPS for p in parts)
    # supernets: each stacked tensor is a parameter of the built module whose blocks fill its first axis
    params = dict(spec.build(t, hp).named_parameters())
    for tensor, blocks in spec.stacked(t, hp).items():
        assert tensor in params and len(blocks) >= 2 and all(b > 0 for b in blocks)
        assert sum(blocks) == params[tensor].shape[0]


@pytest.mark.parametrize("name,i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_op_trains_channels_last_with_the_same_output(name: str, i: int) -> None:
    """The trainer moves every model and image batch to channels-last: each op must run there (4-D
    parameters included) and give the NCHW output and gradients within 1e-5."""
    spec, t, hp, _ = _case(name, i)
    torch.manual_seed(0)
    module = spec.build(t, hp).train()
    x = torch.randn(t.shape(2), requires_grad=True)
    y = module(x)
    if not y.requires_grad:  # zero (and cells of zeros): no gradient path to compare
        y = y + 0 * x.sum()
    y.float().square().mean().backward()
    grads = [p.grad.clone() for p in module.parameters() if p.grad is not None]
    module.zero_grad(set_to_none=True)
    module.to(memory_format=torch.channels_last)
    xc = x.detach().contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x.detach().clone()
    xc.requires_grad_(True)
    yc = module(xc)
    if not yc.requires_grad:
        yc = yc + 0 * xc.sum()
    yc.float().square().mean().backward()
    assert torch.allclose(yc, y, atol=1e-5, rtol=1e-4)
    assert torch.allclose(xc.grad, x.grad, atol=1e-5, rtol=1e-3)
    for g, p in zip(grads, (p for p in module.parameters() if p.grad is not None), strict=True):
        assert torch.allclose(p.grad, g, atol=1e-5, rtol=1e-3)
