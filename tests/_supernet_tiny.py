"""A tiny space for supernet tests (``register()`` adds it to the space registry): elastic width and depth, and a position whose
op is a choice between ``mbconv`` and ``fft_filter`` (which cannot export to ONNX)."""

from __future__ import annotations

from nas.searchspace.space import SPACES, Dimension, SearchSpace, register_space
from nas.searchspace.tensor_type import TensorType


class TinySpace(SearchSpace):
    name = "tiny_test"
    default_input = TensorType.map(1, 8, 8)
    default_num_classes = 10

    def dimensions(self):
        return [Dimension("width", (4, 8)), Dimension("depth", (1, 2)), Dimension("kernel", (3, 5)),
                Dimension("mixer", ("mbconv", "fft_filter"), ordered=False)]

    def layers(self, genes, input):
        w = genes["width"]
        out = [("stem", "stem", {"out": w, "kernel": 3, "stride": 1, "act": "relu"})]
        for b in range(1, genes["depth"] + 1):
            if genes["mixer"] == "mbconv":
                out.append((f"mix{b}", "mbconv", {"out": w, "expand": 3, "kernel": genes["kernel"], "se": 0.25}))
            else:
                out.append((f"mix{b}", "fft_filter", {}))
        out.append(("head", "head", {"classes": self.num_classes}))
        return out


def register() -> None:
    if "tiny_test" not in SPACES:
        register_space(TinySpace)


def unregister() -> None:
    SPACES._items.pop("tiny_test", None)  # keep other test modules' view of the registry clean
