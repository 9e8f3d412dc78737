"""NAS-Bench-201 latency on the 27 HELP devices: data, a few-shot predictor, and its benchmark.

Protocol (HELP's): to predict device D from ``n`` measured cells of D, every *other* device's latencies
of all 15,625 cells may serve as a prior. The predictor is a ridge regression of D's standardized log
latency on the other devices' standardized log latencies, with a per-device penalty that shrinks less
the devices whose log latencies correlate with D's on the ``n`` samples (``|r|^-ard``, adaptive ridge).
Which cells to measure is chosen by a greedy D-optimal design on the top principal components of the
other devices' log latencies (``design="dopt"``), seeded; ``design="random"`` draws them uniformly.
Hyper-parameters (alpha, ard, components) were chosen on the GPU and Xeon devices only; phones, the
Raspberry Pi, Eyeriss and the FPGA were not used for tuning.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.errors import NasError, one_of

DATA_FILE = Path("nb201_hw_latency_help") / "nb201_latency_help.csv"
#: The 27 devices of the HELP NB201 latency data (GPUs carry the batch size in their name).
DEVICES = (
    "1080ti_1", "1080ti_32", "1080ti_256", "2080ti_1", "2080ti_32", "2080ti_256",
    "titanx_1", "titanx_32", "titanx_256", "titanxp_1", "titanxp_32", "titanxp_256",
    "titan_rtx_1", "titan_rtx_32", "titan_rtx_256",
    "gold_6226", "gold_6240", "silver_4114", "silver_4210r",
    "pixel2", "pixel3", "samsung_a50", "samsung_s7", "essential_ph_1", "raspi4", "eyeriss", "fpga",
)
#: Devices the hyper-parameters were tuned on (GPUs and Xeon CPUs); the others test generalisation.
TUNE_DEVICES = DEVICES[:19]
DEVICE_KIND = {**{d: "gpu" for d in DEVICES[:15]}, **{d: "cpu" for d in DEVICES[15:19]},
               **{d: "mobile" for d in ("pixel2", "pixel3", "samsung_a50", "samsung_s7", "essential_ph_1", "raspi4")},
               "eyeriss": "asic", "fpga": "fpga"}
DESIGNS = ("dopt", "random")


@dataclass(frozen=True)
class HelpLatencyData:
    """Latency in ms of every NB201 cell (rows, in NB201 index order) on every HELP device (columns)."""

    arch_strings: tuple[str, ...]
    devices: tuple[str, ...]
    ms: np.ndarray

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.arch_strings)}

    def column(self, device: str) -> int:
        if device not in self.devices:
            raise one_of("HELP device", device, self.devices)
        return self.devices.index(device)

    def latency(self, device: str, arch_string: str) -> float:
        i = self.index.get(arch_string)
        if i is None:
            raise NasError(f"NB201 arch string {arch_string!r} is not in the HELP latency data")
        return float(self.ms[i, self.column(device)])

    @functools.cached_property
    def zlog(self) -> np.ndarray:
        """Log latencies standardized per device (mean 0, std 1 over all cells)."""
        lg = np.log(self.ms)
        return (lg - lg.mean(0)) / lg.std(0)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> HelpLatencyData:
    p = Path(path)
    if not p.is_file():
        raise NasError(f"HELP NB201 latency file {path!r} not found; set NAS_BENCHMARKS to the benchmark folder")
    with p.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    cols = [h[:-3] for h in header[2:]]
    missing = sorted(set(DEVICES) - set(cols))
    if missing or header[:2] != ["arch_index", "arch_str"]:
        raise NasError(f"{path!r} is not the HELP NB201 latency CSV (missing devices {missing})")
    order = [cols.index(d) + 2 for d in DEVICES]
    ms = np.array([[float(r[j]) for j in order] for r in rows])
    if np.any(ms <= 0):
        raise NasError(f"{path!r} holds non-positive latencies")
    return HelpLatencyData(tuple(r[1] for r in rows), DEVICES, ms)


def load_help_data(root: str | Path | None = None) -> HelpLatencyData:
    """Read the HELP NB201 latency CSV from the benchmark folder (``nas.settings.benchmarks_dir``)."""
    from nas.settings import benchmarks_dir

    return _load(str((benchmarks_dir(root) / DATA_FILE).resolve()))


class DevicePredictor:
    """Few-shot latency predictor for one HELP device (see the module docstring).

    Contract: ``fit(idx, ms)`` takes the indices of the measured cells and their latencies on the
    device (at least 3); ``predict()`` gives ms for every cell. Only the *other* devices' data and the
    given samples are used: the device's own column is never read.
    """

    def __init__(self, data: HelpLatencyData, device: str, alpha: float = 1.0, ard: float = 1.5) -> None:
        self.data, self.device = data, device
        j = data.column(device)
        self.others = np.delete(data.zlog, j, axis=1)
        self.alpha, self.ard = alpha, ard
        self._w: np.ndarray | None = None

    def fit(self, idx: Sequence[int], ms: Sequence[float]) -> DevicePredictor:
        idx = np.asarray(idx, dtype=int)
        y = np.log(np.asarray(ms, dtype=np.float64))
        if len(idx) != len(y) or len(idx) < 3 or np.any(~np.isfinite(y)):
            raise NasError("DevicePredictor.fit needs at least 3 samples with positive latencies")
        self._ym, self._ys = y.mean(), (y.std() or 1.0)
        yt = (y - self._ym) / self._ys
        X = self.others[idx]
        self._mu = X.mean(0)
        xc = X - self._mu
        sd = xc.std(0)
        r = np.zeros(X.shape[1])
        ok = sd > 0
        r[ok] = np.abs((xc[:, ok] * yt[:, None]).mean(0) / (sd[ok] * (yt.std() or 1.0)))
        penalty = 1.0 / np.maximum(r, 0.05) ** self.ard
        self._w = np.linalg.solve(xc.T @ xc + self.alpha * np.diag(penalty), xc.T @ yt)
        return self

    def predict(self) -> np.ndarray:
        if self._w is None:
            raise NasError("DevicePredictor.predict called before fit")
        return np.exp(self._ym + self._ys * ((self.others - self._mu) @ self._w))


def design_samples(data: HelpLatencyData, device: str, n: int, rng: np.random.Generator,
                   design: str = "dopt", components: int = 4, pool: int = 2000) -> np.ndarray:
    """Indices of ``n`` cells to measure on ``device``; uses only the other devices' data."""
    total = len(data.arch_strings)
    if not 3 <= n < total:
        raise NasError(f"samples={n} must be between 3 and {total - 1}")
    if design == "random":
        return rng.choice(total, n, replace=False)
    if design != "dopt":
        raise one_of("design", design, DESIGNS)
    others = np.delete(data.zlog, data.column(device), axis=1)
    u, s, _ = np.linalg.svd(others - others.mean(0), full_matrices=False)
    f = u[:, :components] * s[:components]
    f = np.hstack([np.ones((total, 1)), f / f.std(0)])
    cand = rng.choice(total, min(max(pool, 2 * n), total), replace=False)
    chosen = [int(cand[0])]
    taken = np.zeros(len(cand), dtype=bool)
    taken[0] = True
    fc = f[cand]
    for _ in range(n - 1):
        x = f[chosen]
        inv = np.linalg.inv(x.T @ x + 1e-3 * np.eye(f.shape[1]))
        gain = np.einsum("ij,jk,ik->i", fc, inv, fc)  # prediction variance: the most informative next cell
        gain[taken] = -np.inf
        i = int(np.argmax(gain))
        taken[i] = True
        chosen.append(int(cand[i]))
    return np.array(chosen)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def evaluate_device(data: HelpLatencyData, device: str, samples: int, seed: int = 0,
                    design: str = "dopt") -> dict[str, object]:
    """Fit on ``samples`` cells of ``device`` and score on all the others: Spearman ρ, Kendall τ, MAPE."""
    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    idx = design_samples(data, device, samples, rng, design)
    truth = data.ms[:, data.column(device)]
    pred = DevicePredictor(data, device).fit(idx, truth[idx]).predict()
    held = np.ones(len(truth), dtype=bool)
    held[idx] = False
    ape = np.abs(pred[held] - truth[held]) / truth[held]
    return {"device": device, "kind": DEVICE_KIND[device], "samples": samples, "design": design, "seed": seed,
            "held_out": int(held.sum()), "spearman": spearman(pred[held], truth[held]),
            "kendall": float(kendalltau(pred[held], truth[held])[0]), "mape": float(ape.mean()),
            "median_ape": float(np.median(ape)), "tuned_on": device in TUNE_DEVICES}


def benchmark(data: HelpLatencyData, samples: int, seed: int = 0, design: str = "dopt",
              devices: Sequence[str] | None = None) -> list[dict[str, object]]:
    """One row per device plus summary rows ``mean`` (all), ``mean_tuned`` and ``mean_untuned``."""
    rows = [evaluate_device(data, d, samples, seed, design) for d in (devices or data.devices)]
    out = list(rows)
    for name, sel in (("mean", rows), ("mean_tuned", [r for r in rows if r["tuned_on"]]),
                      ("mean_untuned", [r for r in rows if not r["tuned_on"]])):
        if not sel:
            continue
        worst = min(sel, key=lambda r: r["spearman"])
        out.append({"device": name, "kind": "summary", "samples": samples, "design": design, "seed": seed,
                    "devices": len(sel),
                    "spearman": float(np.mean([r["spearman"] for r in sel])),
                    "kendall": float(np.mean([r["kendall"] for r in sel])),
                    "mape": float(np.mean([r["mape"] for r in sel])),
                    "median_ape": float(np.mean([r["median_ape"] for r in sel])),
                    "worst_device": worst["device"], "worst_spearman": worst["spearman"]})
    return out
