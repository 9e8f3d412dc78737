"""``nas report RUN_DIR``: a finished search run as one self-contained HTML page (figures and tables)."""

from __future__ import annotations

from nas.cli._output import add_format


def add_parser(sub):
    p = sub.add_parser(
        "report", help="a search run folder as one self-contained HTML page",
        description="Write the figures (front, parallel coordinates, convergence, operation families per stage, "
                    "per-layer costs) and tables of a finished `nas search` run as one HTML file with the images "
                    "inline; it opens without network access.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by `nas search` (--out)")
    p.add_argument("-o", "--output", help="HTML file to write (default: RUN_DIR/report.html)")
    p.add_argument("--chosen", type=int, default=0,
                   help="front network whose per-layer costs are drawn: its index in the front, best first "
                        "on the first objective (default: 0)")
    p.add_argument("--figures", metavar="DIR", help="also write each figure as DIR/<section>.png")
    add_format(p)
    return p


def _check_outputs(args, run_dir):
    from pathlib import Path

    from nas.errors import NasError

    out = Path(args.output) if args.output else Path(run_dir) / "report.html"
    if out.is_dir():
        raise NasError(f"--output {str(out)!r} is a folder; give a file name such as report.html")
    if not out.parent.is_dir():
        raise NasError(f"--output {str(out)!r}: folder {str(out.parent)!r} does not exist")
    figures = Path(args.figures) if args.figures else None
    if figures is not None and figures.exists() and not figures.is_dir():
        raise NasError(f"--figures {str(figures)!r} is a file, not a folder")
    return out, figures


def run(args) -> int:
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    from nas.cli._output import emit_json
    from nas.io import write_bytes_atomic, write_text_atomic
    from nas.search.results.html_report import render, run_figures
    from nas.search.results.run_analysis import RunFolder

    run = RunFolder.load(args.run_dir)
    out, fig_dir = _check_outputs(args, args.run_dir)
    if run.front():
        run.chosen(args.chosen)  # a bad index fails here, before anything is written
    figures = run_figures(run, chosen=args.chosen)
    text = render(run, figures)
    write_text_atomic(out, text)
    pngs = []
    if fig_dir is not None:
        fig_dir.mkdir(parents=True, exist_ok=True)
        for f in figures:
            path = fig_dir / f"{f.section}.png"
            write_bytes_atomic(path, f.png)
            pngs.append(str(path))
    info = run.summary()
    if args.format == "json":
        emit_json({"report": str(out), "bytes": len(text.encode()), "sections": [f.section for f in figures],
                   "figures": pngs, "trials": info["trials"], "front": info["front"]})
    else:
        print(f"{run.title()}: {info['trials']} trials, {info['front']} on the front")
        print(f"report: {out} ({len(text.encode()) / 1e3:,.0f} kB, figures: {', '.join(f.section for f in figures)})")
        for p in pngs:
            print(f"figure: {p}")
    return 0
