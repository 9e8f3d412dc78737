"""SearchSpace: a static space declared as named dimensions, plus the space registry."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams, freeze
from nas.searchspace.netspec import NetSpec, resolve_layers
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import TensorType

MAX_SAMPLE_TRIES = 1000


@dataclass(frozen=True)
class Dimension:
    """One named choice. ``ordered`` dimensions (depths, widths, kernels) encode as a position in
    [0, 1] and mutate to neighbouring values; unordered ones (op choices) encode one-hot.

    ``sample`` draws uniformly over the choices, or, with ``log=True`` (positive numeric ordered
    choices, as Optuna's ``log=True``), uniformly in log scale: each choice gets the share of
    [log first, log last] nearest to it, so a 16..2048 width grid is not dominated by huge widths.
    """

    name: str
    choices: tuple[Any, ...]
    ordered: bool = True
    log: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(freeze(c) for c in self.choices))
        if not self.choices:
            raise NasError(f"dimension {self.name!r} has no choices")
        if self.log:
            if not self.ordered or not all(isinstance(c, (int, float)) and c > 0 for c in self.choices):
                raise NasError(f"dimension {self.name!r}: log=True needs ordered positive numeric choices")
            logs = np.log(np.asarray(self.choices, dtype=np.float64))
            if len(logs) == 1 or not np.all(np.diff(logs) > 0):
                raise NasError(f"dimension {self.name!r}: log=True needs at least two increasing choices")
            edges = np.concatenate(([logs[0]], (logs[1:] + logs[:-1]) / 2, [logs[-1]]))
            object.__setattr__(self, "_probs", np.diff(edges) / (logs[-1] - logs[0]))

    def sample(self, rng: np.random.Generator) -> Any:
        if self.log:
            return self.choices[int(rng.choice(len(self.choices), p=self._probs))]
        return self.choices[int(rng.integers(len(self.choices)))]

    def index(self, value: Any) -> int:
        v = freeze(value)
        for i, c in enumerate(self.choices):
            # True == 1 in Python; a JSON `true` is not the choice 1 (nor `false` the choice 0)
            if c == v and isinstance(c, bool) == isinstance(v, bool):
                return i
        raise NasError(f"{self.name}={value!r} not allowed; allowed: {list(self.choices)}")


class SearchSpace(ABC):
    """A static search space: named dimensions, optional constraints, and a resolver to NetSpec.

    Contract: ``sample(rng)`` returns architectures that ``contains`` accepts; ``mutate`` changes at
    least one gene and stays in the space; ``neighbors`` lists every valid architecture one gene
    away; ``encode`` gives a fixed-length float vector; ``resolve`` gives a type-checked NetSpec.
    Subclasses set ``name`` and implement ``dimensions`` and ``layers``; they may override
    ``is_valid`` (constraints), ``to_graph`` and the default input/classes.
    """

    name: str = ""
    default_input: TensorType = TensorType.map(3, 224, 224)
    default_num_classes: int = 1000

    def __init__(self, input: TensorType | None = None, num_classes: int | None = None) -> None:
        self.input = input or self.default_input
        self.num_classes = num_classes or self.default_num_classes
        self._dims = tuple(self.dimensions())
        self._by_name = {d.name: d for d in self._dims}

    # -- to implement ------------------------------------------------------------------------
    @abstractmethod
    def dimensions(self) -> Sequence[Dimension]:
        """The named dimensions, in a fixed order (the encoding order)."""

    @abstractmethod
    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        """The chain of (layer name, op name, hp) for these genes at this input."""

    def is_valid(self, genes: HParams) -> bool:
        """Constraints beyond the per-dimension choices (default: none)."""
        return True

    # -- derived -------------------------------------------------------------------------------
    @property
    def dims(self) -> tuple[Dimension, ...]:
        return self._dims

    def config(self) -> dict[str, Any]:
        """The settings this space was built with (written beside results)."""
        return {"space": self.name, "input": f"{self.input.channels}x{self.input.height}x{self.input.width}",
                "num_classes": self.num_classes}

    def size(self) -> int:
        """Number of gene combinations before constraints (``is_valid``)."""
        return math.prod(len(d.choices) for d in self._dims)

    def make(self, **genes: Any) -> Architecture:
        """An architecture from gene values, checked."""
        a = Architecture(self.name, genes)
        self.validate(a)
        return a

    def validate(self, a: Architecture) -> None:
        """Raise a one-line NasError when ``a`` is not in this space."""
        if a.space != self.name:
            raise NasError(f"architecture is from space {a.space!r}, not {self.name!r}")
        missing = [d.name for d in self._dims if d.name not in a.genes]
        extra = sorted(set(a.genes) - set(self._by_name))
        if missing or extra:
            raise NasError(f"space {self.name!r}: missing genes {missing}, unknown genes {extra}")
        for d in self._dims:
            d.index(a.genes[d.name])
        if not self.is_valid(a.genes):
            raise NasError(f"space {self.name!r}: architecture violates the space's constraints")

    def contains(self, a: Architecture) -> bool:
        try:
            self.validate(a)
        except NasError:
            return False
        return True

    def sample(self, rng: np.random.Generator) -> Architecture:
        for _ in range(MAX_SAMPLE_TRIES):
            genes = {d.name: d.sample(rng) for d in self._dims}
            hp = HParams(genes)
            if self.is_valid(hp):
                return Architecture(self.name, hp)
        raise NasError(f"space {self.name!r}: no valid architecture in {MAX_SAMPLE_TRIES} samples")

    def _step(self, d: Dimension, i: int, rng: np.random.Generator) -> int:
        if d.ordered and len(d.choices) > 2:
            j = i + (1 if rng.random() < 0.5 else -1)
            return j if 0 <= j < len(d.choices) else i - (j - i)
        j = int(rng.integers(len(d.choices) - 1))
        return j if j < i else j + 1

    def mutate(self, a: Architecture, rng: np.random.Generator) -> Architecture:
        """Change one gene (ordered genes move one step; unordered ones jump), staying valid."""
        mutable = [d for d in self._dims if len(d.choices) > 1]
        if not mutable:
            raise NasError(f"space {self.name!r} has a single architecture; nothing to mutate")
        for _ in range(MAX_SAMPLE_TRIES):
            d = mutable[int(rng.integers(len(mutable)))]
            i = d.index(a.genes[d.name])
            new = a.genes.replace(**{d.name: d.choices[self._step(d, i, rng)]})
            if self.is_valid(new):
                return Architecture(self.name, new)
        raise NasError(f"space {self.name!r}: no valid mutation found in {MAX_SAMPLE_TRIES} tries")

    def neighbors(self, a: Architecture) -> list[Architecture]:
        """Every valid architecture one gene away (one step for ordered genes, any value otherwise)."""
        out = []
        for d in self._dims:
            i = d.index(a.genes[d.name])
            js = [i - 1, i + 1] if d.ordered else range(len(d.choices))
            for j in js:
                if j == i or not 0 <= j < len(d.choices):
                    continue
                new = a.genes.replace(**{d.name: d.choices[j]})
                if self.is_valid(new):
                    out.append(Architecture(self.name, new))
        return out

    def encode(self, a: Architecture) -> np.ndarray:
        """Ordered genes as their position in [0, 1]; unordered genes one-hot."""
        parts: list[float] = []
        for d in self._dims:
            i = d.index(a.genes[d.name])
            if d.ordered:
                parts.append(i / (len(d.choices) - 1) if len(d.choices) > 1 else 0.0)
            else:
                one = [0.0] * len(d.choices)
                one[i] = 1.0
                parts.extend(one)
        return np.asarray(parts, dtype=np.float64)

    def parse_string(self, text: str) -> Architecture:
        """An architecture from the space's own string form (for example NB201's arch string)."""
        raise NasError(f"space {self.name!r} has no string form for architectures")

    def to_string(self, a: Architecture) -> str:
        """The space's own string form of ``a`` (default: the canonical JSON)."""
        return a.canonical_json()

    def resolve(self, a: Architecture, input: TensorType | None = None) -> NetSpec:
        """The type-checked NetSpec of ``a`` at ``input`` (default: the space's input)."""
        self.validate(a)
        inp = input or self.input
        digest = a.digest()
        return resolve_layers(inp, self.layers(a.genes, inp), name=f"{self.name}:{digest}",
                              meta={"space": self.name, "digest": digest})

    def to_graph(self, a: Architecture):  # -> networkx.DiGraph
        """The network as a networkx DiGraph: one node per layer, with op, family, types and costs."""
        import networkx as nx

        spec = self.resolve(a)
        g = nx.DiGraph(space=self.name, digest=a.digest())
        g.add_node("input", op="input", type=str(spec.input))
        prev = "input"
        for layer in spec.layers:
            g.add_node(layer.name, op=layer.op, family=layer.family, in_type=str(layer.in_type),
                       out_type=str(layer.out_type), macs=layer.macs(), params=layer.params())
            g.add_edge(prev, layer.name)
            prev = layer.name
        return g


def _load_builtin_spaces() -> None:
    from nas.searchspace import spaces  # noqa: F401


SPACES: Registry[type[SearchSpace]] = Registry("space", loader=_load_builtin_spaces)


def register_space(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator: register a SearchSpace subclass under its ``name``."""
    SPACES.add(cls.name, cls)
    return cls


SPACE_CONFIG_KEYS = ("space", "input", "num_classes")
"""The keys of ``SearchSpace.config()`` every space has; the others are the space's own settings."""


def own_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The space's own settings in a ``SearchSpace.config()`` (e.g. hybrid's ``width_mult``)."""
    return {k: v for k, v in config.items() if k not in SPACE_CONFIG_KEYS}


def get_space(name: str, input: TensorType | None = None, num_classes: int | None = None,
              **settings: Any) -> SearchSpace:
    """An instance of the registered space ``name``; ``settings`` are the space's own (e.g. hybrid's
    ``width_mult``, ``max_depth``, ``mixers``). A setting the space does not take is a one-line error."""
    cls = SPACES.get(name)
    if settings:
        import inspect

        known = [p for p in inspect.signature(cls).parameters if p not in ("input", "num_classes")]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise NasError(f"space {name!r} does not take setting(s) {', '.join(unknown)}; "
                           f"allowed: {', '.join(known) or 'none'}")
    return cls(input=input, num_classes=num_classes, **settings)
