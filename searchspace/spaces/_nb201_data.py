"""Reading NAS-Bench-201 reference data, and the cost terms NASLib's stored FLOPs count beyond ours.

Used by ``tests/test_nb201.py`` and ``experiments/benchmarks/nb201_costs_vs_benchmark.py``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from nas.errors import NasError
from nas.searchspace.netspec import NetSpec
from nas.searchspace.tensor_type import TensorType

ZC_FILE = Path("nas_bench_suite_zero_samples") / "zc_nasbench201.json"
#: NASLib's op indices in its NB201 keys.
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: NASLib key positions are the edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4) on 1-based nodes; the arch
#: string lists (1,2) | (1,3),(2,3) | (1,4),(2,4),(3,4): position in the key of each string token.
_KEY_POS_OF_TOKEN = (0, 1, 3, 2, 4, 5)
#: Input size and classes of each dataset in NASLib's file.
DATASETS = {"cifar10": (TensorType.map(3, 32, 32), 10), "cifar100": (TensorType.map(3, 32, 32), 100),
            "ImageNet16-120": (TensorType.map(3, 16, 16), 120)}


def naslib_key_to_arch_string(key: str | tuple[int, ...]) -> str:
    """``"(4, 3, 3, 3, 2, 3)"`` (NASLib's NB201 key) → the NAS-Bench-201 arch string."""
    ops = ast.literal_eval(key) if isinstance(key, str) else tuple(key)
    if len(ops) != 6 or any(not isinstance(o, int) or not 0 <= o < len(NASLIB_OPS) for o in ops):
        raise NasError(f"bad NASLib NB201 key {key!r}: expected 6 op indices in 0..{len(NASLIB_OPS) - 1}")
    tok = [NASLIB_OPS[ops[p]] for p in _KEY_POS_OF_TOKEN]
    return f"|{tok[0]}~0|+|{tok[1]}~0|{tok[2]}~1|+|{tok[3]}~0|{tok[4]}~1|{tok[5]}~2|"


@dataclass(frozen=True)
class NasLibRecord:
    """One architecture of NASLib's NB201 zero-cost sample: its arch string, stored FLOPs (M) and params (M)."""

    arch: str
    mflops: float
    mparams: float
    val_accuracy: float


def load_naslib_nb201(benchmarks: Path, dataset: str = "cifar10") -> list[NasLibRecord]:
    """The records of one dataset from ``nas_bench_suite_zero_samples/zc_nasbench201.json``."""
    path = benchmarks / ZC_FILE
    if not path.is_file():
        raise NasError(f"NAS-Bench-Suite-Zero file {str(path)!r} not found; set NAS_BENCHMARKS")
    data = json.loads(path.read_text())["nasbench201"]
    if dataset not in data:
        raise NasError(f"unknown dataset {dataset!r}; allowed: {', '.join(sorted(data))}")
    return [NasLibRecord(naslib_key_to_arch_string(k), float(v["flops"]), float(v["params"]),
                         float(v["val_accuracy"])) for k, v in data[dataset].items()]


def naslib_extra_flops(spec: NetSpec) -> int:
    """What NASLib's stored FLOPs count beyond our MACs, for a resolved ``nb201`` NetSpec.

    Established by fitting the 491 × 3 stored values (exact to the last digit):
    - every BatchNorm: 2 per output element; every ReLU: 1 per input element;
    - every average pool: k² per output element (3×3 pools in cells, the 2×2 shortcut pool);
    - the final global average pool: C·(H+1)² on a C×H×W map (an empirical term; it fits both
      32×32 and 16×16 inputs);
    - the classifier's bias is NOT counted (Linear = C·classes, like ours), nor are node sums.
    """
    extra = 0
    for layer in spec.layers:
        t, o = layer.in_type, layer.out_type
        if layer.op == "conv":  # the stem: conv + BN
            extra += 2 * o.numel
        elif layer.op == "nb201_cell":
            for e in layer.hp["edges"]:
                if e.startswith("nor_conv"):
                    extra += 3 * t.numel
                elif e == "avg_pool_3x3":
                    extra += 9 * t.numel
        elif layer.op == "nb201_reduction":
            extra += (t.numel + 2 * o.numel) + (o.numel + 2 * o.numel) + 4 * t.channels * o.height * o.width
        elif layer.op == "nb201_head":
            extra += 3 * t.numel + t.channels * (t.height + 1) * (t.width + 1)
        else:
            raise NasError(f"naslib_extra_flops: unexpected layer {layer.name!r} ({layer.op}) in an nb201 net")
    return extra
