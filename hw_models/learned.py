"""Learned correction: a regression on per-layer features, fitted on measured whole networks.

The sum of isolated layer times misses what happens between layers (fusion, cache reuse, framework
overhead per call, allocator effects). The model is linear in per-layer features,

    latency(net) = b + Σ_layers w · φ(layer),
    φ(layer) = [base ms of the layer in its family's slot (one slot per family),
                roofline compute ms, roofline memory ms, roofline launch overhead ms],

so a network's prediction needs only the sums of φ, and each layer keeps its own share. The weights are
fitted to *relative* error on measured networks, non-negative, and pulled towards the prior "trust the
base model" (weight 1 on the base slots, 0 elsewhere) so that a family seen in few calibration networks
keeps a sane weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas.errors import NasError
from nas.hw_models.lookup_table import group
from nas.hw_models.roofline import LayerTerms
from nas.searchspace.netspec import NetSpec
from nas.searchspace.op_spec import FAMILIES

BASE_FEATURES = tuple(f"base_{f}" for f in FAMILIES)
FEATURES = (*BASE_FEATURES, "compute_ms", "memory_ms", "launch_ms", "const")


def _mape(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - y) / y))


def _solve(X: np.ndarray, y: np.ndarray, prior: float) -> np.ndarray:
    """Non-negative weights minimising relative squared error plus the pull towards the prior."""
    from scipy.optimize import lsq_linear

    rel = X / y[:, None]
    scale = np.sqrt(np.mean(rel**2, axis=0)) + 1e-9
    w0 = np.array([1.0 if name in BASE_FEATURES else 0.0 for name in FEATURES])
    a = np.vstack([rel, np.sqrt(prior) * np.diag(scale)])
    b = np.concatenate([np.ones(len(y)), np.sqrt(prior) * scale * w0])
    return lsq_linear(a, b, bounds=(0.0, np.inf)).x


def layer_features(base_ms: float, family: str, terms: LayerTerms) -> np.ndarray:
    """φ of one layer (``const`` slot 0)."""
    phi = np.zeros(len(FEATURES))
    phi[FAMILIES.index(family)] = base_ms
    n = len(FAMILIES)
    phi[n:n + 3] = (terms.compute_ms, terms.memory_ms, terms.overhead_ms)
    return phi


def spec_layer_features(spec: NetSpec, base_per_layer: Sequence[float], terms: Sequence[LayerTerms]) -> np.ndarray:
    """One row of φ per layer of ``spec``."""
    if len(base_per_layer) != len(spec.layers) or len(terms) != len(spec.layers):
        raise NasError("per-layer inputs must have one value per layer of the spec")
    if not spec.layers:
        return np.zeros((0, len(FEATURES)))
    return np.stack([layer_features(b, group(l), t) for l, b, t in zip(spec.layers, base_per_layer, terms)])


def network_features(layer_rows: np.ndarray) -> np.ndarray:
    """Σ φ over layers, with ``const`` = 1."""
    x = layer_rows.sum(axis=0) if len(layer_rows) else np.zeros(len(FEATURES))
    x[-1] = 1.0
    return x


@dataclass(frozen=True)
class LearnedCorrection:
    """Fitted weights of the per-layer linear model (see the module docstring).

    Contract: ``fit(X, y)`` takes one row of ``network_features`` per measured network and its measured
    ms; ``predict(X)`` gives ms for rows; ``per_layer(rows)`` splits one network's prediction into
    layers (the constant spread evenly) so that it sums to ``predict``. ``base`` names the model whose
    per-layer times fill the ``base_*`` slots (``table`` or ``roofline``).
    """

    base: str
    weights: tuple[float, ...]
    report: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, base: str = "table", prior: float = 0.05) -> LearnedCorrection:
        """Fit on rows of ``network_features`` and measured ms. The report holds the training MAPE, the
        leave-one-out MAPE (``loo_mape``) and the base model's own MAPE (``base_mape``) on the same
        networks, so a user of the correction can tell whether it beats the base model."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(X) != len(y):
            raise NasError(f"learned correction needs rows of {len(FEATURES)} features, one per measured network")
        if len(y) < 3 or np.any(y <= 0):
            raise NasError("learned correction needs at least 3 measured networks with positive times")
        w = _solve(X, y, prior)
        loo = np.array([X[i] @ _solve(np.delete(X, i, 0), np.delete(y, i), prior) for i in range(len(y))])
        base_pred = X[:, :len(BASE_FEATURES)].sum(axis=1)
        report = {"networks": int(len(y)), "prior": prior, "train_mape": _mape(X @ w, y),
                  "loo_mape": _mape(loo, y), "base_mape": _mape(base_pred, y)}
        return cls(base, tuple(float(v) for v in w), report)

    @property
    def beats_base(self) -> bool:
        """Whether the correction's leave-one-out error is below the base model's error."""
        r = self.report
        return "loo_mape" in r and "base_mape" in r and r["loo_mape"] < r["base_mape"]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ np.asarray(self.weights)

    def per_layer(self, layer_rows: np.ndarray) -> list[float]:
        w = np.asarray(self.weights)
        if not len(layer_rows):
            return []
        per = layer_rows @ w + w[-1] / len(layer_rows)
        return [float(v) for v in per]

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "features": list(FEATURES), "weights": list(self.weights), "report": dict(self.report)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LearnedCorrection:
        if list(d.get("features", [])) != list(FEATURES):
            raise NasError("learned correction was fitted with other features; run `nas latency calibrate` again")
        return cls(str(d["base"]), tuple(float(w) for w in d["weights"]), dict(d.get("report", {})))
