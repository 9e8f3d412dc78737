"""The evaluator registry: how ``nas search --evaluator NAME`` turns a SearchConfig into an evaluator.

``EVALUATORS.get(name)`` is an ``EvaluatorFactory``. One registration adds an evaluator::

    @EVALUATORS.register("supernet", instantiate=True)
    class SupernetFactory(EvaluatorFactory):
        metric = "valid_accuracy"
        def __call__(self, config, ref): return SupernetEvaluator(ref, ...)

``score`` (the default: a training-free score) and ``train`` (train every feasible trial, see
``nas.search.app.train_eval``) are built in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nas.errors import NasError
from nas.searchspace.registry import Registry

if TYPE_CHECKING:
    from nas.search.app.config import SearchConfig
    from nas.search.loop.evaluation import Evaluator
    from nas.search.space_ref import SpaceRef

DEFAULT_EVALUATOR = "score"


class EvaluatorFactory:
    """Builds a picklable evaluator for one search.

    Contract: ``metric`` is the metric the search maximises by default (the evaluator returns it; it
    also returns ``score``, an alias of it, so tables and progress bars read one key); ``check(config)``
    raises a one-line NasError for settings it cannot use; ``space_settings(config)`` may fix the space's
    input type and class count (``{"input": "CxHxW", "num_classes": n}``) before the space is built;
    ``__call__(config, ref)`` returns the evaluator (called in the driver's process; it must pickle to
    run on Ray workers).
    """

    metric: str = "score"
    uses_score: bool = False
    """Whether the config's ``score`` is read (``auto`` is resolved only then)."""

    def check(self, config: SearchConfig) -> None:
        """One-line NasError for settings this evaluator cannot use."""

    def space_settings(self, config: SearchConfig) -> Mapping[str, Any]:
        return {}

    def __call__(self, config: SearchConfig, ref: SpaceRef) -> Evaluator:
        raise NotImplementedError

    def describe(self, config: SearchConfig, evaluator: Evaluator) -> str:
        return str(getattr(evaluator, "describe", lambda: type(evaluator).__name__)())


def _load_builtin() -> None:
    import nas.search.app.supernet_eval  # noqa: F401 - registers "supernet"
    import nas.search.app.train_eval  # noqa: F401 - registers "train"


EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator", loader=_load_builtin)


@EVALUATORS.register("score", instantiate=True)
class ScoreFactory(EvaluatorFactory):
    """A registered training-free score (``--score``) per architecture; no data, no training."""

    metric = "score"
    uses_score = True

    def check(self, config: SearchConfig) -> None:
        if config.data is not None and not _strategy_reads_data(config):
            raise NasError(f"--data {config.data!r} is only read by a trained evaluator "
                           "(--evaluator train) or a differentiable strategy; the score evaluator uses no data")

    def space_settings(self, config: SearchConfig) -> Mapping[str, Any]:
        # a differentiable strategy trains on --data: the space takes its class count (its input stays the
        # space's, where costs and budgets are counted; --resize sets the search network's input)
        if config.data is None or config.num_classes is not None or not _strategy_reads_data(config):
            return {}
        from nas.training.datasets import dataset_signature

        return {"num_classes": dataset_signature(config.data, config.resize)[1]}

    def __call__(self, config: SearchConfig, ref: SpaceRef) -> Evaluator:
        from nas.search.app.space_eval import ScoreEvaluator

        return ScoreEvaluator(ref, config.score, config.score_options)


def _strategy_reads_data(config: SearchConfig) -> bool:
    from nas.search.searchers.registry import SEARCHERS

    return bool(getattr(SEARCHERS.get(config.strategy), "needs_data", False))


def get_evaluator_factory(name: str) -> EvaluatorFactory:
    return EVALUATORS.get(name)
