"""The project's default space (``hybrid``): a 4-stage MetaFormer macro space over every mixer family."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from nas.errors import NasError
from nas.searchspace.hparams import HParams
from nas.searchspace.op_spec import OPS
from nas.searchspace.space import Dimension, SearchSpace, register_space
from nas.searchspace.spaces._shrink import (
    capped_depths,
    check_max_depth,
    check_width_mult,
    scaled_widths,
    shrink_config,
)
from nas.searchspace.tensor_type import Layout, TensorType

HEAD_DIM = 32
#: head counts the space derives from (the ops take any divisor of the width; this keeps the space's networks)
HEAD_CHOICES = (1, 2, 4, 6, 8, 12, 16)
WINDOW = 7


def derived_heads(width: int) -> int:
    """The largest allowed head count ≤ width / 32 that divides the width (head dim ≥ 32), at least 1."""
    fits = [h for h in HEAD_CHOICES if h <= max(1, width // HEAD_DIM) and width % h == 0]
    return max(fits)


def derived_window(t: TensorType) -> int:
    """The largest allowed window ≤ 7 that divides both grid sides (7 at 224², 4 on the 16/8/4 grids at 64²)."""
    allowed = OPS.get("window_attention").domain["window"]
    fits = [w for w in allowed if w <= WINDOW and t.height % w == 0 and t.width % w == 0]
    if not fits:
        raise NasError(f"window_attention: no window in {list(allowed)} up to {WINDOW} divides the grid "
                       f"{t.height}x{t.width}; choose another input size")
    return max(fits)


@dataclass(frozen=True)
class Mixer:
    """One token-mixer choice of the space: the op and how its hyper-parameters follow from the stage."""

    op: str
    family: str
    hp: Callable[[TensorType], dict[str, Any]]


def _fixed(**hp: Any) -> Callable[[TensorType], dict[str, Any]]:
    return lambda t: dict(hp)


MIXERS: dict[str, Mixer] = {
    "dwconv3": Mixer("dwconv", "conv", _fixed(kernel=3)),
    "dwconv7": Mixer("dwconv", "conv", _fixed(kernel=7)),
    "dwconv13": Mixer("dwconv", "conv", _fixed(kernel=13)),
    "dwconv31": Mixer("dwconv", "conv", _fixed(kernel=31)),
    "inception_dw": Mixer("inception_dw", "conv", _fixed()),
    "mhsa": Mixer("mhsa", "attention", lambda t: {"heads": derived_heads(t.channels)}),
    "window_attention": Mixer("window_attention", "attention",
                              lambda t: {"window": derived_window(t), "heads": derived_heads(t.channels)}),
    "linear_attention": Mixer("linear_attention", "attention", lambda t: {"heads": derived_heads(t.channels)}),
    "s4d": Mixer("s4d", "ssm", _fixed(state=16)),
    "mamba": Mixer("mamba", "ssm", _fixed(state=16, expand=2)),
    "token_mlp": Mixer("token_mlp", "mlp", _fixed(ratio=0.5)),
    "fft_filter": Mixer("fft_filter", "spectral", _fixed()),
    "identity": Mixer("identity", "paramfree", _fixed()),
    "pool_mixer": Mixer("pool_mixer", "paramfree", _fixed()),
    "channel_shift": Mixer("channel_shift", "paramfree", _fixed()),
}
#: Mixers whose cost grows with the square of the token count: only on the 1/16 and 1/32 grids.
GLOBAL_MIXERS = ("mhsa", "token_mlp")
LOCAL_MIXERS = tuple(m for m in MIXERS if m not in GLOBAL_MIXERS)

WIDTHS = ((32, 48, 64, 96), (64, 96, 128, 192), (128, 192, 256, 320, 384), (256, 320, 384, 512))
DEPTHS = ((1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 6, 8), (1, 2, 3, 4))
MLP_RATIOS = (2, 3, 4)


@register_space
class HybridSpace(SearchSpace):
    """4-stage MetaFormer-style hybrid space over conv, attention, SSM, MLP/spectral and parameter-free mixers.

    Network: ``stem`` 4×4/4 (LayerNorm, as ConvNeXt) to the first width; four stages at strides
    4/8/16/32, each ``depth`` ``metaformer`` blocks sharing one token mixer; a 3×3/2 conv+BN
    ``downsample`` before stages 2-4; ``head`` (pool, LayerNorm, Linear). Defaults: 3×224×224, 1000 classes.

    Genes per stage s = 1..4: ``s{s}_mixer`` (unordered; stages 1-2 exclude the quadratic global
    mixers mhsa and token_mlp), ``s{s}_depth``, ``s{s}_width`` (per-stage sets, see ``WIDTHS``),
    ``s{s}_mlp`` (MLP expansion 2/3/4). Smaller variants (e.g. a supernet affordable on a CPU):
    ``width_mult`` scales every width choice (rounded to multiples of 8, at least 8, duplicates
    dropped), ``max_depth`` drops depth choices above it and ``mixers`` keeps only those mixer
    choices; each appears in ``config()`` when set. Constraint: widths never decrease from stage to stage.
    Derived mixer settings: attention heads = the largest allowed count ≤ width/32 dividing the width;
    window_attention uses window 7, or when 7 does not divide the grid (e.g. 16×16 at 64² input) the
    largest allowed window ≤ 7 that does (4 at 64²); s4d state 16; mamba state 16, expand 2;
    token_mlp ratio 0.5. A stage whose mixer takes only sequences (attention) runs in SEQ layout,
    entered by ``map_to_seq`` and left by ``seq_to_map`` only when the next stage needs a map.
    """

    name = "hybrid"

    def __init__(self, input: TensorType | None = None, num_classes: int | None = None, width_mult: float = 1.0,
                 max_depth: int | None = None, mixers: Sequence[str] | None = None) -> None:
        width_mult, max_depth = check_width_mult("hybrid", width_mult), check_max_depth("hybrid", max_depth)
        if mixers is not None:
            if isinstance(mixers, str) or not mixers or any(m not in MIXERS for m in mixers):
                raise NasError(f"hybrid mixers={mixers!r} not allowed; give a non-empty subset of {', '.join(MIXERS)}")
            mixers = tuple(m for m in MIXERS if m in set(mixers))
        self.width_mult, self.max_depth, self.mixers = width_mult, max_depth, mixers
        super().__init__(input, num_classes)

    def config(self) -> dict[str, Any]:
        extra: dict[str, Any] = shrink_config(self.width_mult, self.max_depth)
        if self.mixers is not None:
            extra["mixers"] = list(self.mixers)
        return {**super().config(), **extra}

    def stage_widths(self, s: int) -> tuple[int, ...]:
        """Stage ``s`` (0-based) width choices: ``WIDTHS[s]`` × ``width_mult``, rounded to multiples of 8
        (at least 8), duplicates dropped."""
        return scaled_widths(WIDTHS[s], self.width_mult)

    def stage_depths(self, s: int) -> tuple[int, ...]:
        """Stage ``s`` (0-based) depth choices: ``DEPTHS[s]`` up to ``max_depth``."""
        return capped_depths(DEPTHS[s], self.max_depth)

    def _fits(self, mixer: str, s: int) -> bool:
        """Whether ``mixer`` can run at stage ``s``'s grid (input / 4 / 2**s; e.g. window_attention needs
        a window dividing it, channel_shift a grid larger than its shift)."""
        m = MIXERS[mixer]
        spec = OPS.get(m.op)
        layout = Layout.MAP if Layout.MAP in spec.accepts else Layout.SEQ
        t = TensorType(layout, self.stage_widths(s)[0], self.input.height // 4 >> s, self.input.width // 4 >> s)
        try:
            spec.resolve(t, m.hp(t))
        except NasError:
            return False
        return True

    def dimensions(self) -> Sequence[Dimension]:
        dims = []
        for s in range(4):
            mixers = tuple(m for m in (LOCAL_MIXERS if s < 2 else tuple(MIXERS))
                           if (self.mixers is None or m in self.mixers) and self._fits(m, s))
            if not mixers:
                raise NasError(f"hybrid: no mixer of {list(self.mixers or MIXERS)} can run at stage {s + 1} "
                               f"of input {self.input}; allowed at that stage: "
                               f"{', '.join(m for m in (LOCAL_MIXERS if s < 2 else MIXERS) if self._fits(m, s))}")
            dims += [Dimension(f"s{s + 1}_mixer", mixers, ordered=False),
                     Dimension(f"s{s + 1}_depth", self.stage_depths(s)),
                     Dimension(f"s{s + 1}_width", self.stage_widths(s)), Dimension(f"s{s + 1}_mlp", MLP_RATIOS)]
        return dims

    def is_valid(self, genes: HParams) -> bool:
        widths = [genes[f"s{s}_width"] for s in range(1, 5)]
        return all(a <= b for a, b in pairwise(widths))

    def layers(self, genes: HParams, input: TensorType) -> list[tuple[str, str, Mapping[str, Any]]]:
        w1 = genes["s1_width"]
        out: list[tuple[str, str, Mapping[str, Any]]] = [
            ("stem", "stem", {"out": w1, "kernel": 4, "stride": 4, "norm": "ln", "act": "none", "bias": True})]
        t = OPS.get("stem").resolve(input, out[0][2], where="stem")[1]
        for s in range(1, 5):
            width, mixer = genes[f"s{s}_width"], MIXERS[genes[f"s{s}_mixer"]]
            if s > 1:
                out.append((f"down{s}", "downsample", {"out": width, "kind": "conv"}))
                if t.height % 2 or t.width % 2:
                    raise NasError(f"hybrid: input {input} gives a {t.height}x{t.width} grid before stage {s}; "
                                   "the downsample needs even sides (use a multiple of 32, e.g. 224 or 64)")
                t = TensorType(t.layout, width, t.height // 2, t.width // 2)
            layout = Layout.MAP if Layout.MAP in OPS.get(mixer.op).accepts else Layout.SEQ
            if layout is not t.layout:
                out.append((f"stage{s}.to_{layout.value}", "map_to_seq" if layout is Layout.SEQ else "seq_to_map", {}))
                t = TensorType(layout, t.channels, t.height, t.width)
            block = {"mixer": mixer.op, "mixer_hp": mixer.hp(t), "mlp_ratio": genes[f"s{s}_mlp"]}
            out += [(f"stage{s}.{b}", "metaformer", block) for b in range(1, genes[f"s{s}_depth"] + 1)]
        out.append(("head", "head", {"classes": self.num_classes, "hidden": 0, "norm": "ln"}))
        return out
