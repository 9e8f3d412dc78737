"""Printing results: a plain table for people, JSON on stdout for machines."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any


def add_format(parser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table for people (default) or json on stdout")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True


def terminal_width() -> int:
    """Columns available: ``$COLUMNS``, else the terminal's width, else 80 (``shutil.get_terminal_size``)."""
    import shutil

    return max(20, shutil.get_terminal_size().columns)


def fit_widths(widths: Sequence[int], shrinkable: Sequence[bool], minimum: Sequence[int], width: int,
               gap: int = 2) -> list[int]:
    """Column widths that fit ``width`` characters (with ``gap`` between columns): the widest shrinkable
    column loses one character at a time until the table fits or every shrinkable column is at its
    minimum (a table of unshrinkable columns may stay wider than ``width``)."""
    out = list(widths)
    excess = sum(out) + gap * (len(out) - 1) - width
    while excess > 0:
        candidates = [i for i, ok in enumerate(shrinkable) if ok and out[i] > minimum[i]]
        if not candidates:
            break
        i = max(candidates, key=lambda j: out[j])
        out[i] -= 1
        excess -= 1
    return out


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, file=None, *,
          width: int | None = None, keep: Sequence[str] = ()) -> None:
    """Print rows as an aligned text table that fits ``width`` columns (default ``terminal_width()``).

    Text columns wrap onto more lines (at spaces where they can) when the table would be wider;
    numeric columns and the columns named in ``keep`` (paths a user copies) never wrap. ``--format
    json`` is where the full unwrapped values live.
    """
    file = file or sys.stdout
    if not rows:
        print("(no rows)", file=file)
        return
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    natural = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [all(_numeric(row[i]) or not row[i] for row in cells) for i in range(len(cols))]
    shrinkable = [not numeric[i] and c not in keep for i, c in enumerate(cols)]
    minimum = [max(len(c), 8) for c in cols]
    widths = fit_widths(natural, shrinkable, minimum, width or terminal_width())

    def emit(texts: Sequence[str], right: Sequence[bool]) -> None:
        parts = [_wrap(t, w) if shrinkable[i] else [t] for i, (t, w) in enumerate(zip(texts, widths))]
        for k in range(max(len(p) for p in parts)):
            line = "  ".join((p[k] if k < len(p) else "").rjust(w) if r else (p[k] if k < len(p) else "").ljust(w)
                             for p, w, r in zip(parts, widths, right))
            print(line.rstrip(), file=file)

    emit(cols, [False] * len(cols))
    print("  ".join("-" * w for w in widths), file=file)
    for row in cells:
        emit(row, [_numeric(v) for v in row])


def emit_json(obj: Any) -> None:
    """``obj`` on stdout as strict JSON (``nas.io.strict_json``: −inf as ``"-inf"``), any object as its str."""
    from nas.io import strict_json

    sys.stdout.write(strict_json(obj, indent=2, default=str) + "\n")
