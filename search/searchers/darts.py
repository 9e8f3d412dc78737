"""Differentiable searchers ``darts``, ``gdas`` and ``beta-darts``: they own their loop and hand the driver
one derived architecture, which is costed, scored and recorded like every other trial.

The search itself is ``nas.search.searchers.darts_engine.DifferentiableSearch`` over a mixed-operation network
from ``nas.supernet`` (``nb201``: the cell's five ops on each of six edges; ``hybrid``: each stage's
token mixers plus its depth, width and MLP ratio). With budgets (``--budget``), the architecture loss
carries the expected cost and the derived architecture is repaired until it meets every budget.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from nas.errors import NasError
from nas.hw_models.budget import Budget
from nas.search.searchers.registry import SEARCHERS
from nas.search.searchers.searcher import Evaluate, Searcher
from nas.search.trial import Trial
from nas.searchspace.architecture import Architecture

CHECKPOINT_NAME = "darts_checkpoint.pt"
SUMMARY_NAME = "darts.json"
SPACES = ("nb201", "hybrid")


def search_input(space, text: str | None):
    """The search network's input: ``text`` (CxHxW), else the space's, except ``hybrid`` above 64×64
    which searches at 3×64×64 (a proxy resolution, as DARTS searches a smaller network than it deploys)."""
    from nas.searchspace.tensor_type import TensorType, parse_input

    if text:
        return parse_input(text)
    t = space.input
    if space.name == "hybrid" and t.height * t.width > 64 * 64:
        return TensorType.map(t.channels, 64, 64)
    return t


def load_search_data(spec: str, space, train_size: int | None, valid_size: int | None, input=None):
    """``spec`` resized to ``input`` (default: the space's input), cut to ``train_size``/``valid_size`` examples."""
    from nas.training.datasets import load_dataset

    t = input or space.input
    data = load_dataset(spec, resize=f"{t.channels}x{t.height}x{t.width}")
    if data.num_classes != space.num_classes:
        raise NasError(f"dataset {spec!r} has {data.num_classes} classes but the space is built for "
                       f"{space.num_classes}; pass --classes {data.num_classes}")
    return random_subset(data, train_size, valid_size)


def random_subset(data, train: int | None, valid: int | None, seed: int = 0):
    """``train``/``valid`` examples drawn at random (seeded) from each split: the splits are stored
    grouped by class, so their first examples would hold one or two classes."""
    from dataclasses import replace

    import torch

    from nas.training.datasets import Split

    gen = torch.Generator().manual_seed(seed)

    def cut(s, n):
        if n is None or n >= len(s):
            return s
        idx = torch.randperm(len(s), generator=gen)[:n].sort().values
        return Split(s.x[idx].contiguous(), s.y[idx].contiguous())

    return replace(data, train=cut(data.train, train), valid=cut(data.valid, valid))


class DifferentiableSearcher(Searcher):
    """A DARTS-family searcher (single objective: the searched network's validation loss).

    Options: ``data`` (dataset, required), ``epochs`` (default 10), ``order`` (1 or 2, darts and
    beta-darts), ``batch_size``, ``train_size``/``valid_size`` (examples used, default 1000/400),
    ``channels``/``cells`` (nb201 search network, default 8/1: reduced from 16/5), ``width_div``
    (hybrid search network widths divided by it, default 4), ``max_depth`` (hybrid depths searched),
    ``search_input`` (CxHxW the search network runs at; hybrid default 3x64x64), the optimiser settings of
    ``DartsConfig`` (``w_lr``, ``a_lr``, ``beta_max``, ``tau_max``, ``tau_min``, ``cost_weight``...),
    ``checkpoint_dir`` and ``resume`` (set by ``nas search``: the run folder, and whether to continue
    from its checkpoint). Budgets and target come from the
    search (``needs_budgets``). Contract: ``run(evaluate, n)`` searches (with ``resume``, from the run
    folder's checkpoint, which must hold the same search), derives one architecture that meets every budget, and evaluates it:
    one trial. The same seed, data and options give the same architecture.
    """

    name = ""
    method: ClassVar[str] = "darts"
    owns_loop = True
    multi_objective = True  # it optimises the network's loss; the driver's objectives are only recorded
    needs_budgets = True
    needs_data = True
    spaces: ClassVar[tuple[str, ...]] = SPACES
    checks_feasibility = False  # the driver checks that the budgets can be met before the search
    options: ClassVar[dict[str, Any]] = {
        "data": None, "epochs": 10, "order": 1, "batch_size": 64, "train_size": 1000, "valid_size": 400,
        "channels": 8, "cells": 1, "width_div": 4, "max_depth": None, "search_input": None, "w_lr": 0.025, "w_lr_min": 0.001,
        "a_lr": 3e-3, "a_weight_decay": 1e-3, "w_weight_decay": 3e-4, "beta_max": 2.0, "tau_max": 10.0,
        "tau_min": 0.1, "cost_weight": 2.0, "checkpoint_dir": None, "resume": False, "device": "cpu"}

    def __init__(self, *args: Any, budgets: Sequence[Budget] = (), target: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.space.name not in SPACES:
            raise NasError(f"strategy {self.name!r} has a mixed network for spaces {', '.join(SPACES)}, "
                           f"not {self.space.name!r}")
        if not self.opts["data"]:
            raise NasError(f"strategy {self.name!r} trains a search network: it needs --data (e.g. --data mnist5k)")
        from nas.search.searchers.darts_engine import DartsConfig

        o = self.opts
        self.config = DartsConfig(
            method=self.method, order=int(o["order"]), epochs=int(o["epochs"]), batch_size=int(o["batch_size"]),
            w_lr=float(o["w_lr"]), w_lr_min=float(o["w_lr_min"]), w_weight_decay=float(o["w_weight_decay"]),
            a_lr=float(o["a_lr"]), a_weight_decay=float(o["a_weight_decay"]), beta_max=float(o["beta_max"]),
            tau_max=float(o["tau_max"]), tau_min=float(o["tau_min"]), cost_weight=float(o["cost_weight"]),
            seed=int(self.rng.integers(2**31)))
        self.budgets = tuple(budgets)
        self.target = target
        self._arch: Architecture | None = None
        self.report: dict[str, Any] = {}

    # -- the search ---------------------------------------------------------------------------------
    def problem(self, num_classes: int):
        if self.space.name == "nb201":
            from nas.supernet.mixed import nb201_problem

            return nb201_problem(self.space, num_classes, int(self.opts["channels"]), int(self.opts["cells"]))
        from nas.supernet.mixed_hybrid import hybrid_problem

        return hybrid_problem(self.space, num_classes, int(self.opts["width_div"]), self.opts["max_depth"],
                              search_input(self.space, self.opts["search_input"]))

    def search(self, progress: bool = True) -> Architecture:
        """Run (or resume) the search and derive the architecture (cached)."""
        if self._arch is not None:
            return self._arch
        import torch

        from nas.search.searchers.darts_engine import DifferentiableSearch, derived_summary

        o = self.opts
        data = load_search_data(o["data"], self.space, o["train_size"], o["valid_size"],
                                search_input(self.space, o["search_input"]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            prob = self.problem(data.num_classes)
        cost = None
        costs = None
        if self.budgets:
            from nas.supernet.expected_cost import budget_cost

            cost, costs = budget_cost(prob, self.budgets, self.target)
        ckpt = Path(o["checkpoint_dir"]) / CHECKPOINT_NAME if o["checkpoint_dir"] else None
        meta = {"space": self.space.config(), "data": o["data"], "train": len(data.train), "valid": len(data.valid),
                "options": {k: v for k, v in o.items() if k not in ("checkpoint_dir", "resume", "device")},
                "budgets": [b.text for b in self.budgets], "target": self.target}
        engine = DifferentiableSearch(prob.net, [len(p.candidates) for p in prob.points], data, self.config,
                                      cost=cost, checkpoint=ckpt, meta=meta, device=o["device"])

        def show(row: Mapping[str, float]) -> None:
            if progress:
                extra = f", E[cost]/limit {row['expected_cost_rel']:.3f}" if "expected_cost_rel" in row else ""
                print(f"{self.name}: epoch {int(row['epoch'])}/{self.config.epochs} train loss "
                      f"{row['train_loss']:.3f} valid loss {row['valid_loss']:.3f}{extra} ({row['seconds']:.1f} s)",
                      file=sys.stderr)

        resume = bool(o["resume"]) and ckpt is not None and ckpt.is_file()  # killed before epoch 1: start over
        out = engine.run(resume=resume, progress=show)
        arch = prob.derive(out.choices)
        notes = list(prob.notes)
        if self.budgets:
            from nas.supernet.expected_cost import repair_to_budget

            arch, repair_notes = repair_to_budget(self.space, arch, out, prob, self.budgets, costs)
            notes += repair_notes
        self._arch = arch
        self.report = {"method": self.method, "order": self.config.order, "arch": arch.to_json(),
                       "search_seconds": out.search_seconds, "peak_memory_mb": out.peak_memory_mb,
                       "epochs": out.epochs, "resumed_from_epoch": out.resumed_from, "notes": notes,
                       "points": derived_summary(out, prob.points), "history": out.history,
                       "config": self.config.to_json(), "data": meta}
        for n in notes:
            print(f"{self.name}: note: {n}", file=sys.stderr)
        if o["checkpoint_dir"]:
            from nas.io import write_json_atomic

            write_json_atomic(Path(o["checkpoint_dir"]) / SUMMARY_NAME, self.report, indent=2)
        return arch

    # -- the searcher protocol ----------------------------------------------------------------------
    def ask(self) -> Architecture:
        a = self.search()
        if a.digest() in self.asked:
            raise NasError(f"{self.name} derives one architecture; it was already asked")
        return self._mark(a)

    def run(self, evaluate: Evaluate, n_trials: int) -> list[Trial]:
        if n_trials < 1:
            return []
        trial = evaluate(self.ask())
        self.tell(trial)
        return [trial]

    def _state(self) -> dict[str, Any]:
        return {"arch": self._arch.to_json() if self._arch is not None else None}

    def _load_state(self, own: Mapping[str, Any]) -> None:
        if own.get("arch") is not None:
            self._arch = Architecture.from_json(own["arch"])


@SEARCHERS.register("darts")
class DartsSearcher(DifferentiableSearcher):
    """DARTS (Liu et al. 2019): softmax-weighted mixed ops; ``order=2`` for the second-order gradient."""

    name = "darts"
    method = "darts"


@SEARCHERS.register("gdas")
class GdasSearcher(DifferentiableSearcher):
    """GDAS (Dong & Yang 2019): one Gumbel-softmax-sampled path per position and step."""

    name = "gdas"
    method = "gdas"


@SEARCHERS.register("beta-darts")
class BetaDartsSearcher(DifferentiableSearcher):
    """β-DARTS (Ye et al. 2022): DARTS with the Beta-Decay regulariser on the architecture weights."""

    name = "beta-darts"
    method = "beta-darts"
