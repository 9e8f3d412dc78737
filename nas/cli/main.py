"""Entry point of the ``nas`` console script.

Each sub-command is a module ``nas.cli.cmd_<name>`` with ``add_parser(subparsers)`` (argparse set-up
only, no heavy imports) and ``run(args) -> int``. Heavy libraries are imported inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

COMMANDS = ("ops", "spaces", "cost", "analyze", "search", "latency", "bench", "report", "train", "eval", "supernet",
            "extract", "score")


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit 2), like every other input error; sub-parsers inherit it."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0] if message else message} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="nas",
        description="Neural architecture search under a hardware budget: typed spaces, costs, searchers.",
    )
    parser.add_argument("--version", action="version", version="nas 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        mod = import_module(f"nas.cli.cmd_{name}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from nas.errors import NasError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except NasError as e:
        print(f"nas {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader (e.g. `| head`) closed the pipe: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
