"""What every notebook builder here shares: a list of (kind, source, tags) cells → an nbformat notebook."""

from __future__ import annotations

from collections.abc import Sequence

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def notebook_from_cells(cells: Sequence[tuple[str, str, Sequence[str]]]) -> nbformat.NotebookNode:
    """A Python 3 notebook of markdown (``kind == "md"``) and code cells, with stable cell ids."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source, tags in cells:
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids keep git diffs small
        cell["id"] = f"cell-{i:02d}"
    return nb
