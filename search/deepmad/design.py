"""DeepMAD end to end: space → grid model → mathematical program → rounding, repair, polish → a verified design.

``design(space, constraints)`` picks the program for the space (``resnet``: the SLSQP relaxation of
``deepmad.resnet``; ``hybrid``: the integer program of ``deepmad.hybrid``), handles a latency budget by
re-solving under a FLOPs cap rescaled by measured/allowed latency, and verifies the answer on the
resolved NetSpec: score by ``nas.predictors.deepmad``, costs by ``nas.hw_models.analytic`` (and the
TinyNAS convention), latency by the hardware target. Every constraint must hold there, or it raises.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.predictors.deepmad import DeepMADConfig, breakdown
from nas.search.deepmad.costs import convention_costs
from nas.search.deepmad.problem import DeepMADConstraints, GridModel
from nas.search.deepmad.program import ProgramStats, polish, repair, round_to_grid, solve_relaxation
from nas.searchspace.architecture import Architecture
from nas.searchspace.space import SearchSpace

SPACES = ("resnet", "hybrid")
LATENCY_ROUNDS = 10
PATTERN_ITERS = 100  # SLSQP iterations per pinned pattern (25 ranks patterns less reliably)


def model_for(space: SearchSpace, config: DeepMADConfig | None = None, practical: bool = False) -> GridModel:
    """The DeepMAD grid model of ``space`` (one-line NasError for a space without one); ``practical``
    adds the structural rules (``nas.search.deepmad.resnet.PracticalRules``; resnet only so far)."""
    if space.name == "resnet":
        from nas.search.deepmad.resnet import PRACTICAL, ResNetModel

        return ResNetModel(space, config, PRACTICAL if practical else None)
    if space.name == "hybrid":
        from nas.search.deepmad.hybrid import HybridModel

        return HybridModel(space, config)
    raise NasError(f"DeepMAD's program covers the spaces {', '.join(SPACES)}, not {space.name!r}")


def default_convention(space: SearchSpace) -> str:
    """"both" where TinyNAS's count applies (CNN spaces), else "analytic"."""
    return "both" if space.name == "resnet" else "analytic"


@dataclass
class Design:
    """A DeepMAD design: the best architecture, its verified numbers, the runners-up, the solver's record."""

    arch: Architecture
    score: float
    verified: dict[str, float]
    top: list[tuple[float, Architecture]]
    method: str
    stats: ProgramStats
    seconds: float
    relaxed_score: float | None = None
    flops_cap: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch.to_json(), "score": self.score, "verified": self.verified, "method": self.method,
                "seconds": self.seconds, "relaxed_score": self.relaxed_score, "flops_cap": self.flops_cap,
                "evaluations": self.stats.evaluations, "slsqp_iterations": self.stats.slsqp_iterations,
                "phase_seconds": self.stats.seconds, "top": [[s, a.to_json()] for s, a in self.top],
                "notes": self.notes}


def _limit_threads():
    """One BLAS thread: SLSQP's small dense algebra only slows down with more on a shared CPU."""
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _check_smallest(model, cons: DeepMADConstraints, cap: float | None) -> None:
    """A one-line NasError when even the smallest networks (every ordered gene at its least value,
    each block type) break a cost bound: costs only grow from there."""
    from dataclasses import replace

    block_cols = [i for i, d in enumerate(model.dims) if not d.ordered]
    rows = []
    for v in range(max(len(model.dims[i].choices) for i in block_cols) if block_cols else 1):
        r = np.zeros(len(model.dims), dtype=np.int64)
        r[block_cols] = v
        rows.append(r)
    m = model.evaluate(model.canonical(np.array(rows)))
    costs_only = replace(cons, rho=None, nondecreasing=False)
    v = costs_only.violation(m, cap)
    if np.all(v > 0):
        k = int(np.argmin(v))
        conv = cons.conventions()[0]
        raise NasError(f"no feasible network: the smallest network of space {model.space.name!r} already has "
                       f"{m[f'flops_{conv}'][k] / 1e6:,.1f} M FLOPs and {m[f'params_{conv}'][k] / 1e6:,.3f} M params "
                       f"({conv} count); loosen the budget")


def _solve_resnet(model, cons: DeepMADConstraints, rng: np.random.Generator, starts: int, cap: float | None,
                  stats: ProgramStats, keep: dict[bytes, float]) -> tuple[np.ndarray, float, float]:
    """Relaxation with free block mixes, then a local search over block-type patterns (each a
    relaxation with the types pinned, warm-started), then rounding, repair and polish of the best."""
    from nas.search.deepmad.resnet import ResNetRelaxation

    need = frozenset({f"{q}_{c}" for c in cons.conventions() for q in ("flops", "params")}
                     | ({"peak"} if cons.max_feature_map is not None else set()))
    free = ResNetRelaxation(model, need=need)
    n = free.n
    _check_smallest(model, cons, cap)
    t0 = time.perf_counter()
    sols = solve_relaxation(free, cons, [free.start(rng) for _ in range(starts)], stats, cap, free.widths_order())
    pinned: dict[tuple[int, ...], tuple[float, np.ndarray]] = {}

    def solve_pattern(pattern: tuple[int, ...], z_from: np.ndarray) -> None:
        if pattern in pinned:
            return
        relax = ResNetRelaxation(model, pattern, need)
        z0 = z_from.copy()
        z0[1 + 4 * n:] = pattern
        pinned[pattern] = solve_relaxation(relax, cons, [z0], stats, cap, relax.widths_order(), PATTERN_ITERS)[0]

    for _, z in sols:
        b = z[1 + 4 * n:]
        options = [(0,) if v < 0.05 else (1,) if v > 0.95 else (0, 1) for v in b]
        for pattern in itertools.islice(itertools.product(*options), 4):
            solve_pattern(pattern, z)
    for _ in range(n):  # flip one stage's block type while the relaxed optimum improves
        best_pattern, (best_val, best_z) = max(pinned.items(), key=lambda kv: kv[1][0])
        flips = [tuple(1 - v if i == s else v for i, v in enumerate(best_pattern)) for s in range(n)]
        if list(best_pattern) == sorted(best_pattern):
            # basic blocks first, bottlenecks after (the shape every optimum we have seen takes):
            # only the flips that keep that shape, i.e. move the boundary by one stage
            flips = [f for f in flips if list(f) == sorted(f)]
        for flipped in flips:
            solve_pattern(flipped, best_z)
        if max(v for v, _ in pinned.values()) <= best_val:
            break
    stats.add_time("relaxation", t0)
    ranked = sorted(pinned.items(), key=lambda kv: -kv[1][0])[:3]
    best: tuple[np.ndarray, float] | None = None
    tried: set[bytes] = set()
    for pattern, (relaxed, z) in ranked:
        if not math.isfinite(relaxed):
            continue
        t0 = time.perf_counter()
        row = round_to_grid(model, ResNetRelaxation(model, pattern).to_values(z),
                            lambda name: not name.endswith(("_depth", "_block")))
        stats.add_time("rounding", t0)
        if row.tobytes() in tried:
            continue
        tried.add(row.tobytes())
        t0 = time.perf_counter()
        fixed = repair(model, row, cons, stats, cap)
        stats.add_time("repair", t0)
        if fixed is None:
            continue
        t0 = time.perf_counter()
        row, score = polish(model, fixed, cons, stats, cap, keep=keep)
        stats.add_time("polish", t0)
        keep[row.tobytes()] = score
        if best is None or score > best[1]:
            best = (row, score)
    if best is None:
        raise NasError("DeepMAD found no feasible network under these constraints; loosen the budget or ρ")
    return best[0], best[1], max((v for v, _ in pinned.values()), default=-math.inf)


def _solve_hybrid(model, cons: DeepMADConstraints, cap: float | None, stats: ProgramStats,
                  keep: dict[bytes, float]) -> tuple[np.ndarray, float, float]:
    from nas.search.deepmad.hybrid import solve_milp

    t0 = time.perf_counter()
    row, score, info = solve_milp(model, cons, cap)
    stats.add_time("milp", t0)
    stats.relaxed_scores.append(info["objective"])
    t0 = time.perf_counter()
    row, score = polish(model, row, cons, stats, cap, keep=keep)
    stats.add_time("polish", t0)
    keep[row.tobytes()] = score
    return row, score, info["objective"]


def verify(space: SearchSpace, arch: Architecture, cons: DeepMADConstraints, config: DeepMADConfig,
           latency: Callable[[Any], float] | None = None) -> dict[str, float]:
    """Every number of ``arch`` on its resolved NetSpec; NasError naming the first constraint it breaks."""
    spec = space.resolve(arch)
    b = breakdown(spec, config)
    from nas.hw_models.analytic import analytic_costs

    c = analytic_costs(spec)
    out: dict[str, float] = {"score": b.score, "entropy_score": b.entropy_score, "penalty": b.penalty,
                             "rho": b.rho, "layers": float(b.layers), "flops": float(c.flops),
                             "params": float(c.params), "peak_activation": float(c.peak_activation)}
    for conv in cons.conventions():
        cc = convention_costs(spec, conv)
        out[f"flops_{conv}"], out[f"params_{conv}"] = float(cc["flops"]), float(cc["params"])
        if cons.flops is not None and cc["flops"] > cons.flops:
            raise NasError(f"design breaks FLOPs ({conv}): {cc['flops']:,} > {cons.flops:,.0f}")
        if cons.params is not None and cc["params"] > cons.params:
            raise NasError(f"design breaks params ({conv}): {cc['params']:,} > {cons.params:,.0f}")
    if cons.rho is not None and b.rho > cons.rho:
        raise NasError(f"design breaks rho: {b.rho:.4f} > {cons.rho}")
    if cons.max_layers is not None and b.layers > cons.max_layers:
        raise NasError(f"design breaks the layer count: {b.layers} > {cons.max_layers}")
    if cons.max_feature_map is not None and c.peak_activation > cons.max_feature_map:
        raise NasError(f"design breaks the feature-map bound: {c.peak_activation:,} > {cons.max_feature_map:,.0f}")
    if latency is not None:
        out["latency_ms"] = float(latency(spec))
        if cons.latency_ms is not None and out["latency_ms"] > cons.latency_ms:
            raise NasError(f"design breaks latency: {out['latency_ms']:.4g} ms > {cons.latency_ms:g} ms")
    return out


def design(space: SearchSpace, cons: DeepMADConstraints, config: DeepMADConfig | None = None,
           rng: np.random.Generator | int | None = 0, *, starts: int = 3, top_k: int = 10) -> Design:
    """Solve DeepMAD's program on ``space`` under ``cons``; verify and return the design."""
    config = config or DeepMADConfig()
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    if "tinynas" in cons.conventions() and space.name != "resnet":
        raise NasError(f"the tinynas cost convention covers CNN ops only, not space {space.name!r}; "
                       "use convention=analytic")
    t_start = time.perf_counter()
    model = model_for(space, config, cons.practical)
    stats = ProgramStats()
    target = None
    if cons.latency_ms is not None:
        from nas.hw_models.targets import get_target

        target = get_target(cons.target)
    latency = target.latency_ms if target is not None else None

    def solve(cap: float | None, keep: dict[bytes, float]) -> tuple[np.ndarray, float, float]:
        with _limit_threads():
            if space.name == "resnet":
                return _solve_resnet(model, cons, rng, starts, cap, stats, keep)
            return _solve_hybrid(model, cons, cap, stats, keep)

    keep: dict[bytes, float] = {}
    notes: list[str] = []
    if target is None:
        row, score, relaxed = solve(None, keep)
        method_cap = None
    else:
        # latency is monotone in the FLOPs cap but not proportional to it (per-kernel overheads):
        # bracket the largest cap whose design meets the latency budget, then bisect in log-cap
        found: tuple[np.ndarray, float, float, float] | None = None
        found_keep: dict[bytes, float] = {}

        def attempt(c: float) -> bool:
            nonlocal found, found_keep
            round_keep: dict[bytes, float] = {}
            r, sc, rel = solve(c, round_keep)
            ok = float(target.latency_ms(space.resolve(model.arch(r)))) <= cons.latency_ms
            if ok and (found is None or sc > found[1]):
                found, found_keep = (r, sc, rel, c), round_keep
            return ok

        top_cap = cons.flops
        lo, hi = None, None
        c = top_cap or 1e9
        for _ in range(LATENCY_ROUNDS):
            if attempt(c):
                lo = c
                if top_cap is not None and c >= top_cap:
                    break
                c = min(c * 4, top_cap) if top_cap else c * 4
                if hi is not None:
                    break
            else:
                hi = c
                if lo is not None:
                    break
                c /= 4
            if lo is not None and hi is not None:
                break
        if lo is not None and hi is not None:
            for _ in range(LATENCY_ROUNDS - 2):
                mid = math.sqrt(lo * hi)
                if attempt(mid):
                    lo = mid
                else:
                    hi = mid
                if hi / lo < 1.05:
                    break
        if found is None:
            raise NasError(f"DeepMAD found no network within {cons.latency_ms:g} ms on {cons.target!r}")
        row, score, relaxed, method_cap = found
        keep = found_keep
        notes.append(f"latency budget met through a FLOPs cap of {method_cap / 1e6:,.1f} M")
    arch = model.arch(row)
    verified = verify(space, arch, cons, config, latency)
    if abs(verified["score"] - score) > 1e-6 * max(1.0, abs(score)):
        raise RuntimeError(f"DeepMAD grid model and NetSpec disagree on {arch}: {score} vs {verified['score']}")
    ranked = sorted(keep.items(), key=lambda kv: -kv[1])
    top: list[tuple[float, Architecture]] = [(score, arch)]
    for key, s in ranked:
        if len(top) >= top_k:
            break
        a = model.arch(np.frombuffer(key, dtype=np.int64))
        if a == arch:
            continue
        if latency is not None and latency(space.resolve(a)) > cons.latency_ms:
            continue
        top.append((s, a))
    return Design(arch, score, verified, top, "slsqp" if space.name == "resnet" else "milp", stats,
                  time.perf_counter() - t_start, relaxed if math.isfinite(relaxed) else None, method_cap, notes)
