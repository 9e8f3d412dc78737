"""``nas eval CHECKPOINT [--data D]``: re-evaluate a `nas train` checkpoint on a dataset's valid and test splits."""

from __future__ import annotations

from nas.cli._output import add_format


def add_parser(sub):
    p = sub.add_parser("eval", help="re-evaluate a training checkpoint (valid and test accuracy)",
                       description="Rebuilds the network recorded in a `nas train` checkpoint and measures it.")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--data", help="dataset (default: the one it was trained on)")
    p.add_argument("--resize", metavar="CxHxW", help="resize the images (default: as in training)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    add_format(p)
    return p


def run(args) -> int:
    from nas.cli._output import emit_json, table
    from nas.training.run import evaluate_checkpoint

    doc = evaluate_checkpoint(args.checkpoint, args.data, args.resize, args.device)
    if args.format == "json":
        emit_json(doc)
        return 0
    table([{"metric": k, "value": v} for k, v in doc.items()])
    return 0
