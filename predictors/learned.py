"""Learned accuracy predictors (surrogates): ``fit(archs, y)`` / ``predict(archs) -> (mean, std)``.

Registered in ``PREDICTORS``: ``rf`` (scikit-learn random forest; std over trees), ``gbdt`` (LightGBM
gradient-boosted trees, a bagged ensemble of 5; std over members), ``gp`` (scikit-learn Gaussian process,
Matérn-5/2 + white noise; posterior std), ``mlp`` (an ensemble of 5 scikit-learn MLPs; std over
members) and ``gnn`` (``nas.predictors.gnn``: a small graph network over the op graph, own torch code).

LightGBM rather than XGBoost: both are well kept; LightGBM's wheel is a few MB with no GPU libraries,
it trains faster on the small, low-dimensional tables a predictor sees, and it has the same
scikit-learn interface.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from nas.errors import NasError
from nas.predictors.encodings import ArchView, Encoder
from nas.searchspace.registry import Registry


def _load_builtin_predictors() -> None:
    import nas.predictors.gnn  # noqa: F401  (the graph network registers itself from its own module)


PREDICTORS: Registry[Callable[..., Predictor]] = Registry("predictor", loader=_load_builtin_predictors)
"""Predictor classes by name: ``PREDICTORS.get(name)(view, encoding=..., seed=...)``."""


class Predictor(ABC):
    """A surrogate of an architecture's accuracy.

    Contract: ``fit(archs, y)`` returns self; it raises a one-line NasError when ``archs`` and ``y``
    differ in length, when fewer than ``min_fit`` architectures are given, or when ``y`` holds a
    NaN or infinite value. ``predict(archs)`` returns ``(mean, std)``, two float arrays of
    ``len(archs)`` in the units of ``y`` (std ≥ 0, the model's own uncertainty), and raises NasError
    before ``fit``. Deterministic for a given ``seed`` and training set (one thread).
    """

    name: ClassVar[str] = ""
    min_fit: ClassVar[int] = 2
    default_encoding: ClassVar[str] = "onehot"

    def __init__(self, view: ArchView, encoding: str | None = None, seed: int = 0, **options: Any) -> None:
        self.view = view
        self.encoding = encoding or self.default_encoding
        self.seed = int(seed)
        self.options = options
        self.encoder = Encoder(view, self.encoding) if self.encoding != "graph" else None
        self._y_mean, self._y_std = 0.0, 1.0
        self.fitted = False

    def fit(self, archs: Sequence[Any], y: Sequence[float]) -> Predictor:
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(archs) != len(y):
            raise NasError(f"fit got {len(archs)} architectures but {len(y)} targets")
        if len(archs) < self.min_fit:
            raise NasError(f"predictor {self.name!r} needs at least {self.min_fit} architectures to fit, "
                           f"got {len(archs)}")
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise NasError(f"fit targets must be finite numbers; target {bad} is {y[bad]}")
        self._y_mean, self._y_std = float(y.mean()), float(y.std()) or 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._fit(list(archs), (y - self._y_mean) / self._y_std)
        self.fitted = True
        return self

    def predict(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        if not self.fitted:
            raise NasError(f"predictor {self.name!r} must be fitted before predict")
        if not len(archs):
            return np.zeros(0), np.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m, s = self._predict(list(archs))
        return (np.asarray(m, float) * self._y_std + self._y_mean,
                np.abs(np.asarray(s, float)) * self._y_std)

    # -- features for the vector models ------------------------------------------------------------
    def _features(self, archs: list[Any], fit: bool = False) -> np.ndarray:
        assert self.encoder is not None
        X = self.encoder.fit_transform(archs) if fit else self.encoder.transform(archs)
        if fit:
            self._x_mean = X.mean(0)
            self._x_std = np.where(X.std(0) > 0, X.std(0), 1.0)
        return (X - self._x_mean) / self._x_std

    @abstractmethod
    def _fit(self, archs: list[Any], y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]: ...


def make_predictor(name: str, view: ArchView, **options: Any) -> Predictor:
    """The registered predictor ``name`` (a one-line NasError lists the names on a typo)."""
    try:
        return PREDICTORS.get(name)(view, **options)
    except TypeError as e:
        raise NasError(f"predictor {name!r}: {e}") from None


@PREDICTORS.register("rf")
class RandomForest(Predictor):
    """scikit-learn random forest (300 trees, 1/2 of the features per split); std over the trees."""

    name = "rf"

    def _fit(self, archs: list[Any], y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestRegressor

        self.model = RandomForestRegressor(n_estimators=int(self.options.get("n_estimators", 300)), max_features=0.5,
                                           random_state=self.seed, n_jobs=1)
        self.model.fit(self._features(archs, fit=True), y)

    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        X = self._features(archs)
        per_tree = np.stack([t.predict(X) for t in self.model.estimators_])
        return per_tree.mean(0), per_tree.std(0)


@PREDICTORS.register("gbdt")
class GradientBoosting(Predictor):
    """LightGBM gradient-boosted trees (500 trees of ≤7 leaves, rate 0.03, ≥3 samples per leaf, 80 % of rows
    and 50 % of features per tree; tuned on NB201 CIFAR-10 at 100 architectures): 5 members with their own
    seeds; the mean and std over the members. Options ``n_estimators``, ``learning_rate``, ``num_leaves``,
    ``min_child_samples``, ``colsample``."""

    name = "gbdt"
    min_fit = 4
    members = 5

    def _fit(self, archs: list[Any], y: np.ndarray) -> None:
        import lightgbm as lgb

        X = self._features(archs, fit=True)
        n = len(y)
        self.models = []
        for k in range(self.members):
            o = self.options
            m = lgb.LGBMRegressor(n_estimators=int(o.get("n_estimators", 500)),
                                  learning_rate=float(o.get("learning_rate", 0.03)),
                                  num_leaves=int(o.get("num_leaves", 7)),
                                  min_child_samples=int(o.get("min_child_samples", max(2, min(3, n // 4)))),
                                  subsample=0.8, subsample_freq=1, colsample_bytree=float(o.get("colsample", 0.5)),
                                  reg_lambda=1.0, min_split_gain=0.0,
                                  random_state=(self.seed * 1000 + k) % 2**31, n_jobs=1, verbose=-1, deterministic=True,
                                  force_row_wise=True)
            m.fit(X, y)
            self.models.append(m)

    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        X = self._features(archs)
        p = np.stack([m.predict(X) for m in self.models])
        return p.mean(0), p.std(0)


@PREDICTORS.register("gp")
class GaussianProcess(Predictor):
    """scikit-learn Gaussian process: constant × Matérn(ν=5/2, one length scale) + white noise, on
    standardised features; hyper-parameters by marginal likelihood (3 restarts)."""

    name = "gp"
    min_fit = 3

    def _fit(self, archs: list[Any], y: np.ndarray) -> None:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        X = self._features(archs, fit=True)
        kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(np.sqrt(X.shape[1]) or 1.0, (1e-2, 1e4), nu=2.5)
                  + WhiteKernel(0.1, (1e-4, 1.0)))
        self.model = GaussianProcessRegressor(kernel, normalize_y=False, n_restarts_optimizer=3,
                                              random_state=self.seed)
        self.model.fit(X, y)

    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        m, s = self.model.predict(self._features(archs), return_std=True)
        return m, s


@PREDICTORS.register("mlp")
class MLPEnsemble(Predictor):
    """5 scikit-learn MLPs (two hidden layers of 64, ReLU, Adam, L2 1e-3), each with its own seed; the
    mean and std over the members (BANANAS' ensemble)."""

    name = "mlp"
    min_fit = 3
    members = 5

    def _fit(self, archs: list[Any], y: np.ndarray) -> None:
        from sklearn.neural_network import MLPRegressor

        X = self._features(archs, fit=True)
        self.models = [MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, learning_rate_init=3e-3, max_iter=600,
                                    random_state=(self.seed * 1000 + k) % 2**32).fit(X, y) for k in range(self.members)]

    def _predict(self, archs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        X = self._features(archs)
        p = np.stack([m.predict(X) for m in self.models])
        return p.mean(0), p.std(0)
