"""Spaces whose genes may carry no meaning (for example the genes of blocks beyond a stage's depth).

Such genes are fixed to a canonical value so that equal networks are equal architectures: ``is_valid``
accepts only canonical genes, and ``sample``, ``mutate`` and ``neighbors`` only ever produce canonical
ones (a move that makes a gene meaningless resets it).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.space import MAX_SAMPLE_TRIES, Dimension, SearchSpace


class CanonicalSpace(SearchSpace):
    """A SearchSpace with genes that are inactive for some architectures.

    Contract: ``inactive(genes)`` maps every gene that carries no meaning for ``genes`` to its
    canonical value (a function of the active genes only). An architecture is in the space only when
    its inactive genes hold their canonical values; ``canonical(genes)`` puts them there.
    ``sample`` draws every gene uniformly and canonicalises; ``mutate`` and ``neighbors`` move one
    active gene and canonicalise, so they differ from the input in exactly one active gene.
    Subclasses may add constraints in ``constraints``.
    """

    @abstractmethod
    def inactive(self, genes: Mapping[str, Any]) -> dict[str, Any]:
        """The genes carrying no meaning for ``genes``, with their canonical values."""

    def constraints(self, genes: HParams) -> bool:
        """Constraints beyond canonical form (default: none)."""
        return True

    def canonical(self, genes: Mapping[str, Any]) -> HParams:
        """``genes`` with every inactive gene set to its canonical value."""
        hp = genes if isinstance(genes, HParams) else HParams(genes)
        fix = self.inactive(hp)
        return hp.replace(**fix) if fix else hp

    def is_valid(self, genes: HParams) -> bool:
        return all(genes[k] == v for k, v in self.inactive(genes).items()) and self.constraints(genes)

    def validate(self, a: Architecture) -> None:
        try:
            super().validate(a)
        except NasError as e:
            if "constraints" not in str(e):
                raise
            for k, v in self.inactive(a.genes).items():
                if a.genes[k] != v:
                    raise NasError(f"space {self.name!r}: gene {k}={a.genes[k]!r} carries no meaning in this "
                                   f"architecture and must hold its canonical value {v!r} "
                                   f"(use space.canonical(genes))") from None
            raise

    def active_dims(self, genes: Mapping[str, Any]) -> list[Dimension]:
        """The dimensions that carry meaning for ``genes`` and have more than one choice."""
        off = self.inactive(genes)
        return [d for d in self.dims if d.name not in off and len(d.choices) > 1]

    def sample(self, rng: np.random.Generator) -> Architecture:
        for _ in range(MAX_SAMPLE_TRIES):
            genes = self.canonical({d.name: d.sample(rng) for d in self.dims})
            if self.constraints(genes):
                return Architecture(self.name, genes)
        raise NasError(f"space {self.name!r}: no valid architecture in {MAX_SAMPLE_TRIES} samples")

    def mutate(self, a: Architecture, rng: np.random.Generator) -> Architecture:
        """Move one active gene (ordered genes one step, unordered ones to another value), canonicalised."""
        self.validate(a)
        for _ in range(MAX_SAMPLE_TRIES):
            dims = self.active_dims(a.genes)
            if not dims:
                break
            d = dims[int(rng.integers(len(dims)))]
            i = d.index(a.genes[d.name])
            new = self.canonical(a.genes.replace(**{d.name: d.choices[self._step(d, i, rng)]}))
            if new != a.genes and self.constraints(new):
                return Architecture(self.name, new)
        raise NasError(f"space {self.name!r}: no valid mutation found in {MAX_SAMPLE_TRIES} tries")

    def neighbors(self, a: Architecture) -> list[Architecture]:
        """Every valid architecture one active-gene move away (inactive genes reset to canonical)."""
        self.validate(a)
        out: list[Architecture] = []
        seen = {a.genes}
        for d in self.active_dims(a.genes):
            i = d.index(a.genes[d.name])
            js = [i - 1, i + 1] if d.ordered else range(len(d.choices))
            for j in js:
                if j == i or not 0 <= j < len(d.choices):
                    continue
                new = self.canonical(a.genes.replace(**{d.name: d.choices[j]}))
                if new not in seen and self.constraints(new):
                    seen.add(new)
                    out.append(Architecture(self.name, new))
        return out
