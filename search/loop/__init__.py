"""The search loop: costs first, hard budgets, evaluation, storage, tell (``driver``), on Ray Tune
(``distributed``), and whether a space can meet a budget at all (``feasibility``)."""
