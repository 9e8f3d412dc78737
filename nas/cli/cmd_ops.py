"""``nas ops``: list the registered operations with family, accepted types and knobs."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("ops", help="list registered operations")
    p.add_argument("--family", help="only this family")
    add_format(p)
    return p


def _domain_text(v) -> str:
    if isinstance(v, range):
        return f"{v.start}..{v.stop - 1}"
    if isinstance(v, type):
        return v.__name__
    return "|".join(str(x) for x in v)


def run(args) -> int:
    from nas.errors import NasError
    from nas.searchspace import FAMILIES, OPS

    if args.family and args.family not in FAMILIES:
        raise NasError(f"unknown family {args.family!r}; allowed: {', '.join(FAMILIES)}")
    rows = [
        {"op": name, "family": spec.family, "accepts": "/".join(l.value for l in spec.accepts),
         "knobs": {k: _domain_text(v) for k, v in spec.domain.items()},
         "description": spec.description or (type(spec).__doc__ or "").strip().splitlines()[0]}
        for name, spec in OPS.items() if not args.family or spec.family == args.family
    ]
    if args.format == "json":
        emit_json(rows)
    else:
        table([{**r, "knobs": " ".join(f"{k}={v}" for k, v in r["knobs"].items())} for r in rows],
              ["op", "family", "accepts", "knobs"])
    return 0
