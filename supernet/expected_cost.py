"""Differentiable expected costs of a mixed problem (FBNet / ProxylessNAS style) and the budget repair.

The cost of an architecture is a sum of terms, each a table over the choices of a few points (a
stage's block cost depends on its mixer, depth, width and MLP ratio; a downsample on two widths).
Under independent per-point distributions the expected cost is Σ_terms Σ table · Π p, exact for
costs that decompose that way (analytic FLOPs and params) and close for the others (latency); the
tables are filled from the per-layer analytic costs and the target's per-layer latency model.
The budget guarantee never rests on the expectation: ``repair_to_budget`` checks the derived
architecture's exact costs and, if it misses a budget, changes genes greedily (the cheapest loss of
log-probability per unit of excess removed) until every budget holds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from nas.errors import NasError
from nas.hw_models.budget import Budget, BudgetGate
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import NetSpec, resolve_layers
from nas.supernet.mixed import MixedProblem

CostsFn = Callable[[object], dict[str, float]]


@dataclass(frozen=True)
class CostTerm:
    """``table`` indexed by the candidate index of each of ``points`` (indices into the problem's points)."""

    points: tuple[int, ...]
    table: torch.Tensor


@dataclass(frozen=True)
class CostTable:
    """One metric's cost as a sum of terms over the problem's points."""

    metric: str
    terms: tuple[CostTerm, ...]

    def expected(self, probs: Sequence[torch.Tensor]) -> torch.Tensor:
        total = probs[0].new_zeros(())
        for term in self.terms:
            t = term.table.to(probs[0])
            for p in reversed(term.points):  # contract the last axis with its point's probabilities
                t = t @ probs[p]
            total = total + t
        return total

    def at(self, choices: Sequence[int]) -> float:
        return float(sum(float(term.table[tuple(choices[p] for p in term.points)]) for term in self.terms))


def layer_values(spec: NetSpec, metric: str, target) -> dict[str, float]:
    """Per-layer value of ``metric`` (flops, params or latency_ms on ``target``), keyed by layer name."""
    if metric == "latency_ms":
        return {layer.name: float(v) for layer, v in zip(spec.layers, target.per_layer_ms(spec))}
    if metric == "flops":
        return {layer.name: float(layer.macs()) for layer in spec.layers}
    if metric == "params":
        return {layer.name: float(layer.params()) for layer in spec.layers}
    raise NasError(f"no expected cost for metric {metric!r}; allowed: flops, params, latency_ms")


def _spec(space, genes: Mapping[str, object]) -> NetSpec:
    """The NetSpec of gene values without the space's cross-gene constraints (costs of any combination)."""
    return resolve_layers(space.input, space.layers(HParams(dict(genes)), space.input))


def additive_table(prob: MixedProblem, metric: str, target) -> CostTable:
    """Cost = base + Σ_points delta_p[k]: probe each point's candidates from an all-first-candidate base.
    Exact when the cost is a sum over points (NB201's cell edges for FLOPs and params)."""
    base_choices = [0] * len(prob.points)
    base_genes = prob.genes(base_choices)
    base = sum(layer_values(_spec(prob.space, base_genes), metric, target).values())
    terms = [CostTerm((), torch.tensor(base, dtype=torch.float64))]
    for i, p in enumerate(prob.points):
        deltas = []
        for c in p.candidates:
            v = sum(layer_values(_spec(prob.space, {**base_genes, p.gene: c}), metric, target).values())
            deltas.append(v - base)
        terms.append(CostTerm((i,), torch.tensor(deltas, dtype=torch.float64)))
    return CostTable(metric, tuple(terms))


def hybrid_table(prob: MixedProblem, metric: str, target) -> CostTable:
    """Hybrid: stem(w1) + Σ_s [down_s(w_{s-1}, w_s) + depth_s · block_s(mixer, width, mlp)] + head(w4)."""
    pts = {p.gene: i for i, p in enumerate(prob.points)}
    cand = {p.gene: p.candidates for p in prob.points}
    filler = {g: c[0] for g, c in cand.items()}
    filler.update({f"s{s}_depth": 1 for s in range(1, 5)})
    for s in range(1, 5):  # a map mixer everywhere else, so the probed stage sees the usual input type
        filler[f"s{s}_mixer"] = next(m for m in cand[f"s{s}_mixer"] if m.startswith("dwconv")) \
            if any(m.startswith("dwconv") for m in cand[f"s{s}_mixer"]) else cand[f"s{s}_mixer"][0]
    terms: list[CostTerm] = []
    for s in range(1, 5):
        m_c, w_c, r_c, d_c = (cand[f"s{s}_{g}"] for g in ("mixer", "width", "mlp", "depth"))
        block = torch.zeros(len(m_c), len(w_c), len(r_c), dtype=torch.float64)
        for (i, m), (j, w), (k, r) in itertools.product(enumerate(m_c), enumerate(w_c), enumerate(r_c)):
            vals = layer_values(_spec(prob.space, {**filler, f"s{s}_mixer": m, f"s{s}_width": w, f"s{s}_mlp": r}),
                                metric, target)
            block[i, j, k] = vals[f"stage{s}.1"]
        depth = torch.tensor([float(d) for d in d_c], dtype=torch.float64)
        # table over (mixer, depth, width, mlp) in the points' order
        table = block[:, None, :, :] * depth[None, :, None, None]
        terms.append(CostTerm((pts[f"s{s}_mixer"], pts[f"s{s}_depth"], pts[f"s{s}_width"], pts[f"s{s}_mlp"]),
                              table))
    for s in range(2, 5):
        a_c, b_c = cand[f"s{s - 1}_width"], cand[f"s{s}_width"]
        down = torch.zeros(len(a_c), len(b_c), dtype=torch.float64)
        stem = torch.zeros(len(a_c), dtype=torch.float64)
        head = torch.zeros(len(b_c), dtype=torch.float64)
        for (i, a), (j, b) in itertools.product(enumerate(a_c), enumerate(b_c)):
            vals = layer_values(_spec(prob.space, {**filler, f"s{s - 1}_width": a, f"s{s}_width": b}), metric, target)
            down[i, j] = vals[f"down{s}"]
            stem[i], head[j] = vals["stem"], vals["head"]
        terms.append(CostTerm((pts[f"s{s - 1}_width"], pts[f"s{s}_width"]), down))
        if s == 2:
            terms.append(CostTerm((pts["s1_width"],), stem))
        if s == 4:
            terms.append(CostTerm((pts["s4_width"],), head))
    return CostTable(metric, tuple(terms))


def exact_costs(space, target) -> CostsFn:
    """``costs(arch)``: analytic FLOPs and params, and latency_ms on ``target`` when given."""
    from nas.hw_models.analytic import analytic_costs

    def costs(arch) -> dict[str, float]:
        spec = space.resolve(arch)
        c = analytic_costs(spec)
        out = {"flops": float(c.flops), "params": float(c.params)}
        if target is not None:
            out["latency_ms"] = float(target.latency_ms(spec))
        return out

    return costs


def budget_cost(prob: MixedProblem, budgets: Sequence[Budget], target_name: str | None):
    """(expected relative cost fn: max over budgets of E[cost] / limit, exact costs fn)."""
    target = None
    if any(b.metric == "latency_ms" for b in budgets) or target_name:
        from nas.hw_models.targets import get_target

        target = get_target(target_name) if target_name else None
    if any(b.metric == "latency_ms" for b in budgets) and target is None:
        raise NasError("a latency budget needs --target (e.g. --target gpu)")
    build = hybrid_table if prob.space.name == "hybrid" else additive_table
    tables = [(build(prob, b.metric, target), b.limit) for b in budgets]

    def rel(probs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack([t.expected(probs) / limit for t, limit in tables]).max()

    return rel, exact_costs(prob.space, target)


def violation(costs: Mapping[str, float], budgets: Sequence[Budget]) -> float:
    return BudgetGate(tuple(budgets)).check(costs).excess


def repair_to_budget(space, arch, outcome, prob: MixedProblem, budgets: Sequence[Budget],
                     costs: CostsFn, max_steps: int = 64):
    """The derived ``arch`` if it meets every budget, else a repaired one; (arch, notes).

    Repair: while a budget is exceeded, try every single-point change of the current choices and take
    the one that removes excess at the least loss of log-probability (the searched distributions);
    a NasError when no change reduces the excess (no architecture reachable meets the budget).
    """
    def fmt(c: Mapping[str, float]) -> str:
        return ", ".join(f"{b.metric} {c[b.metric]:.4g} (limit {b.limit:.4g})" for b in budgets)

    cur_c = costs(arch)
    v = violation(cur_c, budgets)
    if v <= 0:
        return arch, [f"derived architecture meets the budget(s) as searched: {fmt(cur_c)}"]
    logp = [[math.log(max(x, 1e-12)) for x in pr] for pr in outcome.probs]
    choices = list(outcome.choices)
    first = fmt(cur_c)
    changes: list[str] = []
    for _ in range(max_steps):
        best = None
        for i, p in enumerate(prob.points):
            for k in range(len(p.candidates)):
                if k == choices[i]:
                    continue
                trial = choices[:i] + [k] + choices[i + 1:]
                a = prob.derive(trial)
                nv = violation(costs(a), budgets)
                if nv >= v:
                    continue
                price = (logp[i][choices[i]] - logp[i][k]) / (v - nv)
                if best is None or price < best[0]:
                    best = (price, i, k, a, nv)
        if best is None:
            raise NasError(f"budget(s) {', '.join(str(b) for b in budgets)} cannot be met from the searched "
                           f"architecture ({first}); no single change reduces the excess")
        _, i, k, arch, v = best
        p = prob.points[i]
        changes.append(f"{p.gene} {p.candidates[choices[i]]}->{p.candidates[k]}")
        choices[i] = k
        if v <= 0:
            return arch, [f"argmax architecture missed the budget ({first}); repaired by {len(changes)} "
                          f"change(s) [{', '.join(changes)}] to {fmt(costs(arch))}"]
    raise NasError(f"budget(s) {', '.join(str(b) for b in budgets)} not met after {max_steps} repair steps")
