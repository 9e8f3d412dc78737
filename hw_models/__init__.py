"""Hardware cost models over a NetSpec (``nas.hw_models``): analytic costs, budgets, latency.

Latency: ``get_target(name)`` gives a ``Target`` (``gpu``, ``cpu``, the HELP devices; see
``targets.py``) with ``latency_ms(spec)``, ``per_layer_ms(spec)`` and ``describe()``. The models behind
them: ``RooflineModel`` (device profiles in ``profiles/*.json``), ``LatencyTable`` (measured layers,
interpolated), ``LearnedCorrection`` (fitted on measured networks); ``calibrate`` builds the last two
for this machine's CPU; ``nb201_latency`` predicts NAS-Bench-201 latency on the HELP devices.
"""

from nas.hw_models.analytic import Costs, LayerCosts, analytic_costs, per_layer
from nas.hw_models.budget import Budget
from nas.hw_models.targets import Target, get_target, target_names

__all__ = ["Budget", "Costs", "LayerCosts", "Target", "analytic_costs", "get_target", "per_layer", "target_names"]
