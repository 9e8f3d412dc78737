"""The application service behind ``nas search``: the config (``config``), the plan and run (``run.search``),
the space's costs and scores (``space_eval``), and the evaluator registry (``evaluators``)."""
