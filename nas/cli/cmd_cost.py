"""``nas cost ARCH``: FLOPs, params, memory, bytes (and latency on a target) of one network."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("cost", help="analytic costs of one network",
                       description="ARCH: a reference network name, an NB201 arch string, or an architecture JSON file.")
    p.add_argument("arch", metavar="ARCH")
    p.add_argument("--space", help="space of ARCH when it is a string (default: nb201 for NB201 strings)")
    p.add_argument("--input", help="input size CxHxW, e.g. 3x224x224 (default: the space's)")
    p.add_argument("--target", help="hardware target for latency (see `nas latency targets`)")
    p.add_argument("--per-layer", action="store_true", help="also list each layer's costs")
    p.add_argument("--no-measure", action="store_true",
                   help="with --target cpu: never measure layers missing from this machine's table "
                        "(default: measure them once, a few seconds, and cache them)")
    add_format(p)
    return p


def run(args) -> int:
    from nas.hw_models.analytic import analytic_costs, per_layer
    from nas.resolve_arg import resolve_arch_argument

    spec, arch = resolve_arch_argument(args.arch, args.space, args.input)
    costs = analytic_costs(spec)
    out: dict = {"arch": args.arch, "name": spec.name, "input": str(spec.input), "output": str(spec.output),
                 "layers": len(spec.layers), **costs.to_dict()}
    if arch is not None:
        out["digest"] = arch.digest()
    layer_ms = None
    if args.target:

        target = prepare_target(args.target, args.no_measure)
        out["target"] = args.target
        out["latency_ms"] = float(target.latency_ms(spec))
        out["latency_model"] = target.describe()
        out.update(latency_details(target, spec))
        if args.per_layer:
            layer_ms = [float(v) for v in target.per_layer_ms(spec)]
    rows = [{"layer": c.name, "op": c.op, "family": c.family, "flops": c.flops, "params": c.params,
             "bytes": c.bytes} for c in per_layer(spec)] if args.per_layer else None
    if rows is not None and layer_ms is not None:
        for r, ms in zip(rows, layer_ms):
            r["latency_ms"] = ms
    if args.format == "json":
        if rows is not None:
            out["per_layer"] = rows
        emit_json(out)
        return 0
    if rows is not None:
        table(rows)
        print()
    summary = [{"metric": "FLOPs (MACs)", "value": f"{costs.flops / 1e6:,.2f} M"},
               {"metric": "params", "value": f"{costs.params / 1e6:,.3f} M"},
               {"metric": "activations", "value": f"{costs.activations / 1e6:,.3f} M elements"},
               {"metric": "peak activation", "value": f"{costs.peak_activation / 1e6:,.3f} M elements"},
               {"metric": "memory traffic", "value": f"{costs.bytes / 2**20:,.1f} MiB (fp32)"}]
    if "latency_ms" in out:
        summary.append({"metric": f"latency on {args.target}", "value": f"{out['latency_ms']:.3f} ms ({out['latency_model']})"})
        if "latency_layers" in out:
            summary.append({"metric": "latency layers", "value": describe_sources(out["latency_layers"])})
    print(f"{args.arch}: {spec.input} -> {spec.output}, {len(spec.layers)} layers")
    table(summary)
    return 0


def prepare_target(name: str, no_measure: bool = False):
    """The target ``name``; the local ``cpu`` target measures missing layers on demand unless ``no_measure``."""
    import sys

    from nas.hw_models.targets import CpuTarget, get_target

    target = get_target(name)
    if isinstance(target, CpuTarget) and not no_measure:
        target.measure_on_demand(log=lambda s: print(s, file=sys.stderr, flush=True))
    return target


def latency_details(target, spec) -> dict:
    """For the cpu target: the thread count and how many layers were measured / interpolated / modelled."""
    from nas.hw_models.targets import CpuTarget

    if not isinstance(target, CpuTarget):
        return {}
    return {"latency_threads": target.threads, "latency_layers": target.sources(spec)}


def describe_sources(counts: dict) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items())
