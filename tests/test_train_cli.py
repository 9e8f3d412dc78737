"""`nas train` and `nas eval`: a run, its files, re-evaluation, and every bad input as exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nas.cli.main import main

CHEAP = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
OTHER = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    assert main(["train", CHEAP, "--data", "digits", "--epochs", "1", "--batch-size", "64", "--out", str(out),
                 "--no-progress", "--format", "json"]) == 0
    return out


def test_train_writes_checkpoint_metrics_and_result(run_dir: Path, capsys) -> None:
    result = json.loads((run_dir / "result.json").read_text())
    for key in ("valid_accuracy", "test_accuracy", "epochs", "train_seconds", "checkpoint"):
        assert key in result
    assert result["epochs"] == 1 and 0.0 <= result["test_accuracy"] <= 1.0
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss,train_accuracy,valid_loss,valid_accuracy") and len(lines) == 2
    assert main(["eval", str(run_dir / "checkpoint.pt"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["epochs"] == 1
    assert doc["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-12)
    assert doc["valid_accuracy"] == pytest.approx(result["valid_accuracy"], abs=1e-12)


def _fails(argv: list[str], capsys, match: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and "Traceback" not in err[0], err


@pytest.mark.parametrize("extra, match", [
    (["--data", "mnist"], "unknown dataset 'mnist'"),
    (["--data", "imagefolder:/no/such/folder"], "'/no/such/folder' does not exist"),
    (["--data", "cifar10:/no/such.tar.gz"], "does not exist"),
    (["--epochs", "0"], "epochs=0 not allowed"),
    (["--optimizer", "lion"], "optimizer='lion' not allowed"),
    (["--device", "cuda:0"] , "device 'cuda:0' is not available"),
])
def test_bad_inputs_write_nothing(extra, match, tmp_path: Path, capsys) -> None:
    out = tmp_path / "new"
    _fails(["train", CHEAP, "--data", "digits", "--out", str(out), *extra], capsys, match)
    assert not out.exists()


def test_bad_arch_is_one_line(tmp_path: Path, capsys) -> None:
    _fails(["train", "not-a-net", "--data", "digits", "--out", str(tmp_path / "x")], capsys, "cannot read ARCH")
    _fails(["train", str(tmp_path / "none.json"), "--data", "digits"], capsys, "does not exist")


def test_bad_arch_fails_before_the_dataset_loads(tmp_path: Path, capsys, monkeypatch) -> None:
    import nas.training.datasets as datasets

    def no_load(*a, **kw):
        raise AssertionError("the dataset was loaded before ARCH was checked")

    monkeypatch.setattr(datasets, "load_dataset", no_load)
    _fails(["train", "not-a-net", "--data", "mnist5k", "--resize", "1x32x32", "--out", str(tmp_path / "x")],
           capsys, "cannot read ARCH")
    _fails(["train", "|bogus~0|", "--data", "digits", "--out", str(tmp_path / "x")], capsys, "bogus")
    assert not (tmp_path / "x").exists()


def test_existing_run_is_never_overwritten(run_dir: Path, capsys) -> None:
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if not p.name.startswith(".nas.lock")}
    _fails(["train", CHEAP, "--data", "digits", "--epochs", "1", "--out", str(run_dir)], capsys,
           "already holds a training run")
    _fails(["train", OTHER, "--data", "digits", "--epochs", "1", "--batch-size", "64", "--out", str(run_dir),
            "--resume"], capsys, "holds another architecture")
    _fails(["train", CHEAP, "--data", "digits", "--epochs", "3", "--batch-size", "64", "--out", str(run_dir),
            "--resume"], capsys, "other settings")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if not p.name.startswith(".nas.lock")} == before


def test_corrupt_checkpoint(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    bad = out / "checkpoint.pt"
    bad.write_bytes(b"\x00garbage")
    _fails(["eval", str(bad)], capsys, "corrupt or truncated")
    _fails(["eval", str(tmp_path / "missing.pt")], capsys, "does not exist")
    _fails(["train", CHEAP, "--data", "digits", "--out", str(out), "--resume"], capsys, "corrupt or truncated")
    # nothing written but the run folder's lock file (nas.lock: released, harmless)
    assert bad.read_bytes() == b"\x00garbage"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".nas.lock")) == ["checkpoint.pt"]


def test_eval_on_data_of_another_input(run_dir: Path, capsys) -> None:
    _fails(["eval", str(run_dir / "checkpoint.pt"), "--resize", "1x16x16"], capsys, "the network takes")
