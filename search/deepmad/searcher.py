"""``deepmad``: a searcher that designs the network by DeepMAD's mathematical program instead of sampling.

It owns its loop: it reads the search's budgets (FLOPs, params, latency on the target), solves the
program once (``nas.search.deepmad.design.design``: SLSQP relaxation on ``resnet``, an exact integer
program on ``hybrid``; rounding, repair, polish; verification on the NetSpec), then hands the best
``top_k`` designs to the driver, which scores, costs and records them like any other trials.
With ``solver="evolution"`` it runs the TinyNAS-style evolutionary solver on the same score instead.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from nas.errors import NasError
from nas.hw_models.budget import Budget, BudgetGate
from nas.predictors.deepmad import DeepMADConfig
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Evaluate, Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture

SOLVERS = ("program", "evolution")


def constraints_from(budgets: Sequence[Budget], target: str | None, opts: Mapping[str, Any], space) -> Any:
    """DeepMADConstraints from the search's budgets and the searcher's options."""
    from nas.search.deepmad.design import default_convention
    from nas.search.deepmad.problem import DeepMADConstraints

    limits = BudgetGate(tuple(budgets)).limits()
    convention = opts["convention"]
    if convention == "auto":
        convention = default_convention(space)
    return DeepMADConstraints(
        flops=limits.get("flops"), params=limits.get("params"), latency_ms=limits.get("latency_ms"),
        target=target if "latency_ms" in limits else None, max_layers=opts["max_layers"], rho=opts["rho"],
        nondecreasing=bool(opts["nondecreasing"]), max_feature_map=opts["max_feature_map"], convention=convention,
        practical=bool(opts["practical"]))


@SEARCHERS.register("deepmad")
class DeepMADSearcher(Searcher):
    """DeepMAD's mathematical program as a searcher (single objective: the DeepMAD score).

    Options: ``rho`` (ρ₀, default none), ``convention`` ("auto": "both" on ``resnet``, else
    "analytic"; or "analytic" / "tinynas" / "both": how the FLOPs and params budgets are counted),
    ``max_layers``, ``max_feature_map``, ``nondecreasing`` (default true), ``practical`` (structural
    rules: resolution-aware kernels and depths, minimum mid widths; default true, false for the published
    program), ``top_k`` designs handed
    to the driver (default 10), ``starts`` (SLSQP starts, default 1), ``solver`` ("program" or
    "evolution"), ``candidates`` (the evolution's budget, default 100000), and the score's ``form``,
    ``alpha``, ``beta``, ``penalty_stages`` (see ``nas.predictors.deepmad``).
    Contract: ``run(evaluate, n)`` evaluates at most ``n`` distinct designs, best first; the same
    seed, space and budgets give the same designs. ``ask()`` hands out the same designs one by one.
    The driver passes ``budgets`` and ``target`` (``needs_budgets``).
    """

    name = "deepmad"
    owns_loop = True
    multi_objective = True  # it maximises the DeepMAD score; other objectives are only recorded
    needs_budgets = True
    spaces = ("resnet", "hybrid")
    # the program's optimum does not depend on the seed; the evolution does, and is cheap
    quick_options: ClassVar[dict[str, Any]] = {"solver": "evolution", "candidates": 400, "top_k": 12}
    options: ClassVar[dict[str, Any]] = {
        "rho": None, "convention": "auto", "max_layers": None, "max_feature_map": None, "nondecreasing": True,
        "top_k": 10, "starts": 1, "solver": "program", "candidates": 100000, "form": "released", "alpha": None,
        "beta": 10.0, "penalty_stages": "released", "practical": True}

    def __init__(self, *args: Any, budgets: Sequence[Budget] = (), target: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.opts["solver"] not in SOLVERS:
            raise NasError(f"deepmad solver {self.opts['solver']!r} not allowed; allowed: {', '.join(SOLVERS)}")
        self.score_config = DeepMADConfig(self.opts["form"], self.opts["alpha"], float(self.opts["beta"]),
                                          self.opts["penalty_stages"])
        self.cons = constraints_from(budgets, target, self.opts, self.space)
        self._designs: list[Architecture] | None = None
        self.report: dict[str, Any] = {}

    def designs(self) -> list[Architecture]:
        """The best designs, best first (solved once, then cached)."""
        if self._designs is None:
            from nas.search.deepmad.design import design

            if self.opts["solver"] == "program":
                d = design(self.space, self.cons, self.score_config, self.rng, starts=int(self.opts["starts"]),
                           top_k=int(self.opts["top_k"]))
                self._designs = [a for _, a in d.top]
                self.report = d.to_dict()
                print(f"deepmad: {d.method} solved in {d.seconds:.2f} s; score {d.score:,.1f}, "
                      f"rho {d.verified['rho']:.4f}, {d.verified['flops'] / 1e6:,.1f} M FLOPs, "
                      f"{d.verified['params'] / 1e6:,.3f} M params", file=sys.stderr)
            else:
                self._designs = self._evolve()
        return self._designs

    def _evolve(self) -> list[Architecture]:
        from nas.search.deepmad.design import model_for
        from nas.search.deepmad.ea import DeepMADEvolution

        if self.cons.latency_ms is not None:
            raise NasError("deepmad solver=evolution has no latency budget; use solver=program")
        model = model_for(self.space, self.score_config, self.cons.practical)
        res = DeepMADEvolution(model, self.cons).run(int(self.opts["candidates"]), self.rng)
        self.report = {"solver": "evolution", "score": res.best_score, "candidates": res.candidates,
                       "feasible": res.feasible, "seconds": res.seconds}
        print(f"deepmad: evolution of {res.candidates:,} candidates in {res.seconds:.1f} s; best score "
              f"{res.best_score:,.1f}", file=sys.stderr)
        return [model.arch(r) for _, r in res.population[: int(self.opts["top_k"])]]

    def ask(self) -> Architecture:
        designs = self.designs()
        for a in designs:
            if a.digest() not in self.asked:
                return self._mark(a)
        raise NasError(f"deepmad has no more designs: all {len(designs)} were asked (raise top_k)")

    def run(self, evaluate: Evaluate, n_trials: int) -> list[Trial]:
        out = []
        for a in self.designs()[:max(0, n_trials)]:
            trial = evaluate(a)
            self.tell(trial)
            out.append(trial)
        return out

    def _state(self) -> dict[str, Any]:
        return {"designs": [a.to_json() for a in self._designs] if self._designs is not None else None}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        if own.get("designs") is not None:
            self._designs = [Architecture.from_json(a) for a in own["designs"]]

