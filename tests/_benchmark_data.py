"""Benchmark data for tests: missing data skips locally and fails under CI=true (DEVELOPERS.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from nas.errors import NasError
from nas.settings import benchmarks_dir

T = TypeVar("T")


def missing(why: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (benchmark data is required under CI=true)")
    pytest.skip(why)


def benchmark_file(rel: str | Path) -> Path:
    """The path of a file under the benchmark data folder."""
    try:
        path = benchmarks_dir() / rel
    except NasError as e:
        missing(str(e))
    if not path.is_file():
        missing(f"benchmark file {path} is missing")
    return path


def load_benchmark(loader: Callable[[], T]) -> T:
    """Call a loader that raises NasError when its data is missing."""
    try:
        return loader()
    except NasError as e:
        missing(str(e))
