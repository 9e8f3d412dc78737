"""DeepMAD's mathematical program: a continuous relaxation solved with SLSQP, rounding onto the grid,
a feasibility repair and a local polish, all on a grid model (``deepmad.problem.GridModel``).

1. **Relaxation** (``solve_relaxation``): maximise the smooth score over continuous variables (for the
   ``resnet`` space: log-widths, log-bottlenecks, log-kernels, depths) subject to FLOPs, params,
   ρᵢ ≤ ρ₀ for every stage, layer count, largest feature map and non-decreasing widths, with
   ``scipy.optimize.minimize(method="SLSQP")`` from several seeded starts. Gradients are forward
   differences computed in one vectorised evaluation of all perturbed points.
2. **Rounding** (``round_to_grid``): each variable to its nearest grid value.
3. **Repair** (``repair``): while a bound is violated, take the one-gene move that reduces the largest
   relative violation most (ties: the higher score).
4. **Polish** (``polish``): steepest ascent over feasible one-gene moves, then over pairs of moves (one
   gene up, another down: trading FLOPs between stages), until no move improves the score.

The relaxation's optimum is reported beside the grid solution: a (local) upper estimate of what the
grid can reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nas.search.deepmad.problem import DeepMADConstraints, GridModel, sizes

Metrics = dict[str, np.ndarray]


@dataclass
class ProgramStats:
    """What the program did: relaxation optima, evaluations, wall time per phase."""

    relaxed_scores: list[float] = field(default_factory=list)
    relaxed_feasible: list[bool] = field(default_factory=list)
    slsqp_iterations: int = 0
    evaluations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, phase: str, t0: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0


# -- 1. relaxation ----------------------------------------------------------------------------------
def _constraint_vector(m: Metrics, cons: DeepMADConstraints, flops_cap: float | None) -> np.ndarray:
    """Inequalities g ≥ 0 (one column each) from relaxation metrics of many points."""
    cols = []
    flops = cons.flops if flops_cap is None else flops_cap
    for conv in cons.conventions():
        if flops is not None:
            cols.append(1.0 - m[f"flops_{conv}"] / flops)
        if cons.params is not None:
            cols.append(1.0 - m[f"params_{conv}"] / cons.params)
    if cons.rho is not None:
        cols.extend(np.log(cons.rho) - np.log(m["rho_stages"].T))
    if cons.max_layers is not None:
        cols.append(1.0 - m["layers"] / cons.max_layers)
    if cons.max_feature_map is not None:
        cols.append(1.0 - m["peak"] / cons.max_feature_map)
    return np.stack(cols, axis=1) if cols else np.zeros((len(m["score"]), 0))


def solve_relaxation(relax, cons: DeepMADConstraints, starts: Sequence[np.ndarray], stats: ProgramStats,
                     flops_cap: float | None = None, widths_order: Sequence[tuple[int, int]] = (),
                     maxiter: int = 100) -> list[tuple[float, np.ndarray]]:
    """SLSQP from each starting point; (relaxed score, z) per start, best first (-inf: infeasible).

    ``relax`` has ``lower``, ``upper``, ``size`` and ``evaluate(Z) -> metrics`` (rows of Z);
    ``widths_order`` lists (i, j) with z[i] ≤ z[j] required (non-decreasing log-widths).
    """
    from scipy.optimize import minimize

    p = relax.size
    h = 1e-6
    scale = 1e4
    cache: dict[bytes, tuple[float, np.ndarray, np.ndarray, np.ndarray]] = {}

    def compute(z: np.ndarray):
        key = z.tobytes()
        if key not in cache:
            pts = np.vstack([z, z + h * np.eye(p)])
            m = relax.evaluate(pts)
            stats.evaluations += len(pts)
            f = -m["score"] / scale
            g = _constraint_vector(m, cons, flops_cap)
            cache.clear()
            cache[key] = (f[0], (f[1:] - f[0]) / h, g[0], (g[1:] - g[0]).T / h)
        return cache[key]

    constraints = [{"type": "ineq", "fun": lambda z: compute(z)[2], "jac": lambda z: compute(z)[3]}]
    if cons.nondecreasing and widths_order:
        a = np.zeros((len(widths_order), p))
        for r, (i, j) in enumerate(widths_order):
            a[r, i], a[r, j] = -1.0, 1.0
        constraints.append({"type": "ineq", "fun": lambda z: a @ z, "jac": lambda z: a})
    linear = getattr(relax, "linear_ge", lambda: None)()  # structural rules, linear in z
    if linear is not None:
        a_ge, c_ge = linear
        constraints.append({"type": "ineq", "fun": lambda z: a_ge @ z + c_ge, "jac": lambda z: a_ge})
    bounds = list(zip(relax.lower, relax.upper))
    out = []
    for z0 in starts:
        z0 = np.clip(z0, relax.lower, relax.upper)
        res = minimize(lambda z: compute(z)[0], z0, jac=lambda z: compute(z)[1], method="SLSQP",
                       bounds=bounds, constraints=constraints, options={"maxiter": maxiter, "ftol": 1e-8})
        stats.slsqp_iterations += int(res.nit)
        z = np.clip(res.x, relax.lower, relax.upper)
        f, _, g, _ = compute(z)
        feasible = bool(np.all(g >= -1e-6)) and (not widths_order or bool(np.all(
            [z[j] - z[i] >= -1e-6 for i, j in widths_order])))
        stats.relaxed_scores.append(-f * scale)
        stats.relaxed_feasible.append(feasible)
        out.append((-f * scale if feasible else -np.inf, z))
    out.sort(key=lambda t: -t[0])
    return out


# -- 2. rounding -------------------------------------------------------------------------------------
def nearest_index(choices: np.ndarray, value: float, log: bool) -> int:
    c = np.asarray(choices, dtype=np.float64)
    if log:
        return int(np.argmin(np.abs(np.log(c) - np.log(max(value, 1e-9)))))
    return int(np.argmin(np.abs(c - value)))


def round_to_grid(model: GridModel, values: dict[str, float], log_dims: Callable[[str], bool]) -> np.ndarray:
    """The grid row nearest to continuous gene ``values`` (dims missing from ``values`` take index 0)."""
    row = np.zeros(len(model.dims), dtype=np.int64)
    for i, d in enumerate(model.dims):
        if d.name in values:
            row[i] = nearest_index(model.values[i], values[d.name], log_dims(d.name))  # type: ignore[attr-defined]
    return model.canonical(row[None])[0]


# -- 3/4. moves on the grid ----------------------------------------------------------------------------
def single_moves(model: GridModel, row: np.ndarray, ordered: np.ndarray, n_choices: np.ndarray) -> np.ndarray:
    """Every row one gene away: ordered genes ±1 step, unordered genes any other value (canonical)."""
    out = []
    for i in range(len(row)):
        if ordered[i]:
            for step in (-1, 1):
                j = row[i] + step
                if 0 <= j < n_choices[i]:
                    r = row.copy()
                    r[i] = j
                    out.append(r)
        else:
            for j in range(n_choices[i]):
                if j != row[i]:
                    r = row.copy()
                    r[i] = j
                    out.append(r)
    if not out:
        return np.zeros((0, len(row)), dtype=np.int64)
    rows = model.canonical(np.array(out))
    return rows[np.any(rows != row, axis=1)]


def pair_moves(model: GridModel, row: np.ndarray, ordered: np.ndarray, n_choices: np.ndarray) -> np.ndarray:
    """Rows with one ordered gene one step up and another one step down."""
    idx = np.flatnonzero(ordered)
    out = []
    for a in idx:
        if row[a] + 1 >= n_choices[a]:
            continue
        for b in idx:
            if b == a or row[b] == 0:
                continue
            r = row.copy()
            r[a] += 1
            r[b] -= 1
            out.append(r)
    if not out:
        return np.zeros((0, len(row)), dtype=np.int64)
    return model.canonical(np.array(out))


def _ordered(model: GridModel) -> np.ndarray:
    return np.array([d.ordered for d in model.dims], dtype=bool)


def repair(model: GridModel, row: np.ndarray, cons: DeepMADConstraints, stats: ProgramStats,
           flops_cap: float | None = None, max_steps: int = 2000) -> np.ndarray | None:
    """Greedy descent on the constraint violation; the first feasible row reached, or None."""
    ordered, n_choices = _ordered(model), sizes(model)
    m = model.evaluate(row[None])
    v = cons.violation(m, flops_cap)[0]
    for _ in range(max_steps):
        if v <= 0.0:
            return row
        cand = single_moves(model, row, ordered, n_choices)
        mc = model.evaluate(cand)
        stats.evaluations += len(cand)
        vc = cons.violation(mc, flops_cap)
        best = np.lexsort((-mc["score"], vc))[0]
        if vc[best] >= v:
            return None
        row, v = cand[best], vc[best]
    return row if v <= 0.0 else None


def polish(model: GridModel, row: np.ndarray, cons: DeepMADConstraints, stats: ProgramStats,
           flops_cap: float | None = None, max_steps: int = 5000, pairs: bool = True,
           keep: dict[bytes, float] | None = None) -> tuple[np.ndarray, float]:
    """Steepest ascent from a feasible ``row`` over single, then paired, moves. Returns (row, score).

    ``keep`` collects every feasible row seen with its score (for the top-k designs).
    """
    ordered, n_choices = _ordered(model), sizes(model)
    score = float(model.evaluate(row[None])["score"][0])
    for _ in range(max_steps):
        improved = False
        for gen in ((single_moves, pair_moves) if pairs else (single_moves,)):
            cand = gen(model, row, ordered, n_choices)
            if not len(cand):
                continue
            mc = model.evaluate(cand)
            stats.evaluations += len(cand)
            ok = cons.violation(mc, flops_cap) <= 0.0
            if keep is not None:
                for r, s in zip(cand[ok], mc["score"][ok]):
                    keep[r.tobytes()] = float(s)
            sc = np.where(ok, mc["score"], -np.inf)
            best = int(np.argmax(sc))
            if sc[best] > score + 1e-9:
                row, score = cand[best], float(sc[best])
                improved = True
                break
        if not improved:
            break
    return row, score
