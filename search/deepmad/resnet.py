"""The ``resnet`` space as a DeepMAD grid model: exact vectorised metrics and a smooth relaxation.

Every formula below is the closed form of the ops the space resolves to (``conv`` stem,
``resnet_basic`` / ``resnet_bottleneck`` blocks, ``head``), written once over numpy arrays so that
thousands of candidate networks evaluate in one call; ``tests/test_deepmad.py`` checks them against
the NetSpec path exactly (integer FLOPs and params, score to 1e-9).

The relaxation (``ResNetRelaxation``) treats log-widths, log-bottlenecks, log-kernels and depths as
continuous: the same formulas, with every first block of a stage projecting its shortcut (true
unless a stride-1 stage keeps its width), and the depth std smoothed at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas.predictors.deepmad import DeepMADConfig
from nas.search.deepmad.problem import GridRows
from nas.searchspace.space import SearchSpace

STEM_KERNEL = 3
STEM_STRIDE = 2
BOTTLENECK = "resnet_bottleneck"
SMOOTH = 1e-3  # the relaxation's depth std is sqrt(var + SMOOTH): differentiable at equal depths
METRIC_SET = frozenset({"flops_analytic", "params_analytic", "flops_tinynas", "params_tinynas", "peak", "widths_ok"})


def _out_size(size: int, stride: int) -> int:
    """conv_out for an odd kernel k with padding k//2."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class _Geometry:
    """Positions (H·W) at every point of the network; fixed by the input and the strides."""

    p0: int            # input positions
    p_stem: int        # after the stem
    p_in: tuple[int, ...]
    p_out: tuple[int, ...]
    strides: tuple[int, ...]


@dataclass(frozen=True)
class PracticalRules:
    """Resolution-aware structure (``DeepMADConstraints.practical``): a stage whose blocks run on an S×S
    map uses kernels k <= max(3, S) and at most max(1, S) blocks; every block's mid width is at least
    ``min_mid`` and at least its width / ``max_ratio``. Without them DeepMAD's score favours 28 blocks
    with 5×5 kernels on 2×2 maps and 8-channel bottlenecks in 1,792-wide blocks on small inputs."""

    min_mid: int = 16
    max_ratio: int = 4

    def kernels(self, side: int, choices: Sequence[int]) -> list[int]:
        return [k for k in choices if k <= max(min(choices), side)]

    def depths(self, side: int, choices: Sequence[int]) -> list[int]:
        return [d for d in choices if d <= max(min(choices), side)]

    def mids(self, choices: Sequence[int]) -> list[int]:
        kept = [m for m in choices if m >= self.min_mid]
        return kept or [max(choices)]


PRACTICAL = PracticalRules()


class ResNetModel(GridRows):
    """DeepMAD grid model of a ``resnet`` space instance (see ``nas.search.deepmad.problem.GridModel``).

    ``rules`` (``PracticalRules``) narrows the grid per stage (kernels, depths, mids) and adds the
    mid ≥ width / ratio rule to ``widths_ok``; None is the published program's full grid."""

    def __init__(self, space: SearchSpace, config: DeepMADConfig | None = None,
                 rules: PracticalRules | None = None) -> None:
        from nas.searchspace.spaces import resnet as rs

        self.space = space
        self.config = config or DeepMADConfig()
        self.dims = space.dims
        self.names = [d.name for d in self.dims]
        self.n_stages = len(rs.STRIDES)
        self.values = [np.array([v if not isinstance(v, str) else int(v == BOTTLENECK) for v in d.choices],
                                dtype=np.int64) for d in self.dims]
        self.col = {n: i for i, n in enumerate(self.names)}
        c_in0, h, w = space.input.channels, space.input.height, space.input.width
        self.c_in0, self.classes = c_in0, space.num_classes
        hs, ws = _out_size(h, STEM_STRIDE), _out_size(w, STEM_STRIDE)
        p_in, p_out = [], []
        for s in rs.STRIDES:
            p_in.append(hs * ws)
            hs, ws = _out_size(hs, s), _out_size(ws, s)
            p_out.append(hs * ws)
        self.geo = _Geometry(h * w, _out_size(h, STEM_STRIDE) * _out_size(w, STEM_STRIDE), tuple(p_in),
                             tuple(p_out), tuple(rs.STRIDES))
        # a stage ends before every block that reduces the positions, and after the last block
        self.records = [s for s in range(self.n_stages) if p_out[s] < p_in[s]]
        self.alpha = np.array(self.config.weights(len(self.records) + 1))
        self._alpha = [float(a) for a in self.alpha]
        self._log_p = [math.log(p_in[s]) for s in self.records] + [math.log(p_out[-1])]
        self._pin, self._pout = np.array(p_in), np.array(p_out)
        self._stride2 = np.array(rs.STRIDES) != 1
        self.rules = rules
        if rules is not None:
            self._restrict(rules, [int(math.isqrt(int(p))) for p in p_out])

    def _restrict(self, rules: PracticalRules, sides: list[int]) -> None:
        """Keep only the choices ``rules`` allow at each stage's output side."""
        from nas.searchspace.space import Dimension

        dims = list(self.dims)
        for i, d in enumerate(dims):
            name = d.name
            if not name.startswith("s") or "_" not in name:
                continue
            stage, gene = int(name[1:name.index("_")]), name[name.index("_") + 1:]
            side = sides[stage - 1]
            keep = {"kernel": lambda c, s=side: rules.kernels(s, c), "depth": lambda c, s=side: rules.depths(s, c),
                    "mid": rules.mids}.get(gene)
            if keep is None:
                continue
            choices = tuple(keep(list(d.choices)))
            dims[i] = Dimension(name, choices, ordered=d.ordered, log=d.log and len(choices) >= 2)
            self.values[i] = np.array(choices, dtype=np.int64)
        self.dims = tuple(dims)

    # -- genes <-> index rows ---------------------------------------------------------------------
    def genes(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Gene values (block: 1 for bottleneck, 0 for basic) as int64 arrays."""
        return {n: self.values[i][idx[:, i]] for i, n in enumerate(self.names)}

    # -- exact metrics ----------------------------------------------------------------------------
    def evaluate(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, len(self.dims))
        if len(idx) == 1:  # one candidate: plain Python numbers are ~20x faster than numpy scalars
            v = [int(self.values[i][j]) for i, j in enumerate(idx[0])]
            out = self.metrics(v[0], v[1::5], v[2::5], v[3::5], v[4::5], v[5::5], scalar=True)
            return {k: np.array([float(x)]) for k, x in out.items()}
        g = self.genes(idx)
        def cols(gene: str) -> np.ndarray:
            return np.stack([g[f"s{s}_{gene}"] for s in range(1, self.n_stages + 1)], axis=1)

        return self.stacked(g["stem"], cols("block"), cols("out"), cols("mid"), cols("kernel"), cols("depth"))

    def stacked(self, stem, b, o, m, k, d, need: frozenset[str] | None = None,
                smooth: float = 0.0) -> dict[str, np.ndarray]:
        """The metrics of many networks at once, stages as columns (n × 5 arrays; stem of shape n).

        Integer arrays give exact integer FLOPs and params; float arrays are the relaxation (every
        stage's first block then projects its shortcut). Same formulas as ``metrics``, vectorised over
        stages too, for speed; both are tested against the NetSpec path. ``need`` limits the cost
        metrics computed (score, rho and layers always are); ``smooth`` smooths the depth std.
        """
        need = METRIC_SET if need is None else need
        geo, half = self.geo, self.config.half
        exact = np.asarray(stem).dtype.kind in "iu"
        pin, pout, stride2 = self._pin, self._pout, self._stride2
        cin = np.concatenate([stem[:, None], o[:, :-1]], axis=1)
        proj = ((cin != o) | stride2) if exact else 1.0
        nb, k2, rest = 1 - b, k * k, d - 1
        mo = m * o
        mk = m * m * k2
        out: dict[str, np.ndarray] = {}
        k2s = self.c_in0 * STEM_KERNEL ** 2
        if need & {"flops_analytic", "flops_tinynas"}:
            m_first = (b * (cin * m * pin + (mk + mo) * pout) + nb * ((cin * m + mo) * k2 * pout)
                       + proj * cin * o * pout)
            m_rest = (b * (2 * mo + mk) + nb * (2 * mo * k2)) * pout
            stem_macs = k2s * stem * geo.p_stem
            macs_body = (m_first + rest * m_rest).sum(axis=1)
            if "flops_analytic" in need:
                out["flops_analytic"] = np.asarray(stem_macs + macs_body + o[:, -1] * self.classes, dtype=np.float64)
            if "flops_tinynas" in need:
                t_first = (b * (3 * m * pin) + (3 * m + 3 * o) * pout * (b + nb) + stride2 * cin * pin
                           + proj * 3 * o * pout)
                t_rest = (b * (6 * m * pout) + nb * (3 * m * pout) + 3 * o * pout)
                out["flops_tinynas"] = np.asarray(stem_macs + 3 * stem * geo.p_stem + macs_body
                                                  + (t_first + rest * t_rest).sum(axis=1), dtype=np.float64)
        if need & {"params_analytic", "params_tinynas"}:
            p_first = (b * (cin * m + mk + mo + 4 * m + 2 * o) + nb * ((cin * m + mo) * k2 + 2 * m + 2 * o)
                       + proj * (cin * o + 2 * o))
            p_rest = b * (2 * mo + mk + 4 * m + 2 * o) + nb * (2 * mo * k2 + 2 * m + 2 * o)
            params_body = k2s * stem + 2 * stem + (p_first + rest * p_rest).sum(axis=1)
            out["params_tinynas"] = np.asarray(params_body, dtype=np.float64)
            out["params_analytic"] = np.asarray(params_body + o[:, -1] * self.classes + self.classes, dtype=np.float64)
        lc, lo, lm, lk2 = np.log(cin), np.log(o), np.log(m), np.log(k2)
        e_first = lc + lk2 + lm + b * lm + nb * lk2
        e_rest = lo + lk2 + lm + b * lm + nb * lk2
        ent0 = half * math.log(k2s)
        ent = ent0 + half * np.cumsum(e_first + rest * e_rest, axis=1)      # after each stage
        layers = 1 + np.cumsum((2 + b) * d, axis=1)
        if "peak" in need:
            peak = np.maximum(self.c_in0 * geo.p0 + stem * geo.p_stem, o[:, -1] * pout[-1] + self.classes)
            peak = np.maximum(peak, np.max(np.maximum(cin * pin + o * pout, (d > 1) * 2 * o * pout), axis=1))
            out["peak"] = np.asarray(peak, dtype=np.float64)
        if "widths_ok" in need:
            out["widths_ok"] = np.all(o >= cin, axis=1).astype(np.float64)
        if self.rules is not None:  # graded, so repair can descend on it
            out["mid_excess"] = np.maximum(o / (m * self.rules.max_ratio) - 1.0, 0.0).sum(axis=1)
        n = len(stem)
        rec_c = [cin[:, s] for s in self.records] + [o[:, -1]]
        rec_e = [ent[:, s - 1] if s else np.full(n, ent0) for s in self.records] + [ent[:, -1]]
        rec_l = [layers[:, s - 1] if s else np.ones(n) for s in self.records] + [layers[:, -1]]
        score = sum(a * (np.log(c) + lp) * e for a, lp, c, e in zip(self._alpha, self._log_p, rec_c, rec_e))
        e_all, l_all = np.stack(rec_e, axis=1), np.stack(rec_l, axis=1)
        rho = l_all / np.exp(e_all / (half * l_all))
        out.update(score=score - self.penalty(list(d.T), smooth), rho=rho.max(axis=1), rho_stages=rho,
                   layers=np.asarray(layers[:, -1], dtype=np.float64))
        return out

    def metrics(self, stem, blocks, outs, mids, kernels, depths, scalar: bool = False) -> dict[str, np.ndarray]:
        """Every DeepMAD metric from gene arrays (shape n; floats allowed, for the relaxation), or from
        plain Python numbers with ``scalar``. Integer genes give exact integer FLOPs and params."""
        geo, half = self.geo, self.config.half
        lg, ex, mx = (math.log, math.exp, max) if scalar else (np.log, np.exp, np.maximum)
        exact = scalar or np.asarray(stem).dtype.kind in "iu"
        if not scalar:
            stem = np.asarray(stem, dtype=np.int64 if exact else np.float64)
        k2s = self.c_in0 * STEM_KERNEL ** 2
        macs = k2s * stem * geo.p_stem
        params = k2s * stem + 2 * stem
        tiny = macs + 3 * stem * geo.p_stem
        peak = self.c_in0 * geo.p0 + stem * geo.p_stem
        ent = half * math.log(k2s) + 0 * stem
        n_layers = 1 + 0 * stem
        rec_c, rec_p, rec_e, rec_l = [], [], [], []
        c_in = stem
        widths_ok = True
        mid_excess = 0.0
        for s in range(self.n_stages):
            b, o, m, k, d = blocks[s], outs[s], mids[s], kernels[s], depths[s]
            pin, pout, stride = geo.p_in[s], geo.p_out[s], geo.strides[s]
            if s in self.records:
                rec_c.append(c_in), rec_p.append(pin), rec_e.append(ent), rec_l.append(n_layers)
            widths_ok = widths_ok & (o >= c_in)
            if self.rules is not None:
                mid_excess = mid_excess + np.maximum(o / (m * self.rules.max_ratio) - 1.0, 0.0)
            proj = (c_in != o) | (stride != 1) if exact else 1.0
            k2 = k * k
            rest = d - 1
            # bottleneck (b = 1) and basic (b = 0) side by side, selected arithmetically
            bm_first = c_in * m * pin + m * m * k2 * pout + m * o * pout
            bm_rest = 2 * m * o * pout + m * m * k2 * pout
            bp_first = c_in * m + m * m * k2 + m * o + 4 * m + 2 * o
            bp_rest = 2 * m * o + m * m * k2 + 4 * m + 2 * o
            bt_first = 3 * m * pin + 3 * m * pout + 3 * o * pout
            bt_rest = 6 * m * pout + 3 * o * pout
            sm_first = c_in * m * k2 * pout + m * o * k2 * pout
            sm_rest = 2 * o * m * k2 * pout
            sp_first = c_in * m * k2 + m * o * k2 + 2 * m + 2 * o
            sp_rest = 2 * o * m * k2 + 2 * m + 2 * o
            st_first = 3 * m * pout + 3 * o * pout
            st_rest = 3 * m * pout + 3 * o * pout
            nb = 1 - b
            m_first = b * bm_first + nb * sm_first + proj * c_in * o * pout
            m_rest = b * bm_rest + nb * sm_rest
            macs = macs + m_first + rest * m_rest
            params = params + b * bp_first + nb * sp_first + proj * (c_in * o + 2 * o) + rest * (b * bp_rest + nb * sp_rest)
            tiny = (tiny + m_first + rest * m_rest + b * bt_first + nb * st_first + rest * (b * bt_rest + nb * st_rest)
                    + (c_in * pin if stride != 1 else 0) + proj * 3 * o * pout)
            lc, lo, lm, lk2 = lg(c_in), lg(o), lg(m), lg(k2)
            e_first = b * (lc + lk2 + 2 * lm) + nb * (lc + lm + 2 * lk2)
            e_rest = b * (lo + lk2 + 2 * lm) + nb * (lo + lm + 2 * lk2)
            ent = ent + half * (e_first + rest * e_rest)
            n_layers = n_layers + (2 + b) * d
            peak = mx(peak, c_in * pin + o * pout)
            peak = mx(peak, (d > 1) * 2 * o * pout)
            c_in = o
        rec_c.append(c_in), rec_p.append(geo.p_out[-1]), rec_e.append(ent), rec_l.append(n_layers)
        macs = macs + c_in * self.classes
        params = params + c_in * self.classes + self.classes
        peak = mx(peak, c_in * geo.p_out[-1] + self.classes)
        score = 0.0
        rhos = []
        for a, c, p, e, nl in zip(self.alpha, rec_c, rec_p, rec_e, rec_l):
            score = score + float(a) * (lg(c) + math.log(p)) * e
            rhos.append(nl / ex(e / half / nl))
        f = float if scalar else (lambda x: np.asarray(x, dtype=np.float64))
        out = {"score": f(score - self.penalty(depths, scalar=scalar)), "flops_analytic": f(macs),
               "params_analytic": f(params), "flops_tinynas": f(tiny),
               "params_tinynas": f(params - c_in * self.classes - self.classes),
               "rho": f(max(rhos) if scalar else np.max(np.stack([r + 0 * stem for r in rhos]), axis=0)),
               "layers": f(n_layers), "peak": f(peak), "widths_ok": f(widths_ok)}
        if self.rules is not None:
            out["mid_excess"] = f(mid_excess + 0 * stem)
        if not scalar:
            out["rho_stages"] = np.stack([r + 0.0 * stem for r in rhos], axis=1)
        return out

    def penalty(self, depths, smooth: float = 0.0, scalar: bool = False):
        """β·exp(std) over the configured depth entries; ``smooth`` > 0 gives exp(sqrt(var + smooth))."""
        cfg = self.config
        if cfg.penalty_stages == "none" or cfg.beta == 0:
            return 0.0 * depths[0]
        used = depths[2:] if cfg.penalty_stages == "released" else depths
        if not used:
            return cfg.beta + 0.0 * depths[0]
        n = len(used)
        mean = sum(used) / n
        var = sum((x - mean) * (x - mean) for x in used) / n
        if scalar:
            return cfg.beta * math.exp(math.sqrt(var + smooth))
        return cfg.beta * np.exp(np.sqrt(var + smooth))


class ResNetRelaxation:
    """The continuous program of a ``resnet`` space.

    Variables z = [log stem, log out₁..₅, log mid₁..₅, log kernel₁..₅, depth₁..₅, b₁..₅], bounded by
    the space's ranges. bᵢ ∈ [0, 1] mixes the bottleneck (1) and basic (0) formulas linearly, so one
    program covers every block-type assignment (``blocks`` pins them instead). ``evaluate(Z)`` gives
    the metrics of many points at once (rows of Z), which the program uses for its gradients.
    """

    def __init__(self, model: ResNetModel, blocks: Sequence[int] | None = None,
                 need: frozenset[str] | None = None) -> None:
        self.model = model
        self.need = need
        v = {n: model.values[i] for i, n in enumerate(model.names)}
        n = model.n_stages
        self.n = n
        lo, hi = [math.log(v["stem"].min())], [math.log(v["stem"].max())]
        for gene in ("out", "mid", "kernel"):
            lo += [math.log(v[f"s{s}_{gene}"].min()) for s in range(1, n + 1)]
            hi += [math.log(v[f"s{s}_{gene}"].max()) for s in range(1, n + 1)]
        lo += [float(v[f"s{s}_depth"].min()) for s in range(1, n + 1)]
        hi += [float(v[f"s{s}_depth"].max()) for s in range(1, n + 1)]
        lo += [0.0] * n
        hi += [1.0] * n
        self.lower, self.upper = np.array(lo), np.array(hi)
        if blocks is not None:
            self.lower[1 + 4 * n:] = self.upper[1 + 4 * n:] = np.asarray(blocks, dtype=np.float64)

    @property
    def size(self) -> int:
        return len(self.lower)

    def linear_ge(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(A, c) with A z + c >= 0 required: the practical rules' log mid >= log width - log ratio."""
        rules = self.model.rules
        if rules is None:
            return None
        n = self.n
        a = np.zeros((n, self.size))
        for s in range(n):
            a[s, 1 + n + s], a[s, 1 + s] = 1.0, -1.0
        return a, np.full(n, math.log(rules.max_ratio))

    def widths_order(self) -> list[tuple[int, int]]:
        """(i, j) pairs with z[i] <= z[j] for non-decreasing widths (stem, then stage outputs)."""
        return [(i, i + 1) for i in range(self.n)]

    def split(self, z: np.ndarray):
        n = self.n
        z = np.atleast_2d(z)
        ex = np.exp(z[:, : 1 + 3 * n])
        stem = ex[:, 0]
        outs = [ex[:, 1 + s] for s in range(n)]
        mids = [ex[:, 1 + n + s] for s in range(n)]
        kernels = [ex[:, 1 + 2 * n + s] for s in range(n)]
        depths = [z[:, 1 + 3 * n + s] for s in range(n)]
        blocks = [z[:, 1 + 4 * n + s] for s in range(n)]
        return stem, blocks, outs, mids, kernels, depths

    def evaluate(self, z: np.ndarray) -> dict[str, np.ndarray]:
        n = self.n
        z = np.atleast_2d(z)
        ex = np.exp(z[:, : 1 + 3 * n])
        d = z[:, 1 + 3 * n: 1 + 4 * n]
        return self.model.stacked(ex[:, 0], z[:, 1 + 4 * n:], ex[:, 1: 1 + n], ex[:, 1 + n: 1 + 2 * n],
                                  ex[:, 1 + 2 * n: 1 + 3 * n], d, self.need, smooth=SMOOTH)

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """A random starting point: small widths (the budget then binds from below), random depths
        and block mixes."""
        z = self.lower + rng.uniform(0.0, 0.3, self.size) * (self.upper - self.lower)
        n = self.n
        z[1 + 3 * n: 1 + 4 * n] = rng.uniform(self.lower[1 + 3 * n: 1 + 4 * n], self.upper[1 + 3 * n: 1 + 4 * n])
        z[1 + 4 * n:] = self.lower[1 + 4 * n:] + rng.uniform(0, 1, n) * (self.upper[1 + 4 * n:] - self.lower[1 + 4 * n:])
        return z

    def to_values(self, z: np.ndarray) -> dict[str, float]:
        """The continuous solution as gene values (block: the bottleneck share b) for rounding."""
        stem, blocks, outs, mids, kernels, depths = self.split(z)
        out = {"stem": float(stem[0])}
        for s in range(self.n):
            out.update({f"s{s + 1}_out": float(outs[s][0]), f"s{s + 1}_mid": float(mids[s][0]),
                        f"s{s + 1}_kernel": float(kernels[s][0]), f"s{s + 1}_depth": float(depths[s][0]),
                        f"s{s + 1}_block": float(blocks[s][0])})
        return out
