"""Mamba's chunked selective scan and SDPA attention against the code they replaced, in the same run.

    OMP_NUM_THREADS=1 python experiments/benchmarks/ssm_attention_speed.py [--repeats 3] [--format json]

Prints, forward + backward on this CPU at batch 1 (median of ``--repeats``), in wall seconds and in CPU
seconds of this process (``*_cpu``: steadier when other jobs share the CPU), with ratios of both:

- Mamba at L = 3,136 tokens (a 56×56 map), D = 96, expand 2 (E·D = 192 scanned channels), S = 16, with
  Δ, B, C, u taken from a freshly initialised ``mamba`` block: the selective scan alone (chunked custom op
  vs the token-by-token loop it replaced, goal ≥ 10×; vs ``mambapy``'s Blelloch parallel scan when it is
  installed, goal ≤ 1.5× its time) and the whole block (same module, the scan swapped); the largest
  output difference to the loop;
- global attention (``mhsa``) at N = 3,136, D = 96, 3 heads: ``F.scaled_dot_product_attention`` vs the
  explicit QKᵀ / softmax / AV matmuls it replaced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from _ssm_reference import naive_selective_scan  # noqa: E402  (the replaced loop: a test oracle)

from nas.searchspace import OPS, TensorType  # noqa: E402
from nas.searchspace.ops import _ssm_modules  # noqa: E402

CPU_SECONDS: dict[int, float] = {}


def fwd_bwd(fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], repeats: int) -> float:
    """Median wall seconds of fn(*inputs) forward + backward (of the output's sum); the median CPU
    seconds of this process go to ``CPU_SECONDS[id(fn)]`` (steadier on a CPU shared with other jobs)."""
    times, cpu = [], []
    for _ in range(repeats):
        xs = [x.detach().requires_grad_() for x in inputs]
        t, c = time.perf_counter(), time.process_time()
        y = fn(*xs)
        y.backward(torch.ones_like(y))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU_SECONDS[id(fn)] = statistics.median(cpu)
    return statistics.median(times)


def timed(rows: dict, name: str, fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], repeats: int) -> None:
    rows[f"{name}_s"] = fwd_bwd(fn, inputs, repeats)
    rows[f"{name}_cpu_s"] = CPU_SECONDS[id(fn)]


def ratio(rows: dict, name: str, num: str, den: str) -> None:
    rows[name] = rows[f"{num}_s"] / rows[f"{den}_s"]
    rows[f"{name}_cpu"] = rows[f"{num}_cpu_s"] / rows[f"{den}_cpu_s"]


def mamba_scan_inputs(dim: int, state: int, side: int) -> tuple[torch.nn.Module, torch.Tensor, list[torch.Tensor]]:
    """A fresh ``mamba`` block, an input map, and the scan's (u, Δ, A, B, C, skip) that block computes."""
    t = TensorType.map(dim, side, side)
    spec = OPS.get("mamba")
    hp = spec.check(t, {"state": state, "expand": 2, "conv_kernel": 4})
    torch.manual_seed(0)
    block = spec.build(t, hp)
    x = torch.randn(t.shape(1))
    with torch.no_grad():
        seq = x.flatten(2).transpose(1, 2)
        u, _ = block.in_proj(seq).chunk(2, dim=-1)
        u = F.silu(block.conv(F.pad(u.transpose(1, 2), (block.conv.kernel_size[0] - 1, 0)))).transpose(1, 2)
        dt, b, c = block.x_proj(u).split([block.rank, block.state, block.state], dim=-1)
        delta = F.softplus(block.dt_proj(dt))
    return block, x, [u, delta, -torch.exp(block.a_log.detach()), b, c, block.skip.detach()]


def mambapy_scan() -> Callable[..., torch.Tensor] | None:
    try:
        from mambapy.pscan import pscan
    except ImportError:
        return None

    def scan(u, delta, a, b, c, skip):  # mambapy.mamba.MambaBlock.selective_scan, verbatim in effect
        delta_a = torch.exp(delta.unsqueeze(-1) * a)
        bx = delta.unsqueeze(-1) * b.unsqueeze(2) * u.unsqueeze(-1)
        return (pscan(delta_a, bx) @ c.unsqueeze(-1)).squeeze(3) + skip * u

    return scan


def explicit_attention(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The matmul attention that SDPA replaced."""
    b, n, d = x.shape
    q, k, v = module.qkv(x).reshape(b, n, 3, module.heads, d // module.heads).permute(2, 0, 3, 1, 4)
    scores = (q * module.scale) @ k.transpose(-2, -1)
    return module.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--side", type=int, default=56, help="map side: L = side² tokens")
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args()
    rows: dict[str, float | int | str] = {"tokens": args.side ** 2, "threads": torch.get_num_threads()}

    block, x, scan_in = mamba_scan_inputs(96, 16, args.side)
    chunk, dtype = _ssm_modules.scan_plan(scan_in[1], scan_in[2])
    with torch.no_grad():
        err = (_ssm_modules.selective_scan(*scan_in) - naive_selective_scan(*scan_in)).abs().max().item()
    rows.update(scan_chunk=chunk, scan_dtype=str(dtype), scan_max_abs_diff=err)
    timed(rows, "scan_loop", naive_selective_scan, scan_in, args.repeats)
    timed(rows, "scan_chunked", _ssm_modules.selective_scan, scan_in, args.repeats)
    ratio(rows, "scan_speedup_vs_loop", "scan_loop", "scan_chunked")
    other = mambapy_scan()
    if other is not None:
        timed(rows, "scan_mambapy", other, scan_in, args.repeats)
        ratio(rows, "scan_time_vs_mambapy", "scan_chunked", "scan_mambapy")

    timed(rows, "block_chunked", block, [x], args.repeats)
    fast = _ssm_modules.selective_scan
    _ssm_modules.selective_scan = naive_selective_scan  # the same block with the loop swapped in
    try:
        timed(rows, "block_loop", lambda x: block(x), [x], args.repeats)
    finally:
        _ssm_modules.selective_scan = fast
    ratio(rows, "block_speedup_vs_loop", "block_loop", "block_chunked")

    t = TensorType.seq(96, args.side, args.side)
    spec = OPS.get("mhsa")
    torch.manual_seed(0)
    attn = spec.build(t, spec.check(t, {"heads": 3}))
    xs = torch.randn(t.shape(1))
    with torch.no_grad():
        rows["attention_max_abs_diff"] = (attn(xs) - explicit_attention(attn, xs)).abs().max().item()
    timed(rows, "attention_matmul", lambda x: explicit_attention(attn, x), [xs], args.repeats)
    timed(rows, "attention_sdpa", attn, [xs], args.repeats)
    ratio(rows, "attention_speedup", "attention_matmul", "attention_sdpa")

    if args.format == "json":
        print(json.dumps(rows))
    else:
        for k, v in rows.items():
            print(f"{k:26s} {v:.4g}" if isinstance(v, float) else f"{k:26s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
