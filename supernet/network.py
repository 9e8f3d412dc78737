"""The weight-sharing supernet of a search space: ``forward(x, arch)``, ``extract(arch)``."""

from __future__ import annotations

import inspect
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.errors import NasError
from nas.hw_models.analytic import flops, params
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import NetSpec
from nas.searchspace.space import SearchSpace, get_space
from nas.searchspace.spaces._canonical import CanonicalSpace
from nas.searchspace.tensor_type import TensorType, parse_input
from nas.supernet import metaformer, nb201_cell  # noqa: F401  (register their elastic builders)
from nas.supernet.elastic import ElasticPosition, build_position
from nas.supernet.metaformer import check_body

SPEC_CACHE = 4096
#: bytes per parameter to train in float32: the weight, its gradient and AdamW's two moments
TRAIN_BYTES_PER_PARAM = 16


def space_from_config(config: Mapping[str, Any]) -> SearchSpace:
    """Rebuild a space from ``SearchSpace.config()`` (name, input, classes and any extra settings)."""
    cfg = dict(config)
    name = cfg.pop("space", None)
    if name is None:
        raise NasError("space settings lack the space name")
    inp = parse_input(cfg.pop("input")) if "input" in cfg else None
    return get_space(name, input=inp, num_classes=cfg.pop("num_classes", None), **cfg)


def runnable_arch(space: SearchSpace, genes: Mapping[str, Any]) -> Architecture | None:
    """The architecture of ``genes`` (inactive genes put to their canonical values) when the space holds
    it and can resolve it at its input size; None otherwise."""
    hp = space.canonical(genes) if isinstance(space, CanonicalSpace) else HParams(genes)
    a = Architecture(space.name, hp)
    if not space.contains(a):
        return None
    try:  # an input size may rule out some choices (e.g. a shift larger than a 1x1 grid)
        space.resolve(a)
    except NasError:
        return None
    return a


def covering_archs(space: SearchSpace) -> list[Architecture]:
    """Architectures whose layers show every position at its largest: for each index i of the unordered
    genes (op choices), every ordered gene at its largest value and each unordered gene at choice i,
    and the same with any single gene at each of its values (so each depth and width occurs with each
    choice, which ops without elastic declarations need, and neighbouring choices differ, which brings
    out layers between unlike choices such as layout adapters)."""
    dims = space.dims
    n_un = max((len(d.choices) for d in dims if not d.ordered), default=1)
    out: dict[Architecture, None] = {}
    for i in range(n_un):
        base = {d.name: d.choices[-1] if d.ordered else d.choices[i % len(d.choices)] for d in dims}
        variants = [base] + [{**base, d.name: v} for d in dims for v in d.choices]
        for genes in variants:
            a = runnable_arch(space, genes)
            if a is not None:
                out[a] = None
    if not out:
        raise NasError(f"space {space.name!r}: no valid architecture among its extremes to size a supernet")
    return list(out)


def extreme_arch(space: SearchSpace, largest: bool) -> Architecture:
    """The largest (or smallest) architecture by FLOPs: ordered genes at their last (first) value, then
    each unordered gene in turn set to the choice with the most (fewest) FLOPs."""
    pick = max if largest else min
    genes = {d.name: (d.choices[-1] if largest else d.choices[0]) for d in space.dims}
    a = runnable_arch(space, genes)
    if a is None:
        raise NasError(f"space {space.name!r}: its {'largest' if largest else 'smallest'} genes are not valid")
    for d in space.dims:
        if d.ordered:
            continue
        options = [b for v in d.choices if (b := runnable_arch(space, {**a.genes, d.name: v})) is not None]
        a = pick(options, key=lambda b: flops(space.resolve(b)))
    return a


def physical_memory_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say (``os.sysconf``)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_trainable_here(space: SearchSpace, largest: Architecture, memory_bytes: int | None) -> None:
    """A one-line NasError when the largest subnet alone, a lower bound on the supernet, needs more than
    ``memory_bytes`` to train (``TRAIN_BYTES_PER_PARAM`` per parameter): refused before any weight is
    allocated, instead of the system killing the process (resnet's box holds an 8-billion-parameter
    network)."""
    if memory_bytes is None:
        return
    n = params(space.resolve(largest))
    need = n * TRAIN_BYTES_PER_PARAM
    if need <= memory_bytes:
        return
    shrinks = [k for k in ("width_mult", "max_depth") if k in inspect.signature(type(space)).parameters]
    hint = f"shrink it with {' and '.join('--' + k.replace('_', '-') for k in shrinks)}" if shrinks else \
        "use a smaller space"
    t = space.input
    raise NasError(f"space {space.name!r} at input {t.channels}x{t.height}x{t.width}: its largest subnet alone has "
                   f"{n / 1e6:,.1f} M parameters, about {need / 2**30:,.0f} GiB to train (weights, gradients, "
                   f"AdamW's moments), and this machine has {memory_bytes / 2**30:,.1f} GiB; a supernet of it "
                   f"cannot be trained here: {hint}")


class Supernet(nn.Module):
    """Weight-sharing network over every architecture of ``space`` (at its input size and classes).

    Contract: ``forward(x, arch)`` runs the subnet ``arch`` (an ``Architecture`` of the space or its
    resolved ``NetSpec``) with weights sliced from max-size tensors; there is no active-subnet state.
    An architecture outside the space or the supernet fails in ``resolve`` with a one-line NasError
    naming the gene or layer, before any tensor work. ``extract(arch)`` returns the module that
    ``space.resolve(arch).build()`` builds, with the supernet's weights copied, giving the same
    outputs in eval mode.

    ``body`` (spaces of MetaFormer blocks, i.e. hybrid): ``"shared"`` (default) holds one body (norms
    and channel MLP) per block for every mixer choice, ``"per-mixer"`` one per mixer choice.
    ``options()`` returns the non-default settings, which checkpoints store next to ``config()``.
    ``memory_bytes`` (default: this machine's physical memory) refuses, before any weight is allocated,
    a space whose largest subnet alone needs more than that to train (``check_trainable_here``).
    """

    def __init__(self, space: SearchSpace, body: str = "shared", memory_bytes: int | None = None) -> None:
        super().__init__()
        self.space = space
        self.body = check_body(body)
        largest = extreme_arch(space, largest=True)
        check_trainable_here(space, largest, physical_memory_bytes() if memory_bytes is None else memory_bytes)
        cases: dict[str, dict[str, list]] = {}
        for a in covering_archs(space):
            for layer in space.resolve(a).layers:
                per_op = cases.setdefault(layer.name, {})
                seen = per_op.setdefault(layer.op, [])
                if (layer.in_type, layer.hp) not in seen:
                    seen.append((layer.in_type, layer.hp))
        if body != "shared" and not any("metaformer" in per_op for per_op in cases.values()):
            raise NasError(f"supernet body {body!r} needs MetaFormer blocks (space hybrid); space "
                           f"{space.name!r} has none; allowed here: shared")
        self.positions = nn.ModuleDict()
        for name in cases:
            self.positions[self._pos(name)] = nn.ModuleDict(
                {op: build_position(op, cs, **({"body": body} if op == "metaformer" else {}))
                 for op, cs in cases[name].items()})
        self._specs: OrderedDict[Architecture, NetSpec] = OrderedDict()
        self._extremes: dict[str, Architecture] = {"largest": largest}

    @staticmethod
    def _pos(layer_name: str) -> str:
        return layer_name.replace(".", "_")

    @property
    def input(self) -> TensorType:
        return self.space.input

    def config(self) -> dict[str, Any]:
        return self.space.config()

    def has_stacked_tensors(self) -> bool:
        """Whether some position holds a fused projection cut block by block (``OpSpec.stacked``)."""
        from nas.supernet.elastic import SlicedPosition

        return any(isinstance(m, SlicedPosition) and m.has_stacked_tensors() for m in self.modules())

    def options(self) -> dict[str, Any]:
        """Settings of the supernet itself (not of its space) that differ from the defaults."""
        return {} if self.body == "shared" else {"body": self.body}

    def largest(self) -> Architecture:
        """The subnet with the most FLOPs (``extreme_arch``)."""
        if "largest" not in self._extremes:
            self._extremes["largest"] = extreme_arch(self.space, largest=True)
        return self._extremes["largest"]

    def smallest(self) -> Architecture:
        """The subnet with the fewest FLOPs (``extreme_arch``)."""
        if "smallest" not in self._extremes:
            self._extremes["smallest"] = extreme_arch(self.space, largest=False)
        return self._extremes["smallest"]

    def extreme_with_random_ops(self, rng: np.random.Generator, largest: bool, tries: int = 50) -> Architecture:
        """Every ordered gene at its largest (smallest) value, every unordered gene (op choice) drawn
        uniformly with ``rng``; the FLOPs extreme when ``tries`` draws give no valid architecture."""
        for _ in range(tries):
            genes = {d.name: (d.choices[-1] if largest else d.choices[0]) if d.ordered
                     else d.choices[int(rng.integers(len(d.choices)))] for d in self.space.dims}
            a = runnable_arch(self.space, genes)
            if a is not None:
                return a
        return self.largest() if largest else self.smallest()

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.space.sample(rng)

    def _position(self, name: str, op: str) -> ElasticPosition:
        pos = self.positions[self._pos(name)] if self._pos(name) in self.positions else None
        if pos is None or op not in pos:
            raise NasError(f"layer {name!r} (op {op!r}) is outside the supernet of space {self.space.name!r}")
        return pos[op]

    def resolve(self, arch: Architecture | NetSpec) -> NetSpec:
        """The checked NetSpec of ``arch``; a one-line NasError when the supernet cannot run it."""
        if isinstance(arch, NetSpec):
            spec = arch
            if spec.input != self.space.input:
                raise NasError(f"network input {spec.input} differs from the supernet's {self.space.input}")
        else:
            if not isinstance(arch, Architecture):
                raise NasError(f"expected an Architecture of space {self.space.name!r}, got {type(arch).__name__}")
            spec = self._specs.get(arch)
            if spec is not None:
                self._specs.move_to_end(arch)
                return spec
            spec = self.space.resolve(arch)
        for layer in spec.layers:
            self._position(layer.name, layer.op).check(layer)
        if isinstance(arch, Architecture):
            self._specs[arch] = spec
            if len(self._specs) > SPEC_CACHE:
                self._specs.popitem(last=False)
        return spec

    def forward(self, x: torch.Tensor, arch: Architecture | NetSpec) -> torch.Tensor:
        spec = self.resolve(arch)
        for layer in spec.layers:
            x = self._position(layer.name, layer.op)(x, layer)
        return x

    def extract(self, arch: Architecture | NetSpec) -> nn.Module:
        """A plain ``nn.Sequential`` equal to ``NetSpec.build()`` of ``arch``, with copied weights, in
        the supernet's train/eval mode."""
        spec = self.resolve(arch)
        with torch.no_grad():
            model = nn.Sequential(OrderedDict(
                (self._pos(layer.name), self._position(layer.name, layer.op).extract(layer))
                for layer in spec.layers))
        return model.train(self.training)


def build_supernet(space: str | SearchSpace, input: TensorType | str | None = None,
                   num_classes: int | None = None, seed: int = 0,
                   settings: Mapping[str, Any] | None = None, body: str = "shared") -> Supernet:
    """A supernet of ``space`` (a name or a space object) with initial weights fixed by ``seed``;
    ``settings`` are the named space's extra settings (e.g. hybrid's ``width_mult``); ``body`` as in
    ``Supernet``."""
    if isinstance(space, str):
        inp = parse_input(input) if isinstance(input, str) else input
        cfg = {"space": space, "num_classes": num_classes, **(settings or {})}
        if inp is not None:
            cfg["input"] = f"{inp.channels}x{inp.height}x{inp.width}"
        space = space_from_config(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Supernet(space, body=body)
