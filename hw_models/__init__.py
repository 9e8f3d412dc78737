"""Hardware cost models over a NetSpec (``nas.hw_models``): analytic costs, budgets, latency."""

from nas.hw_models.analytic import Costs, LayerCosts, analytic_costs, per_layer
from nas.hw_models.budget import Budget

__all__ = ["Budget", "Costs", "LayerCosts", "analytic_costs", "per_layer"]
