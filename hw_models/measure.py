"""Measuring latency on this machine: warm-up, interleaved rounds, medians, fixed threads, CUDA events.

A shared, noisy machine drifts by 10-20% between blocks a minute apart. So several networks are
measured *interleaved* (round-robin: one run of each per round), and each one's statistic is the median
over rounds: a slow minute then hits every network alike instead of one network's whole block.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.errors import NasError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nas.searchspace.netspec import NetSpec


@dataclass(frozen=True)
class Measurement:
    """Latency of one callable: ``median_ms`` over ``runs`` timed runs (after ``warmup`` untimed ones),
    with the 25th/75th percentiles, the minimum, the device and the thread count used."""

    median_ms: float
    p25_ms: float
    p75_ms: float
    min_ms: float
    runs: int
    warmup: int
    threads: int
    device: str

    @property
    def iqr_rel(self) -> float:
        """Inter-quartile range relative to the median (a noise indicator)."""
        return (self.p75_ms - self.p25_ms) / self.median_ms if self.median_ms > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"median_ms": self.median_ms, "p25_ms": self.p25_ms, "p75_ms": self.p75_ms,
                "min_ms": self.min_ms, "runs": self.runs, "warmup": self.warmup, "threads": self.threads,
                "device": self.device, "iqr_rel": self.iqr_rel}


def _quantile(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(times_ms: Sequence[float], warmup: int, threads: int, device: str) -> Measurement:
    if not times_ms:
        raise NasError("no timed runs to summarize; runs must be at least 1")
    return Measurement(statistics.median(times_ms), _quantile(times_ms, 0.25), _quantile(times_ms, 0.75),
                       min(times_ms), len(times_ms), warmup, threads, device)


def steady_allocator() -> bool:
    """Keep freed activation memory in this process's heap (glibc: fixed 32 MiB mmap threshold, no heap
    trimming), as a long-running server or jemalloc/tcmalloc does. Without it a short-lived process
    page-faults its activations in on every forward pass: mobilenetv2_100 (1 thread, 224²) took 26 ms in
    a fresh process against 16 ms in one that had run a larger network first. Every CPU measurement calls
    it, so tables, on-demand layers and ``nas latency measure`` agree. Returns whether it applied."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 2**30))


@contextlib.contextmanager
def fixed_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (None keeps the current count); restore after."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise NasError(f"bad thread count {threads}; use a positive integer")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """A function that runs ``fn`` once and returns its wall time in ms (CUDA events on a GPU)."""
    import torch

    if device.startswith("cuda"):
        def run_cuda(fn: Callable[[], Any]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        return run_cuda

    def run_cpu(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    return run_cpu


def time_interleaved(fns: Sequence[Callable[[], Any]], *, runs: int = 15, warmup: int = 2,
                     threads: int | None = None, device: str = "cpu",
                     min_round_ms: float = 0.0) -> list[Measurement]:
    """Time several zero-argument callables round-robin: ``warmup`` untimed rounds, then ``runs`` timed
    rounds, each round calling every callable once (or, for a callable faster than ``min_round_ms``,
    enough back-to-back calls to fill it, timed together and divided). Returns one Measurement each."""
    if runs < 1 or warmup < 0:
        raise NasError(f"bad runs={runs} / warmup={warmup}; runs must be >= 1 and warmup >= 0")
    import torch

    timer = _timer(device)
    if not device.startswith("cuda"):
        steady_allocator()
    with fixed_threads(threads) as nthreads, torch.inference_mode():
        reps = [1] * len(fns)
        for i, fn in enumerate(fns):
            for _ in range(max(warmup, 1)):
                first = timer(fn)
            if min_round_ms > 0 and first < min_round_ms:
                reps[i] = max(1, min(1000, int(min_round_ms / max(first, 1e-3))))
        times: list[list[float]] = [[] for _ in fns]
        for _ in range(runs):
            for i, fn in enumerate(fns):
                k = reps[i]
                if k == 1:
                    times[i].append(timer(fn))
                else:
                    def many(fn: Callable[[], Any] = fn, k: int = k) -> None:
                        for _ in range(k):
                            fn()
                    times[i].append(timer(many) / k)
    return [summarize(t, warmup, nthreads, device) for t in times]


def module_runner(module: nn.Module, x: torch.Tensor) -> Callable[[], Any]:
    """A zero-argument callable running ``module(x)``."""
    return lambda: module(x)


def prepare(spec: NetSpec, batch: int = 1, device: str = "cpu", seed: int = 0) -> Callable[[], Any]:
    """Build ``spec`` in eval mode on ``device`` with a seeded random input; return the runner."""
    import torch

    if batch < 1:
        raise NasError(f"bad batch size {batch}; use a positive integer")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NasError(f"device {device!r} asked for but no CUDA GPU is available; use --device cpu")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    module = spec.build().eval().to(device)
    x = torch.randn(spec.input.shape(batch), generator=gen).to(device)
    return module_runner(module, x)


def measure_spec(spec: NetSpec, *, batch: int = 1, runs: int = 15, warmup: int = 3,
                 threads: int | None = None, device: str = "cpu") -> Measurement:
    """Median latency of one network built from ``spec`` (eval mode, inference_mode)."""
    return time_interleaved([prepare(spec, batch, device)], runs=runs, warmup=warmup, threads=threads,
                            device=device)[0]


def measure_specs(specs: Sequence[NetSpec], *, batch: int = 1, runs: int = 15, warmup: int = 2,
                  threads: int | None = None, device: str = "cpu") -> list[Measurement]:
    """Median latencies of several networks, measured interleaved (see the module docstring)."""
    return time_interleaved([prepare(s, batch, device) for s in specs], runs=runs, warmup=warmup,
                            threads=threads, device=device)


@dataclass(frozen=True)
class PeakMeasurement:
    """This machine's achievable peak: fp32 GFLOP/s from a square matmul (2·n³ FLOPs per call) and
    memory bandwidth in GB/s from a tensor copy far larger than the caches (read + write bytes)."""

    gflops: float
    bandwidth_gbs: float
    overhead_us: float
    threads: int
    how: str


def measure_peak(threads: int | None = None, n: int = 1024, copy_mb: int = 256, runs: int = 15) -> PeakMeasurement:
    """Best-of-``runs`` matmul throughput and copy bandwidth (best, not median: a peak is what the
    hardware can do when nothing else interferes)."""
    import torch

    with fixed_threads(threads) as nthreads, torch.inference_mode():
        a, b = torch.randn(n, n), torch.randn(n, n)
        c = torch.empty(n, n)
        src = torch.randn(copy_mb * 2**20 // 4)
        dst = torch.empty_like(src)
        timer = _timer("cpu")
        for _ in range(3):
            torch.mm(a, b, out=c)
            dst.copy_(src)
        mm_ms = min(timer(lambda: torch.mm(a, b, out=c)) for _ in range(runs))
        cp_ms = min(timer(lambda: dst.copy_(src)) for _ in range(runs))
        tiny, one = torch.nn.ReLU(), torch.ones(1)

        def calls() -> None:
            for _ in range(1000):
                tiny(one)
        overhead_us = statistics.median(timer(calls) for _ in range(runs))  # ms per 1000 calls = us per call
    gflops = 2 * n**3 / (mm_ms * 1e-3) / 1e9
    bw = 2 * src.numel() * 4 / (cp_ms * 1e-3) / 1e9
    how = (f"torch {torch.__version__}, {nthreads} threads: best of {runs} torch.mm({n}x{n}, {n}x{n}) fp32 "
           f"(2*n^3 FLOPs); best of {runs} copy_ of {copy_mb} MiB fp32 (read+write bytes); per-kernel "
           f"overhead = median time of one nn.ReLU call on a 1-element tensor")
    return PeakMeasurement(gflops, bw, overhead_us, nthreads, how)
