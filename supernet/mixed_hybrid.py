"""The ``hybrid`` space as a mixed network: per stage a mixed token mixer, a soft depth, a soft width and a soft
MLP ratio (FBNetV2-style channel masks), all driven by architecture weights passed to ``forward``.

Reductions (stated in the problem's notes): widths are the space's divided by ``width_div``; every
block keeps one trunk layout (map) and runs the sequence-only mixers between ``map_to_seq`` and
``seq_to_map`` adapters, with GroupNorm(1) as the pre-norm for all mixers; the width mask and the
MLP mask act on the largest width and ratio. The derived architecture is a plain ``hybrid`` architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas.errors import NasError
from nas.searchspace.op_spec import OPS
from nas.searchspace.spaces.hybrid import MIXERS
from nas.searchspace.tensor_type import Layout, TensorType
from nas.supernet.mixed import ChoicePoint, MixedOp, MixedProblem

STAGE_GENES = ("mixer", "depth", "width", "mlp")


def mixer_layout(op: str) -> Layout:
    """The layout a mixer runs in, as the ``hybrid`` space decides it (map when the op accepts maps)."""
    return Layout.MAP if Layout.MAP in OPS.get(op).accepts else Layout.SEQ


def typed_mixer(name: str, t_map: TensorType) -> tuple[TensorType, dict] | None:
    """The mixer's input type and hyper-parameters at a map position ``t_map``, or None when the op does
    not accept that type (e.g. no window divides the grid)."""
    m = MIXERS[name]
    t = TensorType(mixer_layout(m.op), t_map.channels, t_map.height, t_map.width)
    try:
        hp = m.hp(t)
        OPS.get(m.op).check(t, hp)
    except NasError:
        return None
    return t, hp


class _OnMap(nn.Module):
    """Runs a sequence mixer on a map: map → seq → mixer → map."""

    def __init__(self, mixer: nn.Module, t: TensorType) -> None:
        super().__init__()
        self.to_seq = OPS.get("map_to_seq").build(TensorType.map(t.channels, t.height, t.width), {})
        self.mixer = mixer
        self.to_map = OPS.get("seq_to_map").build(t, {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_map(self.mixer(self.to_seq(x)))


def build_mixer(name: str, t_map: TensorType) -> nn.Module:
    typed = typed_mixer(name, t_map)
    if typed is None:
        raise NasError(f"mixer {name!r} does not accept {t_map}")
    t, hp = typed
    spec = OPS.get(MIXERS[name].op)
    module = spec.build(t, spec.check(t, hp))
    return module if t.layout is Layout.MAP else _OnMap(module, t)


class MixedBlock(nn.Module):
    """x + Σ_m w_m · mixer_m(norm1(x)); x + mlp(norm2(x)) with the MLP's hidden units masked (soft MLP ratio)."""

    def __init__(self, t: TensorType, mixers: Sequence[str], max_ratio: float) -> None:
        super().__init__()
        c = t.channels
        self.norm1, self.norm2 = nn.GroupNorm(1, c), nn.GroupNorm(1, c)
        self.mixer = MixedOp([build_mixer(m, t) for m in mixers])
        self.hidden = int(round(c * max_ratio))
        self.fc1, self.act, self.fc2 = nn.Conv2d(c, self.hidden, 1), nn.GELU(), nn.Conv2d(self.hidden, c, 1)

    def forward(self, x, w_mixer, index, hidden_mask, width_mask):
        x = (x + self.mixer(self.norm1(x), w_mixer, index)) * width_mask
        h = self.act(self.fc1(self.norm2(x))) * hidden_mask
        return (x + self.fc2(h)) * width_mask


def soft_mask(weights: torch.Tensor, sizes: Sequence[int], total: int) -> torch.Tensor:
    """Σ_k w_k · [i < sizes_k] over i < total (FBNetV2's channel mask), shape (total,)."""
    ar = torch.arange(total, device=weights.device)
    masks = torch.stack([(ar < s).to(weights.dtype) for s in sizes])
    return weights @ masks


class HybridSearchNet(nn.Module):
    """The ``hybrid`` macro network with every stage's genes relaxed (see the module docstring).

    ``forward(x, weights, index=None)``: ``weights`` holds 4 × (mixer, depth, width, mlp) 1-D tensors in
    the order of ``points``; ``index`` (GDAS) gives one candidate per point, of which only the mixers'
    are used to skip computation.
    """

    def __init__(self, input: TensorType, points: Sequence[ChoicePoint], num_classes: int, width_div: int) -> None:
        super().__init__()
        self.points = tuple(points)
        self.width_div = width_div
        t = input
        self.stage_points = [self.points[4 * s:4 * s + 4] for s in range(4)]
        self.widths = [[max(1, int(w) // width_div) for w in sp[2].candidates] for sp in self.stage_points]
        self.depths = [[int(d) for d in sp[1].candidates] for sp in self.stage_points]
        self.ratios = [[float(r) for r in sp[3].candidates] for sp in self.stage_points]
        c1 = max(self.widths[0])
        stem_hp = {"out": c1, "kernel": 4, "stride": 4, "norm": "ln", "act": "none", "bias": True}
        spec = OPS.get("stem")
        self.stem = spec.build(t, spec.check(t, stem_hp))
        h, w = t.height // 4, t.width // 4
        self.downs = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev = c1
        for s in range(4):
            c = max(self.widths[s])
            if s:
                self.downs.append(nn.Sequential(nn.Conv2d(prev, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c)))
                h, w = h // 2, w // 2
            tm = TensorType.map(c, h, w)
            mixers = self.stage_points[s][0].candidates
            self.stages.append(nn.ModuleList([MixedBlock(tm, mixers, max(self.ratios[s]))
                                              for _ in range(max(self.depths[s]))]))
            prev = c
        self.norm = nn.LayerNorm(prev)
        self.fc = nn.Linear(prev, num_classes)

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor],
                index: Sequence[int] | None = None) -> torch.Tensor:
        if len(weights) != len(self.points):
            raise NasError(f"HybridSearchNet needs {len(self.points)} weight vectors, got {len(weights)}")
        x = self.stem(x)
        for s, blocks in enumerate(self.stages):
            wm, wd, ww, wr = weights[4 * s:4 * s + 4]
            if s:
                x = self.downs[s - 1](x)
            c = x.shape[1]
            width_mask = soft_mask(ww, self.widths[s], c)[None, :, None, None]
            hidden = blocks[0].hidden
            sizes = [int(round(hidden * r / max(self.ratios[s]))) for r in self.ratios[s]]
            hidden_mask = soft_mask(wr, sizes, hidden)[None, :, None, None]
            x = x * width_mask
            k = None if index is None else int(index[4 * s])
            out = x * 0.0
            for b, block in enumerate(blocks):
                x = block(x, wm, k, hidden_mask, width_mask)
                if b + 1 in self.depths[s]:
                    out = out + wd[self.depths[s].index(b + 1)] * x
            x = out
        return self.fc(self.norm(x.mean((2, 3))))


def hybrid_choice_points(space, search_input: TensorType, width_div: int = 4,
                         max_depth: int | None = None) -> tuple[list[ChoicePoint], list[str]]:
    """Per stage: the mixers that accept the stage's tensor type both in the space (at its input) and in
    the reduced search network (at ``search_input``), the depths (up to ``max_depth``), the widths and
    the MLP ratios. Returns the points and notes."""
    notes: list[str] = []
    t = space.input
    h, w = t.height // 4, t.width // 4
    sh, sw = search_input.height // 4, search_input.width // 4
    points: list[ChoicePoint] = []
    for s in range(1, 5):
        if s > 1:
            h, w, sh, sw = h // 2, w // 2, sh // 2, sw // 2
        dims = {g: space._by_name[f"s{s}_{g}"] for g in STAGE_GENES}
        wmax = max(dims["width"].choices)
        t_real = TensorType.map(wmax, h, w)
        t_search = TensorType.map(max(1, wmax // width_div), sh, sw)
        mixers = []
        for m in dims["mixer"].choices:
            if typed_mixer(m, t_real) is None or typed_mixer(m, t_search) is None:
                notes.append(f"stage {s}: mixer {m} does not accept {t_search} here; left out of the search")
            else:
                mixers.append(m)
        depths = tuple(d for d in dims["depth"].choices if max_depth is None or d <= max_depth)
        if len(depths) < len(dims["depth"].choices):
            notes.append(f"stage {s}: depths searched {list(depths)} (max_depth={max_depth})")
        points += [ChoicePoint(f"s{s}_mixer", tuple(mixers), t_real),
                   ChoicePoint(f"s{s}_depth", depths, t_real),
                   ChoicePoint(f"s{s}_width", tuple(dims["width"].choices), t_real),
                   ChoicePoint(f"s{s}_mlp", tuple(dims["mlp"].choices), t_real)]
    return points, notes


def hybrid_problem(space, num_classes: int, width_div: int = 4, max_depth: int | None = None,
                   search_input: TensorType | None = None) -> MixedProblem:
    """The ``hybrid`` space as a MixedProblem: the search network's widths are the space's divided by
    ``width_div`` and it runs at ``search_input`` (default: the space's input); costs stay the space's."""
    if space.name != "hybrid":
        raise NasError(f"hybrid_problem needs the hybrid space, got {space.name!r}")
    if width_div < 1:
        raise NasError(f"width_div={width_div} not allowed; give an integer >= 1")
    search_input = search_input or space.input
    for t in (space.input, search_input):
        if t.height % 32 or t.width % 32:
            raise NasError(f"hybrid needs an input whose sides are multiples of 32 (e.g. 64 or 224), got {t}")
    points, notes = hybrid_choice_points(space, search_input, width_div, max_depth)
    net = HybridSearchNet(search_input, points, num_classes, width_div)
    s = search_input
    notes = [f"search network: widths are the space's divided by {width_div}, input {s.channels}x{s.height}x"
             f"{s.width}; the pre-norm is GroupNorm(1) for every mixer, sequence mixers run between map/seq "
             "adapters; costs and budgets are the space's", *notes]
    return MixedProblem(space, net, tuple(points), {}, tuple(notes), fix=nondecreasing_widths)


def nondecreasing_widths(genes: dict) -> dict:
    """Raise each stage's width to the smallest allowed value not below the previous stage's (the space's
    constraint), keeping widths that already satisfy it."""
    from nas.searchspace.spaces.hybrid import WIDTHS

    out = dict(genes)
    prev = 0
    for s in range(1, 5):
        w = out[f"s{s}_width"]
        if w < prev:
            w = min((c for c in WIDTHS[s - 1] if c >= prev), default=max(WIDTHS[s - 1]))
            out[f"s{s}_width"] = w
        prev = w
    return out
