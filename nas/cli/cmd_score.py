"""``nas score ARCH --proxy P``: zero-cost proxies and DeepMAD of one network, training-free."""

from __future__ import annotations

from nas.cli._output import add_format, emit_json, table


def add_parser(sub):
    p = sub.add_parser("score", help="zero-cost proxies and DeepMAD of one network",
                       description="ARCH: a reference network name, an NB201 arch string, or an architecture JSON "
                                   "file. Data-dependent proxies use a minibatch of --data (resized to the "
                                   "network's input), else standard-normal inputs with random labels.")
    p.add_argument("arch", metavar="ARCH")
    p.add_argument("--proxy", action="append", metavar="P",
                   help="proxy, repeatable, or 'all' (default: all): synflow, snip, grad_norm, grasp, fisher, jacov, "
                        "naswot, zen, plain, l2_norm, epe_nas, params, flops, deepmad")
    p.add_argument("--data", metavar="D", help="dataset for the minibatch, e.g. mnist5k (default: random inputs)")
    p.add_argument("--space", help="space of ARCH when it is a string (default: nb201 for NB201 strings)")
    p.add_argument("--input", help="input size CxHxW (default: the space's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the minibatch (default: 0)")
    p.add_argument("--batch-size", type=int, default=16, help="minibatch size (default: 16)")
    add_format(p)
    return p


def run(args) -> int:
    import math

    from nas.errors import NasError
    from nas.predictors.proxies import PROXIES, compute, data_batch, random_batch
    from nas.resolve_arg import resolve_arch_argument

    names = PROXIES.names() if not args.proxy or "all" in args.proxy else list(dict.fromkeys(args.proxy))
    for n in names:
        PROXIES.get(n)
    if args.seed < 0:
        raise NasError(f"--seed {args.seed} not allowed; give an integer >= 0")
    if args.batch_size < 2:
        raise NasError(f"--batch-size {args.batch_size} not allowed; give an integer >= 2")
    spec, arch = resolve_arch_argument(args.arch, args.space, args.input)
    needs_data = any(PROXIES.get(n).needs_data for n in names)
    batch = None
    if needs_data:
        if args.data:
            from nas.training.datasets import load_dataset

            t = spec.input
            if t.layout.value != "map":
                raise NasError(f"--data needs a network with image inputs; this one takes {t}")
            ds = load_dataset(args.data, resize=f"{t.channels}x{t.height}x{t.width}")
            if ds.num_classes > spec.output.channels:
                raise NasError(f"--data {args.data!r} has {ds.num_classes} classes but the network outputs "
                               f"{spec.output.channels}")
            batch = data_batch(ds, args.batch_size, args.seed)
        else:
            batch = random_batch(spec.input, spec.output.channels, args.batch_size, args.seed)
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for n in names:
        try:
            v = compute(n, spec, batch, args.seed)[n]
            values[n] = v if math.isfinite(v) else None
        except NasError as e:
            if len(names) == 1:
                raise
            errors[n] = str(e)
            values[n] = None
    out = {"arch": args.arch, "input": str(spec.input), "data": args.data or "random",
           "batch_size": args.batch_size if needs_data else None, "seed": args.seed, "scores": values}
    if arch is not None:
        out["digest"] = arch.digest()
    if errors:
        out["errors"] = errors
    if args.format == "json":
        emit_json(out)
        return 0
    print(f"{args.arch}: {spec.input}, data {out['data']}, seed {args.seed}")
    table([{"proxy": n, "value": "undefined" if values[n] is None and n not in errors else
            (errors[n] if n in errors else values[n]), "description": PROXIES.get(n).description} for n in names])
    return 0
