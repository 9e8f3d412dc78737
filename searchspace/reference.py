"""Reference networks resolvable by name (``resnet50``, ``mobilenetv2_100``...)."""

from __future__ import annotations

from collections.abc import Callable

from nas.searchspace.netspec import NetSpec
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import TensorType

ReferenceBuilder = Callable[[TensorType, int], NetSpec]


def _load_builtin_references() -> None:
    from nas.searchspace import spaces  # noqa: F401


REFERENCES: Registry[ReferenceBuilder] = Registry("reference network", loader=_load_builtin_references)


def reference_net(name: str, input: TensorType | None = None, num_classes: int | None = None) -> NetSpec:
    """The NetSpec of a registered reference network (default input 3×224×224, 1000 classes)."""
    return REFERENCES.get(name)(input or TensorType.map(3, 224, 224), 1000 if num_classes is None else num_classes)
