"""The trainer, checkpoints and datasets: determinism, resume, one-line errors, splits, file formats."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nas.errors import NasError
from nas.training import TrainConfig, load_checkpoint, load_dataset, save_checkpoint, train
from nas.training.datasets import dataset_signature, subset
from nas.training.recipe import (
    param_groups,
    random_affine,
    random_shift,
    warmup_cosine,
    zero_init_residual_norms,
)


@pytest.fixture(scope="module")
def digits():
    return subset(load_dataset("digits"), train=320, valid=64)


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def _same(a: nn.Module, b: nn.Module) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values())
               if x.is_floating_point())


CFG = TrainConfig(epochs=3, batch_size=64, seed=3)


def test_training_is_deterministic_for_a_seed_and_learns(digits) -> None:
    a, b, c = _net(), _net(), _net()
    ra = train(a, digits, CFG)
    rb = train(b, digits, CFG)
    train(c, digits, replace(CFG, seed=4))
    assert _same(a, b) == 0.0
    assert _same(a, c) > 0.0
    assert ra.history == rb.history[:0] + ra.history and ra.valid_accuracy == rb.valid_accuracy
    assert ra.history[-1]["train_loss"] < ra.history[0]["train_loss"]
    assert ra.epochs == 3 and ra.test_accuracy is not None and 0.0 <= ra.test_accuracy <= 1.0


def test_resume_after_a_kill_gives_identical_weights(digits, tmp_path: Path) -> None:
    whole = _net()
    train(whole, digits, CFG, out_dir=tmp_path / "whole", meta={"arch": "x"})

    class Killed(Exception):
        pass

    def kill(epoch, metrics):
        if epoch == 2:
            raise Killed

    part = _net()
    with pytest.raises(Killed):
        train(part, digits, CFG, out_dir=tmp_path / "part", meta={"arch": "x"}, on_epoch=kill)
    resumed = _net(seed=99)  # fresh weights: everything must come from the checkpoint
    r = train(resumed, digits, CFG, out_dir=tmp_path / "part", resume=True, meta={"arch": "x"})
    assert _same(whole, resumed) == 0.0
    assert r.epochs == 3
    assert (tmp_path / "part" / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs
    with pytest.raises(NasError, match="holds another architecture"):
        train(_net(), digits, CFG, out_dir=tmp_path / "part", resume=True, meta={"arch": "y"})
    with pytest.raises(NasError, match="other settings"):
        train(_net(), digits, replace(CFG, lr=0.1), out_dir=tmp_path / "part", resume=True, meta={"arch": "x"})
    with pytest.raises(NasError, match="nothing to resume"):
        train(_net(), digits, CFG, out_dir=tmp_path / "none", resume=True)


def test_on_epoch_stops_training_without_test_accuracy(digits) -> None:
    r = train(_net(), digits, CFG, on_epoch=lambda e, m: e == 1)
    assert (r.epochs, r.stopped_early, r.test_accuracy) == (1, True, None)


def test_resume_replays_the_stored_epochs_to_on_epoch(digits, tmp_path: Path) -> None:
    """A resumed run shows an outside scheduler the epochs its checkpoint holds before training on; a
    scheduler that stops there ends the run without another epoch."""
    cfg = replace(CFG, epochs=2)
    train(_net(), digits, replace(cfg, epochs=2), out_dir=tmp_path, on_epoch=lambda e, m: e == 1)
    seen: list[int] = []
    r = train(_net(), digits, cfg, out_dir=tmp_path, resume=True, on_epoch=lambda e, m: seen.append(e) or False)
    assert seen == [1, 2] and r.epochs == 2 and not r.stopped_early
    train(_net(), digits, cfg, out_dir=tmp_path / "b", on_epoch=lambda e, m: e == 1)
    r = train(_net(), digits, cfg, out_dir=tmp_path / "b", resume=True, on_epoch=lambda e, m: True)
    assert (r.epochs, r.stopped_early, r.test_accuracy) == (1, True, None)


def test_train_images_trains_on_a_prefix(digits) -> None:
    r = train(_net(), digits, replace(CFG, epochs=1, train_images=64))
    assert r.images_per_second * r.train_seconds == pytest.approx(64)
    with pytest.raises(NasError, match="train_images=0 not allowed"):
        replace(CFG, train_images=0)


def test_checkpoint_errors_are_one_line(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(2)}}, kind="train")
    assert torch.equal(load_checkpoint(good, kind="train")["model"]["w"], torch.ones(2))
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good.read_bytes()[:40])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"w": torch.ones(1)}, foreign)
    cases = [(tmp_path / "missing.pt", "does not exist"), (trunc, "corrupt or truncated"),
             (garbage, "corrupt or truncated"), (foreign, "is not a nas checkpoint")]
    for path, match in cases:
        with pytest.raises(NasError, match=match) as e:
            load_checkpoint(path)
        assert "\n" not in str(e.value)
    with pytest.raises(NasError, match="is a 'train' checkpoint; expected 'supernet'"):
        load_checkpoint(good, kind="supernet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "foreign.pt", "garbage.pt", "trunc.pt"]


def test_checkpoint_load_never_unpickles_objects(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"format": "nas.checkpoint/1", "kind": "train", "obj": Path("x")}, p)
    with pytest.raises(NasError, match="corrupt or truncated"):
        load_checkpoint(p)


def test_config_errors_are_one_line() -> None:
    for kw, match in [({"epochs": 0}, "epochs=0 not allowed"), ({"optimizer": "lion"}, "optimizer='lion'"),
                      ({"lr": 0.0}, "lr=0.0 not allowed"), ({"device": "tpu"}, "device='tpu'")]:
        with pytest.raises(NasError, match=match):
            TrainConfig(**kw)
    with pytest.raises(NasError, match="unknown training setting"):
        TrainConfig.from_json({"epochz": 2})
    # warm-up: one epoch, at most a tenth of the schedule, so a 1-epoch run still decays
    assert [TrainConfig(epochs=e).resolved_warmup_epochs for e in (1, 5, 20)] == [0.1, 0.5, 1.0]
    assert TrainConfig(epochs=4, warmup_epochs=2.0).resolved_warmup_epochs == 2.0


@pytest.mark.parametrize("key,value", [("lr", "x"), ("momentum", "x"), ("weight_decay", "x"), ("warmup_epochs", "x"),
                                       ("label_smoothing", "x"), ("grad_clip", "x"), ("seed", True)])
def test_a_settings_value_of_the_wrong_type_is_a_one_line_error_in_both_configs(key, value) -> None:
    """``--train-option lr=x`` / ``--supernet-option lr=x`` arrive as text: a NasError naming the value, not
    a TypeError from comparing it (``nas search --train-option lr=x`` printed a traceback)."""
    from nas.supernet.train import SupernetTrainConfig

    for cls in (TrainConfig, SupernetTrainConfig):
        with pytest.raises(NasError, match=f"^{key}={value!r} not allowed; give "):
            cls.from_json({key: value})
    with pytest.raises(NasError, match="distill='maybe' not allowed; give true or false"):
        SupernetTrainConfig.from_json({"distill": "maybe"})
    with pytest.raises(NasError, match="zero_init_residual='x' not allowed; give true or false"):
        TrainConfig.from_json({"zero_init_residual": "x"})


def test_recipe_parts() -> None:
    net = _net()
    groups = param_groups(net, 5e-4)
    assert [len(g["params"]) for g in groups] == [2, 4]  # conv and linear weights decay; BN and biases not
    assert groups[1]["weight_decay"] == 0.0
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    sched = warmup_cosine(opt, total_steps=10, warmup_steps=2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:3] == pytest.approx([0.5, 1.0, 1.0]) and lrs[-1] < 0.05
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    y = random_shift(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(x, y)
    assert torch.equal(random_shift(x, torch.Generator().manual_seed(0)), y)
    z = random_affine(x, torch.Generator().manual_seed(0))
    assert z.shape == x.shape and not torch.equal(z, y)  # shifted, then rotated / scaled / sheared
    assert torch.equal(random_affine(x, torch.Generator().manual_seed(0)), z)
    assert float(z.min()) >= float(x.min()) and float(z.max()) <= float(x.max())  # bilinear with edge fill
    seq = torch.randn(3, 1, 1, 40)
    assert torch.equal(random_affine(seq, torch.Generator().manual_seed(1)), random_shift(seq, torch.Generator().manual_seed(1)))


def test_zero_init_residual_branches_of_a_space_network() -> None:
    from nas.searchspace import get_space
    from nas.searchspace.tensor_type import TensorType

    sp = get_space("resnet", input=TensorType.map(1, 28, 28), num_classes=10)
    model = sp.resolve(sp.sample(np.random.default_rng(0))).build()
    n = zero_init_residual_norms(model)
    assert n >= 1
    zeroed = [m for m in model.modules() if callable(getattr(m, "last_branch_norm", None))
              and m.last_branch_norm() is not None]
    assert len(zeroed) == n and all(float(m.last_branch_norm().weight.detach().abs().sum()) == 0.0 for m in zeroed)


# -- datasets ----------------------------------------------------------------------------------------


def test_mnist5k_splits_are_fixed_stratified_and_disjoint() -> None:
    d = load_dataset("mnist5k")
    assert (len(d.train), len(d.valid), len(d.test)) == (3600, 400, 1000)
    assert d.input_type.shape()[1:] == (1, 28, 28) and d.num_classes == 10
    per_class = torch.bincount(torch.cat([d.train.y, d.valid.y, d.test.y])).tolist()
    assert torch.bincount(d.test.y).tolist() == [int(round(0.2 * n)) for n in per_class]
    assert abs(float(d.train.x.mean())) < 1e-4 and abs(float(d.train.x.std()) - 1.0) < 1e-3
    keys = [{hash(r.numpy().tobytes()) for r in s.x} for s in (d.train, d.valid, d.test)]
    assert not (keys[0] & keys[2]) and not (keys[1] & keys[2]) and not (keys[0] & keys[1])
    assert dataset_signature("mnist5k") == (d.input_type, 10)


def test_splits_are_fixed_by_the_split_seed(digits) -> None:
    a, b, c = load_dataset("digits"), load_dataset("digits"), load_dataset("digits", split_seed=1)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.valid.y, b.valid.y)
    assert not torch.equal(a.test.x, c.test.x)


def test_resize_and_signature() -> None:
    d = load_dataset("digits", resize="3x16x16")
    assert tuple(d.train.x.shape[1:]) == (3, 16, 16) and d.input_type.shape()[1:] == (3, 16, 16)
    assert torch.equal(d.train.x[:, 0], d.train.x[:, 2])  # one channel repeated
    assert dataset_signature("digits", "3x16x16") == (d.input_type, d.num_classes)
    assert (len(d.train), len(d.valid), len(d.test)) == (1295, 143, 359)


@pytest.mark.parametrize("spec, match", [
    ("mnist", "unknown dataset 'mnist'; allowed: cifar10, cifar100, digits, imagefolder, mnist1d, mnist5k"),
    ("imagefolder", "needs a path"),
    ("imagefolder:/no/such/dir", "path '/no/such/dir' does not exist"),
    ("cifar10:/no/such.tar.gz", "does not exist"),
])
def test_dataset_errors_are_one_line(spec, match) -> None:
    with pytest.raises(NasError, match=match) as e:
        load_dataset(spec)
    assert "\n" not in str(e.value)


def test_bad_resize_is_one_line() -> None:
    with pytest.raises(NasError, match="bad input size '32x32'"):
        load_dataset("digits", resize="32x32")


def _cifar_blob(labels: list[int], label_bytes: int, seed: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    recs = []
    for lab, px in zip(labels, pixels):
        head = bytes([lab]) if label_bytes == 1 else bytes([lab // 5, lab])  # cifar100: coarse, fine
        recs.append(head + px.tobytes())
    return b"".join(recs), pixels.reshape(-1, 3, 32, 32)


def test_cifar10_binary_archive_and_folder(tmp_path: Path) -> None:
    files, pixels, labels = {}, [], []
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        lab = [(i + j) % 10 for j in range(10)]
        files[name], px = _cifar_blob(lab, 1, i)
        pixels.append(px)
        labels += lab
    tar_path = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    a = load_dataset(f"cifar10:{tar_path}")
    b = load_dataset(f"cifar10:{folder}")
    assert (len(a.train) + len(a.valid), len(a.test)) == (50, 10)  # the official test batch is the test split
    assert a.input_type.shape()[1:] == (3, 32, 32) and a.num_classes == 10
    assert torch.equal(a.test.y, torch.tensor(labels[50:]))
    # the test split holds the test batch's pixels, normalised with the train split's statistics
    raw = torch.from_numpy(pixels[5].astype(np.float32) / 255.0)
    mean, std = torch.tensor(a.mean)[None, :, None, None], torch.tensor(a.std)[None, :, None, None]
    assert torch.allclose(a.test.x * std + mean, raw, atol=1e-5)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    (folder / "test_batch.bin").write_bytes(files["test_batch.bin"][:-7])
    with pytest.raises(NasError, match="is not a whole number of 3073-byte records"):
        load_dataset(f"cifar10:{folder}")
    (folder / "test_batch.bin").unlink()
    with pytest.raises(NasError, match="lacks test_batch.bin"):
        load_dataset(f"cifar10:{folder}")


def test_cifar100_reads_the_fine_label(tmp_path: Path) -> None:
    train_blob, _ = _cifar_blob([i % 100 for i in range(40)], 2, 0)
    test_blob, _ = _cifar_blob([99, 42, 7, 0, 13], 2, 1)
    (tmp_path / "train.bin").write_bytes(train_blob)
    (tmp_path / "test.bin").write_bytes(test_blob)
    d = load_dataset(f"cifar100:{tmp_path}")
    assert d.test.y.tolist() == [99, 42, 7, 0, 13] and d.num_classes == 100


def test_imagefolder_on_tiny_pngs(tmp_path: Path) -> None:
    from PIL import Image

    for c, color in (("cat", 30), ("dog", 220)):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.new("L", (6 + (i % 2), 6), color + i).save(tmp_path / c / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("ignored")
    d = load_dataset(f"imagefolder:{tmp_path}")
    assert d.input_type.shape()[1:] == (3, 6, 6) and d.num_classes == 2
    assert (len(d.train) + len(d.valid), len(d.test)) == (16, 4)
    # class 1 (dog, the brighter folder) is brighter than class 0 after normalisation too
    x = torch.cat([d.train.x, d.valid.x, d.test.x])
    y = torch.cat([d.train.y, d.valid.y, d.test.y])
    assert float(x[y == 1].mean()) > float(x[y == 0].mean())
    (tmp_path / "dog" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(NasError, match="cannot read image"):
        load_dataset(f"imagefolder:{tmp_path}")
    single = tmp_path / "single"
    (single / "only").mkdir(parents=True)
    Image.new("L", (4, 4)).save(single / "only" / "a.png")
    with pytest.raises(NasError, match="needs at least two class folders"):
        load_dataset(f"imagefolder:{single}")


def test_a_prefix_of_the_train_split_holds_every_class() -> None:
    """Splits are stored in a seeded random order, so ``subset`` (a prefix) is a fair low-fidelity sample."""
    from nas.training.datasets import subset

    small = subset(load_dataset("digits"), train=100, valid=40)
    assert len(small.train) == 100 and len(small.valid) == 40
    assert torch.bincount(small.train.y, minlength=10).min() >= 4
    assert torch.bincount(small.valid.y, minlength=10).min() >= 1
