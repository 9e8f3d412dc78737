"""The ``hybrid`` space as a DeepMAD grid model, and its exact integer program (``scipy.optimize.milp``).

Every stage of the space repeats one MetaFormer block, so a network's metrics are sums over small
per-stage tables: block costs and entropy terms per (mixer, width, MLP ratio), downsample terms per
(previous width, width). The tables are filled from the ops' own closed forms (``OPS[...]``) and the
score's fan-in rules (``nas.predictors.deepmad.fan_ins``), so the model equals the NetSpec path
exactly (tested).

The integer program over the grid (``solve_milp``): one binary per stage configuration (mixer, depth,
width, MLP), one per pair of consecutive widths (the downsample between them), one per tuple of the
depths the penalty looks at. The cumulative entropies Eⱼ are continuous; the score's products
(log Cⱼ + log Rⱼ²)·Eⱼ are linearised exactly with one variable per (stage, width) (McCormick on a
binary); ρⱼ ≤ ρ₀ reads LWⱼ ≥ Lⱼ·log(Lⱼ/ρ₀), a convex function of the integer layer count Lⱼ, written
as its secants through consecutive integers (exact at integers). FLOPs, params, layer count and the
largest feature map are linear. HiGHS solves it to optimality.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from nas.errors import NasError
from nas.predictors.deepmad import DeepMADConfig, fan_ins
from nas.search.deepmad.problem import DeepMADConstraints, GridRows
from nas.searchspace.op_spec import OPS
from nas.searchspace.space import SearchSpace
from nas.searchspace.tensor_type import Layout, TensorType

STAGES = 4
#: HiGHS stops within this relative gap of the proven optimum (the polish then checks every neighbour)
MIP_GAP = 1e-6


class HybridModel(GridRows):
    """DeepMAD grid model of a ``hybrid`` space instance (see ``deepmad.problem.GridModel``)."""

    def __init__(self, space: SearchSpace, config: DeepMADConfig | None = None) -> None:
        from nas.searchspace.spaces import hybrid as hs

        self.space, self.config = space, config or DeepMADConfig()
        self.dims = space.dims
        self.names = [d.name for d in self.dims]
        self.col = {n: i for i, n in enumerate(self.names)}
        self.values = [np.arange(len(d.choices)) if not d.ordered else np.array(d.choices, dtype=np.float64)
                       for d in self.dims]
        half = self.config.half
        inp = space.input
        stem_hp = {"out": 8, "kernel": 4, "stride": 4, "norm": "ln", "act": "none", "bias": True}
        g = OPS.get("stem").resolve(inp, stem_hp)[1]
        grids = [(g.height, g.width)]
        for _ in range(STAGES - 1):
            grids.append((grids[-1][0] // 2, grids[-1][1] // 2))
        self.grids = grids
        self.positions = [h * w for h, w in grids]
        self.classes = space.num_classes
        self.mixers = [self.dims[self.col[f"s{s}_mixer"]].choices for s in range(1, STAGES + 1)]
        self.widths = [self.dims[self.col[f"s{s}_width"]].choices for s in range(1, STAGES + 1)]
        self.mlps = [self.dims[self.col[f"s{s}_mlp"]].choices for s in range(1, STAGES + 1)]
        self.depths = [self.dims[self.col[f"s{s}_depth"]].choices for s in range(1, STAGES + 1)]
        # stem: depends on the first width only
        w1 = self.widths[0]
        self.stem = {k: np.zeros(len(w1)) for k in ("macs", "params", "ent", "lw", "nl", "peak")}
        for j, w in enumerate(w1):
            hp, out = OPS.get("stem").resolve(inp, {**stem_hp, "out": w})
            spec = OPS.get("stem")
            fi = fan_ins("stem", inp, hp)
            self._put(self.stem, j, spec.macs(inp, hp), spec.params(inp, hp), fi, half, inp.numel + out.numel)
        # blocks per stage: [mixer, width, mlp]
        self.block = []
        for s in range(STAGES):
            shape = (len(self.mixers[s]), len(self.widths[s]), len(self.mlps[s]))
            tab = {k: np.zeros(shape) for k in ("macs", "params", "ent", "lw", "nl", "peak")}
            tab["valid"] = np.zeros(shape, dtype=bool)
            h, w_ = grids[s]
            for (i, mx), (j, w), (k, r) in itertools.product(*(enumerate(x) for x in shape_lists(self, s))):
                mixer = hs.MIXERS[mx]
                layout = Layout.MAP if Layout.MAP in OPS.get(mixer.op).accepts else Layout.SEQ
                t = TensorType(layout, w, h, w_)
                try:
                    hp, _ = OPS.get("metaformer").resolve(t, {"mixer": mixer.op, "mixer_hp": mixer.hp(t),
                                                             "mlp_ratio": r})
                except NasError:
                    continue
                spec = OPS.get("metaformer")
                self._put(tab, (i, j, k), spec.macs(t, hp), spec.params(t, hp), fan_ins("metaformer", t, hp),
                          half, 2 * t.numel)
                tab["valid"][i, j, k] = True
            self.block.append(tab)
        # downsample before stages 2..4: [previous width, width]
        self.down = [None]
        for s in range(1, STAGES):
            shape = (len(self.widths[s - 1]), len(self.widths[s]))
            tab = {k: np.zeros(shape) for k in ("macs", "params", "ent", "lw", "nl", "peak")}
            h, w_ = grids[s - 1]
            for (i, p), (j, w) in itertools.product(enumerate(self.widths[s - 1]), enumerate(self.widths[s])):
                t = TensorType.map(p, h, w_)
                hp, out = OPS.get("downsample").resolve(t, {"out": w, "kind": "conv"})
                spec = OPS.get("downsample")
                self._put(tab, (i, j), spec.macs(t, hp), spec.params(t, hp), fan_ins("downsample", t, hp), half,
                          t.numel + out.numel)
            self.down.append(tab)
        self.head = {k: np.zeros(len(self.widths[-1])) for k in ("macs", "params", "peak")}
        for j, w in enumerate(self.widths[-1]):
            t = TensorType.seq(w, *grids[-1])
            hp, out = OPS.get("head").resolve(t, {"classes": self.classes, "hidden": 0, "norm": "ln"})
            spec = OPS.get("head")
            self.head["macs"][j], self.head["params"][j] = spec.macs(t, hp), spec.params(t, hp)
            self.head["peak"][j] = t.numel + out.numel
        self.alpha = np.array(self.config.weights(STAGES))

    @staticmethod
    def _put(tab, at, macs, params, fi, half, peak) -> None:
        logs = [math.log(f) for f in fi if f > 1.0]
        tab["macs"][at], tab["params"][at] = macs, params
        tab["ent"][at], tab["lw"][at], tab["nl"][at] = half * sum(logs), sum(logs), len(logs)
        tab["peak"][at] = peak

    # -- genes <-> rows ---------------------------------------------------------------------------
    def _cols(self, idx: np.ndarray, s: int) -> tuple[np.ndarray, ...]:
        return tuple(idx[:, self.col[f"s{s + 1}_{g}"]] for g in ("mixer", "depth", "width", "mlp"))

    # -- exact metrics ----------------------------------------------------------------------------
    def evaluate(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, len(self.dims))
        n = len(idx)
        half = self.config.half
        _, _, w1, _ = self._cols(idx, 0)
        macs = self.stem["macs"][w1].copy()
        params = self.stem["params"][w1].copy()
        ent, lw, nl = self.stem["ent"][w1].copy(), self.stem["lw"][w1].copy(), self.stem["nl"][w1].copy()
        peak = self.stem["peak"][w1].copy()
        valid = np.ones(n, dtype=bool)
        widths_ok = np.ones(n, dtype=bool)
        score = np.zeros(n)
        rhos = []
        depths = []
        prev_w = None
        for s in range(STAGES):
            mi, di, wi, ri = self._cols(idx, s)
            if s > 0:
                a = self.alpha[s - 1]
                score += a * (np.log(np.asarray(self.widths[s - 1], dtype=float)[prev_w])
                              + math.log(self.positions[s - 1])) * ent
                rhos.append(nl / np.exp(lw / nl))
                d = self.down[s]
                macs += d["macs"][prev_w, wi]
                params += d["params"][prev_w, wi]
                ent += d["ent"][prev_w, wi]
                lw += d["lw"][prev_w, wi]
                nl += d["nl"][prev_w, wi]
                peak = np.maximum(peak, d["peak"][prev_w, wi])
                widths_ok &= np.asarray(self.widths[s - 1])[prev_w] <= np.asarray(self.widths[s])[wi]
            b = self.block[s]
            depth = np.asarray(self.depths[s], dtype=float)[di]
            depths.append(depth)
            valid &= b["valid"][mi, wi, ri]
            macs += depth * b["macs"][mi, wi, ri]
            params += depth * b["params"][mi, wi, ri]
            ent += depth * b["ent"][mi, wi, ri]
            lw += depth * b["lw"][mi, wi, ri]
            nl += depth * b["nl"][mi, wi, ri]
            peak = np.maximum(peak, b["peak"][mi, wi, ri])
            prev_w = wi
        score += self.alpha[-1] * (np.log(np.asarray(self.widths[-1], dtype=float)[prev_w])
                                   + math.log(self.positions[-1])) * ent
        rhos.append(nl / np.exp(lw / nl))
        macs += self.head["macs"][prev_w]
        params += self.head["params"][prev_w]
        peak = np.maximum(peak, self.head["peak"][prev_w])
        score -= self.penalty(depths)
        big = np.where(valid, 1.0, np.inf)
        del half
        return {"score": np.where(valid, score, -np.inf), "flops_analytic": macs * big,
                "params_analytic": params * big, "flops_tinynas": np.full(n, np.nan),
                "params_tinynas": np.full(n, np.nan), "rho": np.max(np.stack(rhos), axis=0), "layers": nl,
                "peak": peak, "widths_ok": widths_ok.astype(np.float64)}

    def penalty(self, depths: Sequence[np.ndarray]) -> np.ndarray:
        cfg = self.config
        if cfg.penalty_stages == "none" or cfg.beta == 0:
            return np.zeros_like(depths[0])
        used = depths[2:] if cfg.penalty_stages == "released" else depths
        if not used:
            return np.full_like(depths[0], cfg.beta)
        return cfg.beta * np.exp(np.std(np.stack(used), axis=0))

    def penalty_stages(self) -> list[int]:
        cfg = self.config
        if cfg.penalty_stages == "none" or cfg.beta == 0:
            return []
        return list(range(2, STAGES)) if cfg.penalty_stages == "released" else list(range(STAGES))


def shape_lists(model: HybridModel, s: int):
    return model.mixers[s], model.widths[s], model.mlps[s]


# -- the integer program ------------------------------------------------------------------------------
def _undominated(model: HybridModel, s: int, cons: DeepMADConstraints) -> np.ndarray:
    """Valid (mixer, width, mlp) blocks of stage s that no other block of the same width dominates.

    Block a dominates b when it has at least b's entropy term and at most its MACs, params and peak
    activation (and, when ρ or the layer count is bounded, the same number of maps and at least its
    log-width); a dominated block never belongs to an optimum, so it is fixed out of the program.
    """
    b = model.block[s]
    keep = b["valid"].copy()
    need_layers = cons.rho is not None or cons.max_layers is not None
    n_m, n_w, n_r = keep.shape
    for w in range(n_w):
        cand = [(m, r) for m in range(n_m) for r in range(n_r) if b["valid"][m, w, r]]
        vec = {k: (b["ent"][k[0], w, k[1]], -b["macs"][k[0], w, k[1]], -b["params"][k[0], w, k[1]],
                   -b["peak"][k[0], w, k[1]], b["lw"][k[0], w, k[1]], b["nl"][k[0], w, k[1]]) for k in cand}
        for k in cand:
            for o in cand:
                if o == k:
                    continue
                a, c = vec[o], vec[k]
                if need_layers and a[5] != c[5]:
                    continue
                core = a[:4] + ((a[4],) if need_layers else ())
                mine = c[:4] + ((c[4],) if need_layers else ())
                if all(x >= y for x, y in zip(core, mine)) and (core != mine or o < k):
                    keep[k[0], w, k[1]] = False
                    break
    return keep


class _Program:
    """A sparse MILP under construction: named variables, rows of coefficients, bounds."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integ: list[int] = []
        self.obj: list[float] = []
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.rlo: list[float] = []
        self.rhi: list[float] = []

    def var(self, low: float, high: float, integer: bool = False, cost: float = 0.0) -> int:
        self.lo.append(low), self.hi.append(high), self.integ.append(int(integer)), self.obj.append(cost)
        return len(self.lo) - 1

    def row(self, coefs: dict[int, float], low: float, high: float) -> None:
        k = len(self.rlo)
        for i, v in coefs.items():
            if v:
                self.r.append(k), self.c.append(i), self.v.append(v)
        self.rlo.append(low), self.rhi.append(high)

    def define(self, target: int, coefs: dict[int, float]) -> None:
        """target = Σ coefs."""
        c = {i: -v for i, v in coefs.items()}
        c[target] = c.get(target, 0.0) + 1.0
        self.row(c, 0.0, 0.0)

    def solve(self, time_limit: float):
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_matrix

        a = csr_matrix((self.v, (self.r, self.c)), shape=(len(self.rlo), len(self.lo)))
        return milp(np.array(self.obj), constraints=LinearConstraint(a, np.array(self.rlo), np.array(self.rhi)),
                    integrality=np.array(self.integ), bounds=Bounds(np.array(self.lo), np.array(self.hi)),
                    options={"time_limit": time_limit, "disp": False, "mip_rel_gap": MIP_GAP})


def solve_milp(model: HybridModel, cons: DeepMADConstraints, flops_cap: float | None = None,
               time_limit: float = 30.0) -> tuple[np.ndarray, float, dict[str, float]]:
    """The grid optimum of the DeepMAD score under ``cons`` (latency excepted), by HiGHS.

    Returns (row, score, info); info holds the program's objective, size and solver status.
    """
    if "tinynas" in cons.conventions():
        raise NasError("the tinynas cost convention covers CNN ops only; use --option convention=analytic "
                       "for the hybrid space")
    P = _Program()
    flops = cons.flops if flops_cap is None else flops_cap
    keep = [_undominated(model, s, cons) for s in range(STAGES)]
    # x[s][(m, d, w, r)]: stage s uses mixer m, depth d, width w, MLP ratio r
    x: list[dict[tuple[int, int, int, int], int]] = []
    for s in range(STAGES):
        b = model.block[s]
        xs = {}
        for m, d, w, r in itertools.product(range(len(model.mixers[s])), range(len(model.depths[s])),
                                            range(len(model.widths[s])), range(len(model.mlps[s]))):
            ok = bool(keep[s][m, w, r])
            if cons.max_feature_map is not None and b["peak"][m, w, r] > cons.max_feature_map:
                ok = False
            xs[(m, d, w, r)] = P.var(0, 1 if ok else 0, True)
        x.append(xs)
        P.row({i: 1.0 for i in xs.values()}, 1, 1)
    # width and depth indicators (implied binary)
    W = [[P.var(0, 1) for _ in model.widths[s]] for s in range(STAGES)]
    D = [[P.var(0, 1) for _ in model.depths[s]] for s in range(STAGES)]
    for s in range(STAGES):
        for w in range(len(model.widths[s])):
            P.define(W[s][w], {i: 1.0 for k, i in x[s].items() if k[2] == w})
        for d in range(len(model.depths[s])):
            P.define(D[s][d], {i: 1.0 for k, i in x[s].items() if k[1] == d})
    # y[s][(p, w)]: the downsample into stage s goes from width p to width w
    y: list[dict[tuple[int, int], int]] = [{}]
    for s in range(1, STAGES):
        ys = {}
        for p, w in itertools.product(range(len(model.widths[s - 1])), range(len(model.widths[s]))):
            ok = not (cons.nondecreasing and model.widths[s - 1][p] > model.widths[s][w])
            if cons.max_feature_map is not None and model.down[s]["peak"][p, w] > cons.max_feature_map:
                ok = False
            ys[(p, w)] = P.var(0, 1 if ok else 0, True)
        y.append(ys)
        for w in range(len(model.widths[s])):
            P.define(W[s][w], {i: 1.0 for (pp, ww), i in ys.items() if ww == w})
        for p in range(len(model.widths[s - 1])):
            P.define(W[s - 1][p], {i: 1.0 for (pp, ww), i in ys.items() if pp == p})

    def stage_sum(s: int, key: str) -> dict[int, float]:
        """Stage s's contribution of a block/downsample/stem quantity, as coefficients."""
        b = model.block[s]
        c = {i: model.depths[s][d] * b[key][m, w, r] for (m, d, w, r), i in x[s].items() if b["valid"][m, w, r]}
        if s == 0:
            for w, i in enumerate(W[0]):
                c[i] = c.get(i, 0.0) + model.stem[key][w]
        else:
            for (p, w), i in y[s].items():
                c[i] = c.get(i, 0.0) + model.down[s][key][p, w]
        if s == STAGES - 1 and key in model.head:
            for w, i in enumerate(W[s]):
                c[i] = c.get(i, 0.0) + model.head[key][w]
        return c

    def bound_of(s: int, key: str) -> float:
        b = model.block[s]
        v = max(model.depths[s]) * float(np.max(np.where(b["valid"], b[key], 0.0)))
        return v + (float(model.stem[key].max()) if s == 0 else float(model.down[s][key].max()))

    for key, limit in (("macs", flops), ("params", cons.params)):
        if limit is not None:
            total: dict[int, float] = {}
            for s in range(STAGES):
                for i, v in stage_sum(s, key).items():
                    total[i] = total.get(i, 0.0) + v
            P.row(total, -np.inf, float(limit))
    # cumulative entropy E, layers L and log-width LW at the end of every stage
    E, L, LW = [], [], []
    for j in range(STAGES):
        prev = (E[-1], L[-1], LW[-1]) if j else None
        cap = [sum(bound_of(s, k) for s in range(j + 1)) for k in ("ent", "nl", "lw")]
        for store, key, hi_ in ((E, "ent", cap[0]), (L, "nl", cap[1]), (LW, "lw", cap[2])):
            v = P.var(0, hi_)
            c = stage_sum(j, key)
            if prev is not None:
                c[{"ent": prev[0], "nl": prev[1], "lw": prev[2]}[key]] = 1.0
            P.define(v, c)
            store.append(v)
    # score: Σⱼ αⱼ Σ_w (log wⱼ + log Pⱼ)·u[j][w], u[j][w] = W[j][w]·E[j] (exact McCormick on a binary)
    for j in range(STAGES):
        before = sum(bound_of(s, "ent") for s in range(j))
        us = {}
        for w, bi in enumerate(W[j]):
            # the largest E[j] when stage j has width w: a tighter big-M than E[j]'s own bound
            b = model.block[j]
            stage_w = max(model.depths[j]) * float(np.max(np.where(b["valid"][:, w, :], b["ent"][:, w, :], 0.0)))
            stage_w += float(model.stem["ent"][w]) if j == 0 else float(model.down[j]["ent"][:, w].max())
            e_max = min(P.hi[E[j]], before + stage_w)
            gain = model.alpha[j] * (math.log(model.widths[j][w]) + math.log(model.positions[j]))
            u = us[u_key := w] = P.var(0, e_max, False, -gain)
            del u_key
            P.row({u: 1.0, E[j]: -1.0}, -np.inf, 0)
            P.row({u: 1.0, bi: -e_max}, -np.inf, 0)
            big = P.hi[E[j]]
            P.row({u: 1.0, E[j]: -1.0, bi: -big}, -big, np.inf)
        P.define(E[j], {u: 1.0 for u in us.values()})  # Σ_w u = E (disaggregation: a tighter relaxation)
    # depth penalty: one binary per tuple of the penalised stages' depths
    pen = model.penalty_stages()
    if pen:
        q = {}
        for combo in itertools.product(*(range(len(model.depths[s])) for s in pen)):
            ds = [model.depths[s][i] for s, i in zip(pen, combo)]
            q[combo] = P.var(0, 1, True, model.config.beta * math.exp(float(np.std(ds))))
        for k, s in enumerate(pen):
            for di in range(len(model.depths[s])):
                P.define(D[s][di], {i: 1.0 for combo, i in q.items() if combo[k] == di})
    if cons.max_layers is not None:
        P.row({L[-1]: 1.0}, -np.inf, cons.max_layers)
    if cons.rho is not None:
        # ρⱼ = Lⱼ / exp(LWⱼ / Lⱼ) ≤ ρ₀  ⇔  LWⱼ ≥ f(Lⱼ) = Lⱼ·log(Lⱼ / ρ₀), f convex: secants at integers
        log_rho0 = math.log(cons.rho)
        for j in range(STAGES):
            lmax = math.ceil(P.hi[L[j]])
            f = [n * (math.log(n) - log_rho0) for n in range(1, lmax + 2)]
            for n in range(1, lmax + 1):
                slope = f[n] - f[n - 1]
                P.row({LW[j]: 1.0, L[j]: -slope}, f[n - 1] - slope * n, np.inf)
    res = P.solve(time_limit)
    if res.x is None:
        raise NasError(f"the DeepMAD integer program has no solution under these constraints ({res.message})")
    row = np.zeros(len(model.dims), dtype=np.int64)
    for s in range(STAGES):
        m, d, w, r = max(x[s], key=lambda k: res.x[x[s][k]])
        row[model.col[f"s{s + 1}_mixer"]], row[model.col[f"s{s + 1}_depth"]] = m, d
        row[model.col[f"s{s + 1}_width"]], row[model.col[f"s{s + 1}_mlp"]] = w, r
    info = {"objective": float(-res.fun), "status": float(res.status), "variables": float(len(P.lo)),
            "constraints": float(len(P.rlo))}
    return row, float(model.evaluate(row[None])["score"][0]), info
