"""``nas spaces``: list the registered search spaces and reference networks."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("spaces", help="list search spaces and reference networks")
    add_format(p)
    return p


def run(args) -> int:
    from nas.searchspace import SPACES
    from nas.searchspace.reference import REFERENCES

    rows = []
    for name, cls in SPACES.items():
        space = cls()
        rows.append({"name": name, "kind": "space", "size": space.size(), "genes": len(space.dims),
                     "input": space.config()["input"], "classes": space.num_classes,
                     "description": _first_line(cls.__doc__)})
    for name, fn in REFERENCES.items():
        rows.append({"name": name, "kind": "reference", "size": 1, "genes": 0, "input": "3x224x224",
                     "classes": 1000, "description": _first_line(fn.__doc__)})
    if args.format == "json":
        emit_json(rows)
    else:
        table([{**r, "size": f"{r['size']:.3g}" if r["size"] > 1e6 else r["size"]} for r in rows],
              ["name", "kind", "size", "genes", "input", "classes", "description"])
    return 0


def _first_line(doc: str | None) -> str:
    """The first line of a docstring ("" for a plug-in without one)."""
    return next(iter((doc or "").strip().splitlines()), "")
