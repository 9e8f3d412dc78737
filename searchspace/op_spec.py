"""The operation contract and the operation registry.

Every operation is one small module under ``searchspace/ops/`` that subclasses ``OpSpec`` and
registers itself with ``@OPS.register("name", instantiate=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import NasError, TypeMismatchError
from nas.searchspace.hparams import HParams, freeze
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import Layout, TensorType

if TYPE_CHECKING:
    from torch import nn

FAMILIES = ("conv", "attention", "ssm", "mlp", "spectral", "paramfree", "adapter")

#: kernel launches of one call of an op that declares neither ``kernels`` nor ``launches``, by family
FAMILY_LAUNCHES = {"conv": 3, "attention": 9, "ssm": 10, "mlp": 3, "spectral": 4, "paramfree": 1, "adapter": 2}

FanIns = tuple[float, ...]


@dataclass(frozen=True)
class KernelCost:
    """One kernel of an op at batch 1 (or ``count`` launches treated as one), in elements, not bytes:
    MACs, activation elements read + written (they scale with the batch), weight elements read once."""

    macs: int
    act_elems: int
    weights: int
    count: int = 1


class OpSpec:
    """One registered operation: a typed, costed, buildable layer or block.

    Contract:
    - ``family`` is one of ``FAMILIES``; ``accepts`` lists the input layouts it takes.
    - ``domain`` maps each hyper-parameter to its allowed values (a tuple of choices, or a ``range``
      for open integers such as channel counts, or a type such as ``HParams`` for nested values);
      ``defaults`` fills the ones a caller leaves out.
    - ``out_type(t, hp)`` is the output type; it raises ``NasError`` when ``hp`` cannot apply to ``t``
      (for example H not divisible by the window). Layout checks happen in ``check``.
    - ``macs``, ``params``, ``bytes`` are closed forms at batch 1. ``macs`` counts one multiply-accumulate
      as one (the vision-NAS FLOPs convention); ``uncounted_macs`` is the part of ``macs`` that
      ``torch.utils.flop_counter`` does not see (scans, FFTs, elementwise products): for every example,
      ``macs - uncounted_macs == flop_counter_total / 2`` exactly. ``params`` equals
      ``sum(p.numel() for p in build(t, hp).parameters())`` exactly. ``bytes`` is memory traffic
      (activations read and written plus weights read) at ``dtype_bytes`` per element.
    - ``build(t, hp)`` returns an ``nn.Module`` mapping a tensor of ``t.shape(B)`` to
      ``out_type(t, hp).shape(B)``.
    - ``token_mixer = True`` marks a shape-preserving mixer (out type == in type) that can fill the
      mixer slot of a MetaFormer block (``metaformer`` op) in the ``hybrid`` space.
    - ``examples()`` gives small (type, hp) cases that the shared op conformance tests run.

    Consumer hooks: what the layers above need to know about an op is declared here, never in a
    table keyed by op name elsewhere. Each hook is a method (or class attribute) of the op with a
    default where one is safe; ``tests/test_op_contract.py`` checks every registered op against every
    hook, so an op that forgets a required one fails a test. To add a hook for a new consumer, add a
    method here with its default (or ``NotImplementedError`` when no default is safe) and a check to
    that contract test. Current hooks:

    - ``fan_ins(t, hp)`` (DeepMAD, required) and ``deepmad_block`` (counts in DeepMAD's depth list);
    - ``kernels(t, hp)`` / ``launches(t, hp)`` (roofline latency: what one call launches);
    - ``components``, ``variant``, ``latency_group`` (all ``(t, hp)``) (containers of other ops: the
      family histogram, and which lookup-table measurements a layer is interpolated from);
    - ``stacked(t, hp)`` (weight-sharing supernets: fused projections whose blocks are sliced one by one).
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    accepts: ClassVar[tuple[Layout, ...]] = (Layout.MAP,)
    domain: ClassVar[Mapping[str, Any]] = {}
    defaults: ClassVar[Mapping[str, Any]] = {}
    description: ClassVar[str] = ""
    #: a shape-preserving spatial/token mixer usable in a MetaFormer block's mixer slot
    token_mixer: ClassVar[bool] = False
    #: hyper-parameters a weight-sharing supernet may vary at one layer position while sharing one weight
    #: set sliced from the largest case ("in" names the input channels); any other difference gets its own
    #: weight set (one per typed choice). The elastic modules themselves live in ``nas.supernet``.
    elastic: ClassVar[tuple[str, ...]] = ()

    # -- validation ---------------------------------------------------------------------------
    def check(self, t: TensorType, hp: Mapping[str, Any] | None = None, *, where: str = "") -> HParams:
        """Fill defaults, check the layout and every value against the domain; return the full hp."""
        at = f"layer {where!r}: " if where else ""
        if t.layout not in self.accepts:
            raise TypeMismatchError(
                f"{at}operation {self.name!r} accepts {'/'.join(l.value for l in self.accepts)}, "
                f"got {t}"
            )
        full = dict(self.defaults)
        full.update(hp or {})
        unknown = sorted(set(full) - set(self.domain))
        if unknown:
            raise NasError(
                f"{at}operation {self.name!r} has no hyper-parameter {unknown[0]!r}; "
                f"allowed: {', '.join(sorted(self.domain)) or 'none'}"
            )
        missing = sorted(set(self.domain) - set(full))
        if missing:
            raise NasError(f"{at}operation {self.name!r} needs hyper-parameter {missing[0]!r}")
        for k, allowed in self.domain.items():
            v = full[k] = freeze(full[k])
            if isinstance(allowed, range):
                ok = isinstance(v, int) and not isinstance(v, bool) and v in allowed
            elif isinstance(allowed, type):
                ok = isinstance(v, allowed)
            else:
                ok = v in allowed
            if not ok:
                shown = (f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range)
                         else allowed.__name__ if isinstance(allowed, type) else allowed)
                raise NasError(f"{at}operation {self.name!r}: {k}={v!r} not allowed; allowed: {shown}")
        return HParams(full)

    def resolve(self, t: TensorType, hp: Mapping[str, Any] | None = None, *, where: str = "") -> tuple[HParams, TensorType]:
        """Check and compute the output type, naming the layer in any error."""
        full = self.check(t, hp, where=where)
        try:
            out = self.out_type(t, full)
        except NasError as e:
            raise NasError(f"layer {where!r}: {e}" if where else str(e)) from None
        return full, out

    # -- the contract, implemented per op ------------------------------------------------------
    def out_type(self, t: TensorType, hp: HParams) -> TensorType:
        raise NotImplementedError

    def macs(self, t: TensorType, hp: HParams) -> int:
        raise NotImplementedError

    def uncounted_macs(self, t: TensorType, hp: HParams) -> int:
        return 0

    def params(self, t: TensorType, hp: HParams) -> int:
        raise NotImplementedError

    def bytes(self, t: TensorType, hp: HParams, dtype_bytes: int = 4) -> int:
        """Default traffic: read the input and the weights, write the output."""
        out = self.out_type(t, hp)
        return (t.numel + out.numel + self.params(t, hp)) * dtype_bytes

    def build(self, t: TensorType, hp: HParams) -> nn.Module:
        raise NotImplementedError

    def examples(self) -> list[tuple[TensorType, dict[str, Any]]]:
        raise NotImplementedError

    # -- consumer hooks ------------------------------------------------------------------------
    #: DeepMAD: one residual block of a stage in the depth list (stems, adapters, mixers, heads are not)
    deepmad_block: ClassVar[bool] = False

    def fan_ins(self, t: TensorType, hp: HParams) -> FanIns:
        """DeepMAD: the fan-ins (effective widths) of the linear maps the op applies in sequence along
        its main path, at input ``t``; ``()`` for a parameter-free op. No default: every op declares it.
        An op DeepMAD cannot score (a DAG cell) raises ``NasError`` saying why."""
        raise NotImplementedError(f"op {self.name!r} declares no DeepMAD fan-ins (OpSpec.fan_ins)")

    def launches(self, t: TensorType, hp: HParams) -> int:
        """Roofline: kernels one call launches when ``kernels`` is not overridden (by family by default)."""
        return FAMILY_LAUNCHES.get(self.family, 2)

    def kernels(self, t: TensorType, hp: HParams) -> list[KernelCost]:
        """Roofline: the kernels one call runs at batch 1. Default: one group of ``launches`` kernels
        that together carry the op's MACs, activation traffic (``bytes`` less the weights) and weights."""
        count = self.launches(t, hp)
        if count == 0:
            return []
        weights = self.params(t, hp)
        return [KernelCost(self.macs(t, hp), max(0, self.bytes(t, hp, 1) - weights), weights, count)]

    def components(self, t: TensorType, hp: HParams) -> tuple[str, ...]:
        """The registered ops a layer of this op holds, for the family histogram: itself by default; a
        container of chosen operations (a MetaFormer block, an NB201 cell) names what it holds."""
        return (self.name,)

    def variant(self, t: TensorType, hp: HParams) -> str:
        """Lookup table: layers of one variant share an implementation and interpolate from each other."""
        return self.name

    def latency_group(self, t: TensorType, hp: HParams) -> str:
        """Lookup table: the family whose measured/roofline ratio stands in for a never-measured variant."""
        return self.family

    def stacked(self, t: TensorType, hp: HParams) -> dict[str, tuple[int, ...]]:
        """Weight-sharing supernets: the tensors of ``build(t, hp)`` whose first axis stacks several
        blocks (a fused q/k/v projection), each name mapped to its blocks' sizes in order. A supernet
        cuts such a tensor block by block, so a narrow subnet's k is the wide one's k, not a piece of
        its q. Default: no stacked tensors (only parameters may be stacked, never buffers)."""
        return {}

    def __repr__(self) -> str:
        return f"<op {self.name} ({self.family})>"


def _load_builtin_ops() -> None:
    from nas.searchspace import ops  # noqa: F401  (importing registers every built-in op)


OPS: Registry[OpSpec] = Registry("op", loader=_load_builtin_ops)


def register_op(name: str):
    """Class decorator: set ``name`` on the class and register one instance of it."""

    def deco(cls: type[OpSpec]) -> type[OpSpec]:
        cls.name = name
        if cls.family not in FAMILIES:
            raise NasError(f"op {name!r}: family {cls.family!r} not in {FAMILIES}")
        OPS.add(name, cls())
        return cls

    return deco
