"""Trained evaluation inside search (--evaluator train): config checks, the evaluator registry, pruning
that a resumed run replays exactly, and one real trained search on tiny data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import nas.training.trainer as trainer_mod
from nas.errors import NasError
from nas.search.app.config import TRIAL_DEFINING, SearchConfig
from nas.search.app.evaluators import EVALUATORS, EvaluatorFactory
from nas.search.app.run import plan, search
from nas.search.app.train_eval import TrainEvaluator
from nas.search.loop.pruning import EpochPruner
from nas.training.trainer import TrainResult


def test_registry_has_score_and_train_factories() -> None:
    assert {"score", "train"} <= set(EVALUATORS.names())
    assert isinstance(EVALUATORS.get("train"), EvaluatorFactory)
    assert EVALUATORS.get("train").metric == "valid_accuracy"
    with pytest.raises(NasError, match="unknown evaluator 'bogus'; allowed: .*score.*train"):
        EVALUATORS.get("bogus")
    assert {"evaluator", "data", "resize", "epochs", "pruner", "train_options"} <= set(TRIAL_DEFINING)


@pytest.mark.parametrize("kw, match", [
    ({"evaluator": "train"}, "--evaluator train needs --data"),
    ({"evaluator": "train", "data": "nope"}, "unknown dataset 'nope'"),
    ({"evaluator": "train", "data": "digits", "pruner": "median"}, "pruner 'median' not allowed"),
    ({"evaluator": "train", "data": "digits", "pruner": "sha", "epochs": 1}, "needs --epochs of at least 2"),
    ({"evaluator": "train", "data": "digits", "input": "1x32x32"}, "differs from the data's 1x8x8"),
    ({"evaluator": "train", "data": "digits", "num_classes": 7}, "--classes 7 differs"),
    ({"evaluator": "train", "data": "digits", "train_options": {"lr": -1}}, "lr=-1 not allowed"),
    ({"evaluator": "train", "data": "digits", "train_options": {"epochs": 4}}, "set by --epochs"),
    ({"data": "digits"}, "only read by a trained evaluator"),
])
def test_bad_train_settings_are_one_line_errors(kw, match) -> None:
    with pytest.raises(NasError, match=match) as e:
        plan(SearchConfig(space="resnet", **kw))
    assert "\n" not in str(e.value)


def test_epochs_must_be_positive() -> None:
    with pytest.raises(NasError, match="epochs must be an integer of at least 1, got 0"):
        SearchConfig(epochs=0)


def test_data_sets_space_input_classes_and_objective() -> None:
    p = plan(SearchConfig(space="nb201", evaluator="train", data="mnist5k", resize="3x32x32", epochs=2))
    assert (p.config.input, p.config.num_classes) == ("3x32x32", 10)
    assert p.ref.space.input.shape()[1:] == (3, 32, 32)
    assert p.objectives == ("valid_accuracy", "flops")
    assert isinstance(p.evaluator, TrainEvaluator)
    assert p.evaluator.config.epochs == 2 and p.evaluator.config.seed == 0


def test_pruner_replay_makes_the_same_decisions() -> None:
    """A pruner fed the stored histories of earlier trials (a resumed run) prunes the next trial exactly
    as the pruner that saw them live."""
    histories = [[0.1 * ((7 * i) % 10) + 0.01 * e for e in range(1, 10)] for i in range(14)]

    def live(p: EpochPruner, h: list[float]) -> list[float]:
        ot, seen = p.start(), []
        for e, v in enumerate(h, 1):
            seen.append(v)
            if EpochPruner.report(ot, e, v):
                p.finish(ot, v, True)
                return seen
        p.finish(ot, h[-1], False)
        return seen

    for kind in ("sha", "hyperband"):
        a = EpochPruner(kind, 9)
        done = [live(a, h) for h in histories]
        assert sum(map(len, done)) < 0.6 * sum(map(len, histories)), kind  # it does prune
        b = EpochPruner(kind, 9)
        for h in done[:9]:
            b.replay(h, failed=False)
        assert [live(b, h) for h in histories[9:]] == done[9:], kind


def _fake_train(model, data, config, *, on_epoch=None, **kw) -> TrainResult:
    """A deterministic stand-in for training: validation accuracy rises with the epoch, its level set by
    the model's parameter count (so different architectures differ)."""
    n = sum(p.numel() for p in model.parameters())
    level = int(hashlib.sha256(str(n).encode()).hexdigest()[:4], 16) / 16**4
    hist = []
    for e in range(1, config.epochs + 1):
        acc = level * (1 - 0.5 ** e)
        hist.append({"valid_accuracy": acc})
        if on_epoch is not None and on_epoch(e, hist[-1]):
            return TrainResult(acc, None, e, 0.1 * e, 1.0, None, stopped_early=True, history=tuple(hist))
    return TrainResult(hist[-1]["valid_accuracy"], level, config.epochs, 0.1, 1.0, None, history=tuple(hist))


def test_pruned_search_resumes_to_the_uninterrupted_trials(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(trainer_mod, "train", _fake_train)
    cfg = SearchConfig(space="resnet", strategy="random", evaluator="train", data="digits", epochs=9,
                       pruner="sha", trials=12, batch_size=4, budgets=("2M-flops",))
    whole = search(cfg, tmp_path / "whole", log=lambda m: None).result
    from dataclasses import replace

    search(replace(cfg, trials=5), tmp_path / "part", log=lambda m: None)
    run = search(cfg, tmp_path / "part", resume=True, log=lambda m: None)
    resumed, out = run.result, run.run_dir

    def essence(r):
        return [(t.number, t.arch.digest(), t.state, t.values, t.info.get("pruned")) for t in r.trials]

    assert essence(resumed) == essence(whole)
    epochs = [t.scores["epochs"] for t in whole.trials if t.complete]
    assert min(epochs) == 1 and max(epochs) == 9  # some pruned at the first rung (epochs / 9), some trained fully
    assert {1, 3} & set(epochs[1:]) and set(epochs) <= {1, 3, 9}  # the rungs are 1, 3, 9
    assert all(t.info["test_accuracy"] is None for t in whole.trials if t.complete and t.info["pruned"])
    front = json.loads((out / "front.json").read_text())
    assert front["objectives"] == ["valid_accuracy", "flops"]
    assert all("valid_accuracy" in r for r in front["pareto"])


@pytest.mark.slow
def test_real_trained_search_on_digits(tmp_path: Path) -> None:
    """Two trials really trained: valid accuracy measured, test accuracy only as info, both in (0, 1]."""
    cfg = SearchConfig(space="resnet", strategy="random", evaluator="train", data="digits", epochs=1,
                       trials=2, batch_size=2, budgets=("0.3M-flops",), train_options={"batch_size": 64})
    run = search(cfg, tmp_path / "run", log=lambda m: None)
    result, out = run.result, run.run_dir
    done = [t for t in result.trials if t.complete]
    assert done, [t.error for t in result.trials]
    for t in done:
        assert 0.0 < t.scores["valid_accuracy"] <= 1.0 and t.scores["score"] == t.scores["valid_accuracy"]
        assert 0.0 < t.info["test_accuracy"] <= 1.0 and "test_accuracy" not in t.scores
    assert json.loads((out / "config.json").read_text())["input"] == "1x8x8"


class _Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so no trial records it as failed."""


def test_killed_trained_trial_resumes_from_its_last_epoch(tmp_path: Path, monkeypatch) -> None:
    """A search killed while trial 1 trains (after its epoch-1 checkpoint) resumes that trial at epoch 2
    (epoch 1 is not trained again) and the trials equal an uninterrupted run's; the checkpoints go at the end."""
    from nas.search.app.train_eval import TRIAL_CHECKPOINTS

    cfg = SearchConfig(space="resnet", strategy="random", evaluator="train", data="digits", epochs=2,
                       trials=2, batch_size=1, budgets=("0.3M-flops",), train_options={"batch_size": 64})
    whole = search(cfg, tmp_path / "whole", log=lambda m: None).result
    real_evaluate, calls = trainer_mod.evaluate, []

    def counting(model, split, *a, **kw):
        calls.append(len(split))
        if kill_at and len(calls) == kill_at:
            raise _Killed
        return real_evaluate(model, split, *a, **kw)

    monkeypatch.setattr(trainer_mod, "evaluate", counting)
    kill_at = 5  # trial 0: 2 valid + 1 test evaluations; trial 1: killed in its second validation
    with pytest.raises(_Killed):
        search(cfg, tmp_path / "part", log=lambda m: None)
    ckpts = list((tmp_path / "part" / TRIAL_CHECKPOINTS).glob("*/checkpoint.pt"))
    assert len(ckpts) == 1
    kill_at, calls[:] = 0, []
    run = search(cfg, tmp_path / "part", resume=True, log=lambda m: None)
    resumed, out = run.result, run.run_dir
    assert len(calls) == 2  # epoch 2 validated, then the test split: epoch 1 was not trained again

    def essence(r):
        return [(t.number, t.arch.digest(), t.state, t.scores, t.info.get("valid_history"),
                 t.info.get("test_accuracy")) for t in r.trials]

    assert essence(resumed) == essence(whole)
    assert not (out / TRIAL_CHECKPOINTS).exists()


def test_an_architecture_in_training_elsewhere_gets_its_own_checkpoint_folder(tmp_path: Path, monkeypatch) -> None:
    """Two workers training the same architecture at once never share (or delete) one checkpoint folder."""
    from nas.lock import FolderLock
    from nas.search.space_ref import SpaceRef

    seen: list[Path] = []

    def fake(model, data, config, *, out_dir=None, **kw):
        seen.append(Path(out_dir))
        (Path(out_dir) / "checkpoint.pt").write_bytes(b"x")
        return _fake_train(model, data, config, **kw)

    monkeypatch.setattr(trainer_mod, "train", fake)
    ev = TrainEvaluator(ref=SpaceRef("resnet", "1x8x8", 10), data="digits",
                        train={"epochs": 2}, checkpoint_dir=str(tmp_path / "ck"))
    arch = ev.ref.space.sample(np.random.default_rng(0))
    other = tmp_path / "ck" / arch.digest()
    with FolderLock(other):  # the other worker
        (other / "checkpoint.pt").write_bytes(b"theirs")
        ev.evaluate(arch)
        assert (other / "checkpoint.pt").read_bytes() == b"theirs"
    assert seen[0] != other and seen[0].name.startswith(arch.digest() + "-") and not seen[0].exists()
    ev.evaluate(arch)
    assert seen[1] == other and not other.exists()
