"""NetSpec: a resolved network, pure data. Costs and builders read it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OPS, OpSpec
from nas.searchspace.tensor_type import TensorType

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Layer:
    """One resolved layer: a registered op with its full hyper-parameters and in/out types."""

    name: str
    op: str
    hp: HParams
    in_type: TensorType
    out_type: TensorType

    @property
    def spec(self) -> OpSpec:
        return OPS.get(self.op)

    @property
    def family(self) -> str:
        return self.spec.family

    def macs(self) -> int:
        return self.spec.macs(self.in_type, self.hp)

    def params(self) -> int:
        return self.spec.params(self.in_type, self.hp)

    def bytes(self, dtype_bytes: int = 4) -> int:
        return self.spec.bytes(self.in_type, self.hp, dtype_bytes)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "hp": self.hp.to_json(),
                "in": self.in_type.to_json(), "out": self.out_type.to_json()}


@dataclass(frozen=True)
class NetSpec:
    """A network as a chain of typed layers (blocks may hold branches and residuals inside).

    Contract: ``layers[0].in_type == input``, each layer's ``in_type`` equals the previous layer's
    ``out_type``, and every layer's hp passed its op's ``check``. Build it with ``resolve_layers``.
    """

    input: TensorType
    layers: tuple[Layer, ...]
    name: str = ""
    meta: HParams = field(default_factory=HParams)

    @property
    def output(self) -> TensorType:
        return self.layers[-1].out_type if self.layers else self.input

    def build(self) -> nn.Module:
        """A plain torch module (``nn.Sequential`` of the layers' modules, named by layer)."""
        from collections import OrderedDict

        from torch import nn

        return nn.Sequential(OrderedDict(
            (layer.name.replace(".", "_"), layer.spec.build(layer.in_type, layer.hp)) for layer in self.layers
        ))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input.to_json(), "meta": self.meta.to_json(),
                "layers": [layer.to_json() for layer in self.layers]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NetSpec:
        """Re-resolve from JSON, so a hand-edited file gets the same type checks."""
        inp = TensorType.from_json(d["input"])
        return resolve_layers(inp, [(l["name"], l["op"], l["hp"]) for l in d["layers"]],
                              name=d.get("name", ""), meta=d.get("meta"))


def resolve_layers(
    input: TensorType,
    layers: Iterable[tuple[str, str, Mapping[str, Any]]],
    *,
    name: str = "",
    meta: Mapping[str, Any] | None = None,
) -> NetSpec:
    """Type-check a chain of (layer name, op name, hp) from ``input`` and return the NetSpec.

    Raises a one-line ``NasError`` naming the layer, the op and both types on a mismatch.
    """
    t = input
    out: list[Layer] = []
    for lname, op, hp in layers:
        spec = OPS.get(op)
        full, t_out = spec.resolve(t, hp, where=lname)
        out.append(Layer(lname, op, full, t, t_out))
        t = t_out
    return NetSpec(input, tuple(out), name, HParams(meta or {}))
