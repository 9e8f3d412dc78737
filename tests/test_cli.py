"""The command line as a user runs it: fast help, one-line errors with exit code 2, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nas.cli.main import main


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nas.cli.main", *argv], capture_output=True, text=True, timeout=120)


def test_help_imports_no_heavy_library() -> None:
    code = ("import sys; from nas.cli.main import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'optuna', 'ray', 'pandas', 'scipy', 'matplotlib', 'networkx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cost_json_has_flops_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "resnet18", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == 11_689_512
    assert abs(out["flops"] - 1.82e9) / 1.82e9 < 0.01


def test_cost_of_unknown_arch_is_one_line_exit_2() -> None:
    r = _run("cost", "resnet1000")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "resnet1000" in r.stderr and "resnet50" in r.stderr


def test_bad_input_size_exit_2() -> None:
    r = _run("cost", "resnet18", "--input", "3x224")
    assert r.returncode == 2 and "expected CxHxW" in r.stderr and "Traceback" not in r.stderr


def test_ops_json_lists_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ops", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["family"] for r in rows} == {"conv", "attention", "ssm", "mlp", "spectral", "paramfree", "adapter"}
    assert {"conv", "dwconv", "mhsa", "s4d", "mamba", "fft_filter", "identity", "patch_embed", "head"} <= {r["op"] for r in rows}


def test_spaces_json_lists_spaces_and_references(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"hybrid", "mobilenet", "resnet", "nb201", "resnet50", "convnext_tiny"} <= set(rows)
    assert rows["nb201"]["size"] == 15625
