"""One self-contained HTML page of a finished run: its figures as inline base64 PNGs and its tables.

The page loads nothing: no scripts, no style sheets, no fonts, no links to other files or hosts, so
it opens the same offline, from a mail attachment or from a CI artefact.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.search.results.run_analysis import RunFolder

if TYPE_CHECKING:
    import pandas as pd

#: Section ids in page order (tests and the screenshot script look for them).
SECTIONS = ("summary", "front", "parallel", "convergence", "operations", "layers", "front-table", "config")

_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1250px; color: #222; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
.scroll { max-height: 420px; overflow: auto; } .note { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.6em; font-size: 0.8em; overflow-x: auto; }
"""


@dataclass(frozen=True)
class Figure:
    """One figure of the report: section id, heading, a sentence saying what it shows, PNG bytes."""

    section: str
    heading: str
    caption: str
    png: bytes


def run_figures(run: RunFolder, chosen: int = 0, dpi: int = 100) -> list[Figure]:
    """The report's figures of ``run``; ``chosen`` is the front index whose per-layer costs are drawn."""
    from nas.search.results.run_figures import (
        convergence_figure,
        families_figure,
        front_figure,
        layers_figure,
        parallel_figure,
        png_bytes,
    )

    view = run.view
    objectives = ", ".join(f"{o} ({d[:3]})" for o, d in zip(view.objectives, view.directions))
    out = [Figure("front", "Pareto front", f"Objectives {objectives}. Each panel is one 2-D projection: every "
                  "complete trial in grey, the projection's own non-dominated staircase in red, the front of all "
                  "objectives coloured by the objective the panel does not show.",
                  png_bytes(front_figure(view, run.title()), dpi))]
    if len(view.objectives) >= 3:
        out.append(Figure("parallel", "Parallel coordinates", "Each line is one network; every axis runs from "
                          "the worst trial (bottom) to the best (top); the front is coloured by the first objective.",
                          png_bytes(parallel_figure(view), dpi)))
    conv = run.progress
    out.append(Figure("convergence", "Convergence", "Best first-objective value so far, and the hypervolume of "
                      "the front so far (objectives scaled to [0, 1] over all trials, reference point 1.1).",
                      png_bytes(convergence_figure(view, table=conv), dpi)))
    if run.front():
        shares = run.families("family")
        level = "family"
        if shares["family"].nunique() <= 2:  # e.g. nb201: every cell mixes conv and paramfree; show the ops
            shares, level = run.families("op"), "op"
        out.append(Figure("operations", f"Operation {'families' if level == 'family' else 'choices'} per stage",
                          f"Share of networks whose stage uses each operation {level}: the front (solid) against "
                          "all complete trials (pale).", png_bytes(families_figure(shares, level=level), dpi)))
        t = run.chosen(chosen)
        out.append(Figure("layers", f"Per-layer costs of front network {chosen} (trial {t.number})",
                          "FLOPs, params and (with a target) latency of each layer, coloured by family.",
                          png_bytes(layers_figure(run.layer_costs(t), f"trial {t.number}, {t.arch.digest()}"), dpi)))
    return out


def _table(df: pd.DataFrame, float_digits: int = 4) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.{float_digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    from pandas.api.types import is_numeric_dtype

    text_cols = {c for c in df.columns if not is_numeric_dtype(df[c]) or df[c].dtype == bool}
    head = "".join(f'<th class="{"text" if c in text_cols else ""}">{html.escape(str(c))}</th>' for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = "".join(f'<td class="{"text" if c in text_cols else ""}">{html.escape(fmt(v))}</td>'
                        for c, v in zip(df.columns, row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _front_table(run: RunFolder) -> pd.DataFrame:
    df = run.front_frame()
    for col in ("flops", "params"):
        if col in df.columns:
            df[col] = df[col] / 1e6
    return df.rename(columns={"flops": "MFLOPs", "params": "Mparams"})


def render(run: RunFolder, figures: Sequence[Figure]) -> str:
    """The HTML text of the report."""
    import json

    summary = run.summary()
    hv = run.progress["hypervolume"].dropna()
    items = [("run folder", str(run.folder.resolve())), ("trials", summary["trials"]),
             ("complete / infeasible / failed", f"{summary['complete']} / {summary['infeasible']} / {summary['failed']}"),
             ("objectives", ", ".join(summary["objectives"])), ("front size", summary["front"]),
             ("final hypervolume (scaled)", f"{hv.iloc[-1]:.4f}" if len(hv) else "n/a"),
             ("score", run.config.get("score_description") or run.config.get("score")),
             ("latency model", run.config.get("latency_model") or "none (no target)"),
             ("budgets", "; ".join(run.config.get("budgets_read_as", [])) or "none")]
    rows = "".join(f'<tr><th class="text">{html.escape(k)}</th><td class="text">{html.escape(str(v))}</td></tr>'
                   for k, v in items)
    parts = [f"<h1>Search run: {html.escape(run.title())}</h1>",
             '<section id="summary"><h2>Summary</h2>', f"<table>{rows}</table></section>"]
    for f in figures:
        data = base64.b64encode(f.png).decode("ascii")
        parts.append(f'<section id="{f.section}"><h2>{html.escape(f.heading)}</h2>'
                     f'<p class="note">{html.escape(f.caption)}</p>'
                     f'<img alt="{html.escape(f.heading)}" src="data:image/png;base64,{data}"></section>')
    front = _front_table(run)
    parts.append(f'<section id="front-table"><h2>Front networks ({len(front)})</h2>'
                 '<p class="note">Best first on the first objective; genes as searched. Architecture files: '
                 f'{html.escape(str((run.folder / "archs").resolve()))}/&lt;digest&gt;.json</p>'
                 f'<div class="scroll">{_table(front) if len(front) else "<p>no front</p>"}</div></section>')
    cfg = json.dumps(run.config, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    parts.append(f'<section id="config"><h2>Resolved configuration</h2><pre>{html.escape(cfg)}</pre></section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>nas report: {html.escape(run.title())}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
