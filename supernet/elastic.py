"""Elastic layer positions: one module per position of a supernet, holding max-size weights.

A position sees every (input type, hyper-parameters) *case* an architecture of the space can put there.
The generic builder (``SlicedPosition``) groups the cases by what the op's ``OpSpec.elastic`` declaration
does not let vary (plus the set of parameter names the op builds), keeps one max-size weight set per
group, and runs a case by calling the op's own module (``OpSpec.build``) functionally with weights sliced
from the max-size tensors: channels take a prefix, kernels the centre (Once-for-All's scheme), and a
fused projection (``OpSpec.stacked``: q/k/v in one Linear) takes each block's prefix. So the
forward pass *is* the plain module's and ``extract`` only copies slices. Ops whose structure changes with
a hyper-parameter in a way slicing cannot express register their own builder in ``ELASTIC`` (the
NAS-Bench-201 cell, one weight set per edge and op).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer
from nas.searchspace.op_spec import OPS, OpSpec
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import TensorType
from nas.supernet.sync_bn import distributed_world, globalise_batchnorm

Case = tuple[TensorType, HParams]


class ElasticPosition(nn.Module):
    """The weights of one layer position for one op. Contract: ``check(layer)`` raises a one-line
    NasError when the position cannot run ``layer``; ``forward(x, layer)`` equals
    ``extract(layer)(x)`` (same weights, same ops); ``extract`` returns ``layer.spec.build(...)``
    with weights copied, sharing no storage with the supernet."""

    def check(self, layer: Layer) -> None:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, layer: Layer) -> torch.Tensor:  # noqa: D102
        raise NotImplementedError

    def extract(self, layer: Layer) -> nn.Module:
        raise NotImplementedError


#: builders of elastic positions keyed by op name; ops not listed use ``SlicedPosition``.
ELASTIC: Registry[Callable[[OpSpec, Sequence[Case]], ElasticPosition]] = Registry("elastic op")


def build_position(op: str, cases: Sequence[Case], **options: Any) -> ElasticPosition:
    """The position of ``op`` over ``cases``; ``options`` go to the op's registered builder."""
    spec = OPS.get(op)
    builder = ELASTIC.get(op) if op in ELASTIC else SlicedPosition
    return builder(spec, cases, **options)


def _quiet_build(spec: OpSpec, t: TensorType, hp: HParams, device: str | None = None) -> nn.Module:
    """``spec.build`` without touching the global torch rng (lazily built skeletons must not shift it)."""
    with torch.random.fork_rng(devices=[]):
        if device == "meta":
            try:
                with torch.device("meta"):
                    return spec.build(t, hp)
            except Exception:  # an op whose init needs real values: build it for real
                pass
        return spec.build(t, hp)


def shared_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """What a supernet shares for a module: every parameter and every persistent floating buffer
    (BatchNorm's running statistics). Index buffers and counters stay with each case."""
    out: dict[str, torch.Tensor] = dict(module.named_parameters())
    for mod_name, mod in module.named_modules():
        for b_name, b in mod._buffers.items():
            if b is None or not b.is_floating_point() or b_name in mod._non_persistent_buffers_set:
                continue
            out[f"{mod_name}.{b_name}" if mod_name else b_name] = b
    return out


Blocks = tuple[tuple[int, ...], tuple[int, ...]]


def slice_to(big: torch.Tensor, shape: Sequence[int], blocks: Blocks | None = None) -> torch.Tensor:
    """``big`` cut to ``shape``: a prefix along the first two axes (channels), the centre along the rest
    (kernels). A view when possible, so gradients and in-place statistic updates reach ``big``.

    ``blocks`` = (``big``'s block sizes, the wanted ones) when the first axis stacks blocks
    (``OpSpec.stacked``): each block is cut on its own and the cuts are concatenated (a copy)."""
    if blocks is not None and tuple(blocks[0]) != tuple(blocks[1]):
        rest = tuple(shape[1:])
        parts = torch.split(big, list(blocks[0]))
        return torch.cat([slice_to(part, (n, *rest)) for part, n in zip(parts, blocks[1])])
    if tuple(big.shape) == tuple(shape):
        return big
    out = big
    for axis, (n_big, n) in enumerate(zip(big.shape, shape)):
        if n == n_big:
            continue
        start = 0 if axis < 2 else (n_big - n) // 2
        out = out.narrow(axis, start, n)
    return out


def _flat(name: str) -> str:
    return name.replace(".", "__")


def _digest(obj: Any) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:10]


class _Store(nn.Module):
    """Max-size tensors of one weight group, registered under flattened names."""

    def __init__(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for k, v in params.items():
            self.register_parameter(_flat(k), nn.Parameter(v))
        for k, v in buffers.items():
            self.register_buffer(_flat(k), v)

    def get(self, name: str) -> torch.Tensor:
        return getattr(self, _flat(name))


class SlicedPosition(ElasticPosition):
    """Generic elastic position: one max-size weight set per group of cases (see the module docstring)."""

    def __init__(self, spec: OpSpec, cases: Sequence[Case]) -> None:
        super().__init__()
        self.spec = spec
        self._skeletons: dict[Any, nn.Module] = {}
        groups: dict[str, list[tuple[Case, dict[str, torch.Size]]]] = {}
        for t, hp in cases:
            shapes = self._shapes(t, hp)
            groups.setdefault(self._group(t, hp, shapes), []).append(((t, hp), shapes))
        self.groups = nn.ModuleDict()
        self._max: dict[str, dict[str, torch.Size]] = {}
        self._blocks: dict[str, dict[str, tuple[int, ...]]] = {}
        for key in sorted(groups):
            members = groups[key]
            names = list(members[0][1])
            big = {n: torch.Size(max(s[n][a] for _, s in members) for a in range(len(members[0][1][n])))
                   for n in names}
            stacks = [self.spec.stacked(t, hp) for (t, hp), _ in members]
            self._blocks[key] = {n: tuple(max(b) for b in zip(*(st[n] for st in stacks))) for n in stacks[0]}
            for n, b in self._blocks[key].items():
                big[n] = torch.Size((sum(b), *big[n][1:]))
            self._max[key] = big
            self.groups[key] = self._init_store(members, big, self._blocks[key])

    def has_stacked_tensors(self) -> bool:
        """Whether a weight group holds a tensor cut block by block (``OpSpec.stacked``)."""
        return any(self._blocks.values())

    # -- grouping ------------------------------------------------------------------------------
    def _shapes(self, t: TensorType, hp: HParams) -> dict[str, torch.Size]:
        m = _quiet_build(self.spec, t, hp, device="meta")
        return {k: v.shape for k, v in shared_tensors(m).items()}

    def _group(self, t: TensorType, hp: HParams, shapes: dict[str, torch.Size]) -> str:
        elastic = set(self.spec.elastic)
        fixed = tuple((k, v) for k, v in hp.items() if k not in elastic)
        # parameter-free ops hold no weights: one group whatever the channels
        typ = (t.layout.value, t.height, t.width) + (() if "in" in elastic or not shapes else (t.channels,))
        sig = tuple((k, len(s)) for k, s in shapes.items())
        return f"g{_digest((fixed, typ, sig))}"

    def _init_store(self, members: list, big: dict[str, torch.Size],
                    big_blocks: dict[str, tuple[int, ...]]) -> _Store:
        """Max-size tensors initialised from real builds: the largest case's own initialisation, and any
        element it does not reach (shapes that grow along different axes) from the next largest case that
        does, never overwriting an element a larger case wrote."""
        order = sorted(members, key=lambda m: sum(s.numel() for s in m[1].values()))
        params = {n: torch.zeros(s) for n, s in big.items()}
        written = {n: torch.zeros(s, dtype=torch.bool) for n, s in big.items()}

        def fill(n: str, region: tuple[slice, ...], part: torch.Tensor) -> None:
            # only elements no larger case wrote: a smaller case never overwrites a larger one's values
            old, seen = params[n][region], written[n][region]
            params[n][region] = torch.where(seen, old, part)
            written[n][region] = True

        for (t, hp), shapes in reversed(order):
            real = shared_tensors(self.spec.build(t, hp))  # consumes the caller's seeded rng
            stacked = self.spec.stacked(t, hp)
            for n, v in real.items():
                if bool(written[n].all()):
                    continue
                if n in stacked:  # block by block, where slice_to reads them back
                    starts = np.cumsum((0, *big_blocks[n][:-1]))
                    for start, part in zip(starts, torch.split(v.detach(), list(stacked[n]))):
                        fill(n, (slice(start, start + len(part)), *(slice(0, d) for d in part.shape[1:])), part)
                else:
                    fill(n, tuple(slice(0, d) for d in v.shape), v.detach())
            if all(bool(w.all()) for w in written.values()):
                break
        probe = _quiet_build(self.spec, *order[-1][0], device="meta")
        is_param = {n for n, _ in probe.named_parameters()}
        return _Store({n: v for n, v in params.items() if n in is_param},
                      {n: v for n, v in params.items() if n not in is_param})

    # -- running a case ------------------------------------------------------------------------
    def _key(self, layer: Layer) -> str:
        t, hp = layer.in_type, layer.hp
        shapes = self._shapes(t, hp)
        key = self._group(t, hp, shapes)
        if key not in self._max:
            raise NasError(f"layer {layer.name!r}: op {layer.op!r} with {dict(hp.to_json())} on {t} is outside "
                           f"the supernet (no weight set for this choice)")
        stacked = self.spec.stacked(t, hp)
        for n, s in shapes.items():
            if any(a > b for a, b in zip(s, self._max[key][n])) or any(
                    a > b for a, b in zip(stacked.get(n, ()), self._blocks[key].get(n, ()))):
                raise NasError(f"layer {layer.name!r}: op {layer.op!r} needs {n} of shape {tuple(s)}, larger "
                               f"than the supernet's {tuple(self._max[key][n])}: outside the supernet")
        return key

    def check(self, layer: Layer) -> None:
        self._skeleton(layer)

    def _skeleton(self, layer: Layer) -> tuple[str, nn.Module]:
        ck = (layer.in_type, layer.hp)
        hit = self._skeletons.get(ck)
        if hit is None:
            key = self._key(layer)
            module = _quiet_build(self.spec, layer.in_type, layer.hp)
            for n in shared_tensors(module):  # free the copy's own weights; calls supply slices
                mod_name, _, attr = n.rpartition(".")
                owner = module.get_submodule(mod_name) if mod_name else module
                holder = owner._parameters if attr in owner._parameters else owner._buffers
                holder[attr] = torch.empty(holder[attr].shape, device="meta")
            if distributed_world() > 1:
                globalise_batchnorm(module)
            hit = self._skeletons[ck] = (key, module)
        return hit

    def _slices(self, key: str, module_shapes: dict[str, torch.Size],
                stacked: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
        """The case's tensors cut from group ``key``; ``stacked`` is the case's ``OpSpec.stacked``."""
        store = self.groups[key]
        # parameters as contiguous copies (torch's conv kernels are far slower on strided weights; the
        # copy is differentiable); statistics buffers as views, so BatchNorm's in-place updates land
        out = {}
        for n, s in module_shapes.items():
            blocks = (self._blocks[key][n], stacked[n]) if stacked and n in stacked else None
            v = slice_to(store.get(n), s, blocks)
            out[n] = v.contiguous() if isinstance(store.get(n), nn.Parameter) else v
        return out

    def forward(self, x: torch.Tensor, layer: Layer) -> torch.Tensor:
        key, module = self._skeleton(layer)
        module.train(self.training)
        tensors = self._slices(key, {n: v.shape for n, v in shared_tensors(module).items()},
                               self.spec.stacked(layer.in_type, layer.hp))
        return functional_call(module, tensors, (x,), strict=False)

    def extract(self, layer: Layer) -> nn.Module:
        key, _ = self._skeleton(layer)
        module = _quiet_build(self.spec, layer.in_type, layer.hp)
        own = shared_tensors(module)
        with torch.no_grad():
            for n, v in self._slices(key, {n: v.shape for n, v in own.items()},
                                     self.spec.stacked(layer.in_type, layer.hp)).items():
                own[n].copy_(v)
        return module.train(self.training)

    def _apply(self, fn, recurse=True):  # .to(device): skeletons keep index buffers; rebuild them lazily
        self._skeletons.clear()
        return super()._apply(fn, recurse)
