"""Conformance check every registered search space must pass: its samples are members, resolve,
build at tiny width and run a forward pass to the class logits with the analytic parameter count."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from nas.hw_models.analytic import analytic_costs
from nas.searchspace import Architecture, NetSpec, TensorType, get_space, resolve_layers
from nas.searchspace.space import SearchSpace

#: built networks keep every op and hyper-parameter of the sample but 1/TINY of its widths and 10 classes
TINY = 4
WIDTH_KEYS = ("out", "mid", "dim", "hidden")


def small_input(space: SearchSpace) -> TensorType:
    """A small input of the space's channels: 32² for spaces of ≤ 32² inputs, else 64²."""
    side = 32 if space.input.height <= 32 else 64
    return TensorType.map(space.input.channels, side, side)


def tiny_spec(space: SearchSpace, arch: Architecture, inp: TensorType) -> NetSpec:
    """``arch`` resolved at full width (as a search sees it), then rebuilt layer for layer with every width
    hyper-parameter divided by ``TINY`` and at most 10 classes: the same ops, kernels, strides, depths,
    expansions, mixers and heads, in a module a few hundred times cheaper to build and run."""
    space.resolve(arch, inp)
    layers = []
    for name, op, hp in space.layers(arch.genes, inp):
        hp = dict(hp)
        for k in WIDTH_KEYS:
            if hp.get(k):
                hp[k] = max(1, hp[k] // TINY)
        if "classes" in hp:
            hp["classes"] = min(hp["classes"], 10)
        layers.append((name, op, hp))
    return resolve_layers(inp, layers, name=f"{arch.space}:tiny")


def run_forward(spec: NetSpec, count: bool = False) -> tuple[int, int, tuple[int, ...]]:
    """Build ``spec`` with real weights and run one batch-1 forward pass (finite outputs asserted).

    Returns (params, traced MACs or -1, output shape).
    """
    module = spec.build().eval()
    params = sum(p.numel() for p in module.parameters())
    with FlopCounterMode(display=False) if count else nullcontext() as counter, torch.no_grad():
        y = module(torch.randn(spec.input.shape(1)))
    assert torch.isfinite(y).all(), spec.name
    return params, counter.get_total_flops() // 2 if count else -1, tuple(y.shape)


def check_space(name: str, samples: int = 8, seed: int = 0) -> None:
    """``samples`` seeded samples of the registered space ``name`` are members of it, resolve at full
    width, build at tiny width with the analytic parameter count and run to ``min(classes, 10)`` logits."""
    space = get_space(name)
    rng = np.random.default_rng(seed)
    inp = small_input(space)
    torch.manual_seed(seed)
    for _ in range(samples):
        a = space.sample(rng)
        assert space.contains(a), f"{name}: a sample is not a member: {a}"
        spec = tiny_spec(space, a, inp)
        params, _, shape = run_forward(spec)
        classes = min(space.num_classes, 10)
        assert shape == (1, classes) and spec.output.channels == classes, f"{name}: output {shape} for {a}"
        assert params == analytic_costs(spec).params, f"{name}: built params differ from the analytic count: {a}"
