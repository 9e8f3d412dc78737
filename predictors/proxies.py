"""Zero-cost proxies computed by our own code on a built network and a minibatch (``nas.predictors.proxies``).

Every proxy maps (a NetSpec, a ``Batch``, a seed) to one float, higher meaning "predicted better":

=========  =================================================================================================
synflow    log Σ|θ·∂R/∂θ| with |θ|, all-ones input, BN at its initial statistics, float64 (Tanaka 2020)
snip       Σ|θ·∂L/∂θ| over conv/linear weights, cross-entropy on the batch (Lee 2019)
grad_norm  Σ over conv/linear layers of ‖∂L/∂W‖₂ (Abdelfattah 2021)
grasp      Σ −θ·(H g), H the Hessian of L and g its gradient, over conv/linear weights (Wang 2020)
fisher     Σ over conv/linear outputs a of ½·mean_batch(Σ_spatial a·∂L/∂a)², per channel, summed (Turner 2020)
jacov      −Σ log(λ+k) + 1/(λ+k), λ the eigenvalues of the correlation of the input Jacobians (Mellor v1)
naswot     log|K|, K the Hamming-similarity kernel of the batch's ReLU/GELU on-off codes (Mellor 2021)
zen        log E|f(x) − f(x + 0.01 ε)| before the head, Gaussian weights, + Σ_BN log √mean(running var) (Lin 2021)
plain      Σ θ·∂L/∂θ over conv/linear weights (Abdelfattah 2021)
l2_norm    Σ over conv/linear layers of ‖W‖₂ at initialisation
epe_nas    Σ_classes |Σ log(|corr of that class's input Jacobians| + k)| (Lopes 2021)
params     analytic parameter count of the NetSpec
flops      analytic MACs of the NetSpec (one multiply-accumulate = one FLOP)
deepmad    DeepMAD's entropy score (``nas.predictors.deepmad``)
=========  =================================================================================================

Contract: deterministic for a given (spec, batch, seed) with a fixed number of threads: weights come from
the builder's initialisation under torch seed ``seed`` (the global rng is left as it was), random
inputs from a ``torch.Generator`` seeded the same way. A proxy that is undefined for a network (say
jacov when the output does not depend on the input) returns ``-inf`` (the worst value), never NaN.
Any space whose ops build in torch works; ``deepmad`` needs an entropy rule for each op.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.errors import NasError
from nas.searchspace.netspec import NetSpec
from nas.searchspace.registry import Registry
from nas.searchspace.tensor_type import TensorType

if TYPE_CHECKING:
    import torch
    from torch import nn

DEFAULT_BATCH = 16


@dataclass(frozen=True)
class Batch:
    """One minibatch: ``x`` float32 N×C×H×W (or the space's input shape), ``y`` int64 labels in
    ``[0, num_classes)``; ``source`` says where it came from (``random`` or a dataset name)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    source: str = "random"


def random_batch(input: TensorType, num_classes: int, size: int = DEFAULT_BATCH, seed: int = 0) -> Batch:
    """Standard-normal inputs and uniform labels from a generator seeded with ``seed``."""
    import torch

    if size < 2:
        raise NasError(f"proxy batch size must be at least 2, got {size}")
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(*input.shape(size), generator=g)
    y = torch.randint(0, num_classes, (size,), generator=g)
    return Batch(x, y, num_classes, "random")


def data_batch(data: Any, size: int = DEFAULT_BATCH, seed: int = 0) -> Batch:
    """``size`` training examples of a loaded dataset (``nas.training.DatasetSplits``), drawn by ``seed``."""
    import torch

    n = len(data.train)
    if not 2 <= size <= n:
        raise NasError(f"proxy batch size must lie in 2..{n} for dataset {data.name!r}, got {size}")
    idx = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    t = torch.from_numpy(idx)
    return Batch(data.train.x[t].contiguous(), data.train.y[t].contiguous(), int(data.num_classes), str(data.name))


# -- helpers -------------------------------------------------------------------------------------------
def _prunable(model: nn.Module) -> list[nn.Module]:
    from torch import nn

    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def _loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    from torch.nn import functional as F

    out = model(batch.x)
    if out.dim() != 2:
        out = out.reshape(out.shape[0], -1)
    if batch.num_classes > out.shape[1]:
        raise NasError(f"the batch has {batch.num_classes} classes but the network outputs {out.shape[1]}; "
                       "build the space with the data's class count")
    return F.cross_entropy(out, batch.y)


def _finite(v: float) -> float:
    return v if math.isfinite(v) else (math.inf if v > 0 else -math.inf)


def _need(batch: Batch | None, name: str) -> Batch:
    if batch is None:
        raise NasError(f"proxy {name!r} needs a batch of inputs (random or from a dataset)")
    return batch


# -- the proxies ------------------------------------------------------------------------------------
def synflow(model: nn.Module, batch: Batch | None, spec: NetSpec) -> float:
    import torch

    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x = torch.ones(*spec.input.shape(1), dtype=torch.float64)
    model.zero_grad()
    model(x).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else -math.inf


def gradient_pass(model: nn.Module, batch: Batch | None, spec: NetSpec) -> dict[str, float]:
    """snip, grad_norm, plain and fisher from one forward/backward of the cross-entropy on ``batch``."""
    batch = _need(batch, "snip/grad_norm/plain/fisher")
    acts: list[Any] = []

    def keep(_m, _inp, out):
        if out.requires_grad:
            out.retain_grad()
            acts.append(out)

    layers = _prunable(model)
    hooks = [m.register_forward_hook(keep) for m in layers]
    try:
        model.train()
        model.zero_grad()
        _loss(model, batch).backward()
    finally:
        for h in hooks:
            h.remove()
    snip_v = grad_v = plain_v = fisher_v = 0.0
    for m in layers:
        g = m.weight.grad
        if g is None:
            continue
        w = m.weight.detach()
        snip_v += float((g * w).abs().sum())
        grad_v += float(g.norm())
        plain_v += float((g * w).sum())
    for a in acts:
        if a.grad is None:
            continue
        prod = (a * a.grad).detach()
        per = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod  # N × channels
        fisher_v += float((0.5 * per.pow(2).mean(0)).sum())
    return {"snip": snip_v, "grad_norm": grad_v, "plain": plain_v, "fisher": fisher_v}


def l2_norm(model: nn.Module, batch: Batch | None, spec: NetSpec) -> float:
    return float(sum(float(m.weight.detach().norm()) for m in _prunable(model)))


def grasp(model: nn.Module, batch: Batch | None, spec: NetSpec) -> float:
    """Exact Hessian-gradient product by double backward; for ops without a double backward in torch
    (hardswish, hardsigmoid) a central finite difference of the gradient along g instead."""
    import torch

    batch = _need(batch, "grasp")
    model.train()
    weights = [m.weight for m in _prunable(model)]
    if not weights:
        return 0.0
    g = [t if t is not None else torch.zeros_like(w)
         for t, w in zip(torch.autograd.grad(_loss(model, batch), weights, allow_unused=True), weights)]
    try:
        g2 = torch.autograd.grad(_loss(model, batch), weights, create_graph=True, allow_unused=True)
        z = sum((a * b.detach()).sum() for a, b in zip(g2, g) if a is not None)
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            return 0.0
        hg = torch.autograd.grad(z, weights, allow_unused=True)
    except RuntimeError:
        hg = _hvp_finite_difference(model, batch, weights, g)
    return float(sum(float((-w.detach() * h).sum()) for w, h in zip(weights, hg) if h is not None))


def _hvp_finite_difference(model: nn.Module, batch: Batch, weights: list, g: list) -> list:
    import torch

    norm = float(torch.sqrt(sum((t * t).sum() for t in g)))
    if norm == 0.0:
        return [torch.zeros_like(w) for w in weights]
    eps = 1e-3 / norm

    def grad_at(sign: float) -> list:
        with torch.no_grad():
            for w, t in zip(weights, g):
                w.add_(t, alpha=sign * eps)
        out = torch.autograd.grad(_loss(model, batch), weights, allow_unused=True)
        with torch.no_grad():
            for w, t in zip(weights, g):
                w.sub_(t, alpha=sign * eps)
        return [o if o is not None else torch.zeros_like(w) for o, w in zip(out, weights)]

    plus, minus = grad_at(1.0), grad_at(-1.0)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _jacobians(model: nn.Module, batch: Batch) -> np.ndarray:
    x = batch.x.clone().requires_grad_(True)
    model.train()
    model.zero_grad()
    out = model(x)
    if out.requires_grad:
        out.backward(__import__("torch").ones_like(out))
    if x.grad is None:  # the output does not depend on the input
        return np.zeros((x.shape[0], x[0].numel()))
    return x.grad.detach().reshape(x.shape[0], -1).double().numpy()


def _jacov(jac: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return -math.inf
    v = np.abs(np.linalg.eigvalsh(corr))
    k = 1e-5
    return _finite(float(-np.sum(np.log(v + k) + 1.0 / (v + k))))


def _epe_nas(jac: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    k, per_class = 1e-5, []
    for c in np.unique(labels):
        rows = jac[labels == c]
        if len(rows) < 2:
            continue
        with np.errstate(all="ignore"):
            corr = np.corrcoef(rows)
        if not np.all(np.isfinite(corr)):
            return -math.inf
        s = float(np.sum(np.log(np.abs(corr) + k)))
        per_class.append(s / len(corr) if num_classes > 100 else s)
    if not per_class:
        return -math.inf
    if num_classes <= 100:
        return float(np.sum(np.abs(per_class)))
    p = np.asarray(per_class)
    return float(np.abs(p[:, None] - p[None, :]).sum() / len(p))


def jacobian_pass(model: nn.Module, batch: Batch | None, spec: NetSpec) -> dict[str, float]:
    """jacov and epe_nas from one input-Jacobian pass (the gradient of the summed outputs)."""
    batch = _need(batch, "jacov/epe_nas")
    jac = _jacobians(model, batch)
    return {"jacov": _jacov(jac), "epe_nas": _epe_nas(jac, batch.y.numpy(), batch.num_classes)}


def naswot(model: nn.Module, batch: Batch | None, spec: NetSpec) -> float:
    import torch
    from torch import nn

    batch = _need(batch, "naswot")
    n = batch.x.shape[0]
    K = torch.zeros(n, n, dtype=torch.float64)

    def code(_m, inp):
        c = (inp[0].detach() > 0).reshape(n, -1).double()
        K.add_(c @ c.T + (1 - c) @ (1 - c).T)

    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.GELU, nn.SiLU, nn.ReLU6, nn.Hardswish))]
    hooks = [m.register_forward_pre_hook(code) for m in acts]
    try:
        model.train()
        with torch.no_grad():
            model(batch.x)
    finally:
        for h in hooks:
            h.remove()
    sign, logdet = np.linalg.slogdet(K.numpy())
    return float(logdet) if sign > 0 else -math.inf


def zen(model: nn.Module, batch: Batch | None, spec: NetSpec, seed: int = 0) -> float:
    import torch
    from torch import nn

    batch = _need(batch, "zen")
    g = torch.Generator().manual_seed(int(seed) + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()
    children = list(model.children())
    if len(children) < 2:
        raise NasError("zen needs a network with a head after its features")
    feats: list[torch.Tensor] = []
    hook = children[-1].register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].detach()))
    x = batch.x
    mixed = x + 0.01 * torch.randn(x.shape, generator=g)
    try:
        model.train()
        with torch.no_grad():
            model(x)
            model(mixed)
    finally:
        hook.remove()
    diff = (feats[0] - feats[1]).abs().reshape(x.shape[0], -1).sum(1).mean()
    value = float(torch.log(diff)) if float(diff) > 0 else -math.inf
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None:
            value += float(torch.log(torch.sqrt(m.running_var.mean())))
    return _finite(value)


def _params(model: nn.Module | None, batch: Batch | None, spec: NetSpec) -> float:
    from nas.hw_models.analytic import params

    return float(params(spec))


def _flops(model: nn.Module | None, batch: Batch | None, spec: NetSpec) -> float:
    from nas.hw_models.analytic import flops

    return float(flops(spec))


def _deepmad(model: nn.Module | None, batch: Batch | None, spec: NetSpec) -> float:
    from nas.predictors.score import SCORES

    return float(SCORES.get("deepmad")()(spec))


# -- registry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proxy:
    """One registered zero-cost proxy. ``fn(model, batch, spec) -> float`` (higher is better);
    ``needs_model``: it runs the built network; ``needs_data``: it reads the batch (inputs or labels);
    ``seeded``: ``fn`` also takes ``seed`` (for its own random draws); ``group``: ``fn`` returns a dict
    of several proxies computed from one pass (shared by the proxies named in it)."""

    name: str
    fn: Callable[..., float]
    needs_model: bool = True
    needs_data: bool = True
    seeded: bool = False
    group: bool = False
    description: str = ""


PROXIES: Registry[Proxy] = Registry("proxy")
"""Zero-cost proxies by name (``PROXIES.get(name)``; a typo is a one-line NasError listing the names)."""

for _p in (
    Proxy("synflow", synflow, needs_data=False, description="log Σ|θ·∂R/∂θ|, |θ|, all-ones input, float64"),
    Proxy("snip", gradient_pass, group=True, description="Σ|θ·∂L/∂θ| over conv/linear weights"),
    Proxy("grad_norm", gradient_pass, group=True, description="Σ‖∂L/∂W‖₂ over conv/linear layers"),
    Proxy("grasp", grasp, description="Σ −θ·Hg over conv/linear weights"),
    Proxy("fisher", gradient_pass, group=True,
          description="Σ ½·mean(Σ a·∂L/∂a)² over conv/linear output channels"),
    Proxy("jacov", jacobian_pass, group=True,
          description="−Σ log(λ+k)+1/(λ+k), λ eigenvalues of the input-Jacobian correlation"),
    Proxy("naswot", naswot, description="log-determinant of the ReLU/GELU code kernel"),
    Proxy("zen", zen, seeded=True, description="log E|f(x)−f(x+0.01ε)| before the head + Σ log √var(BN)"),
    Proxy("plain", gradient_pass, group=True, description="Σ θ·∂L/∂θ over conv/linear weights"),
    Proxy("l2_norm", l2_norm, needs_data=False, description="Σ‖W‖₂ over conv/linear layers at initialisation"),
    Proxy("epe_nas", jacobian_pass, group=True, description="Σ over classes of |Σ log|corr(input Jacobians)||"),
    Proxy("params", _params, needs_model=False, needs_data=False, description="analytic parameter count"),
    Proxy("flops", _flops, needs_model=False, needs_data=False, description="analytic MACs"),
    Proxy("deepmad", _deepmad, needs_model=False, needs_data=False, description="DeepMAD entropy score"),
):
    PROXIES.add(_p.name, _p)


def build(spec: NetSpec, seed: int) -> nn.Module:
    """The network of ``spec`` with its initial weights fixed by ``seed`` (the global rng is untouched)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return spec.build()


def compute(names: str | Iterable[str], spec: NetSpec, batch: Batch | None = None, seed: int = 0,
            model: nn.Module | None = None) -> dict[str, float]:
    """The proxies ``names`` of the network ``spec`` builds under ``seed``, on ``batch``.

    Each proxy gets its own copy of the same initial weights (proxies change weights). Data-dependent
    proxies need ``batch`` (see ``random_batch`` / ``data_batch``). Returns ``{name: value}``.
    """
    names = [names] if isinstance(names, str) else list(names)
    proxies = [PROXIES.get(n) for n in names]
    if batch is None and any(p.needs_data for p in proxies):
        batch = random_batch(spec.input, spec.output.channels, seed=seed)
    import torch

    out: dict[str, float] = {}
    shared: dict[Any, dict[str, float]] = {}
    template = None
    for p in proxies:
        if p.group and p.fn in shared:
            v = shared[p.fn][p.name]
        else:
            m = None
            if p.needs_model:
                if template is None:
                    template = model if model is not None else build(spec, seed)
                m = copy.deepcopy(template)
            with torch.random.fork_rng(devices=[]):
                v = p.fn(m, batch, spec, seed=seed) if p.seeded else p.fn(m, batch, spec)
            if p.group:
                shared[p.fn] = v
                v = v[p.name]
        out[p.name] = -math.inf if v != v else float(v)  # NaN → the worst value
    return out


def spearman_table(values: Mapping[str, Sequence[float]], target: Sequence[float]) -> dict[str, float]:
    """Spearman ρ of each proxy's values against ``target`` (non-finite values rank lowest)."""
    from scipy.stats import spearmanr

    out = {}
    for k, v in values.items():
        a = np.asarray(v, dtype=np.float64)
        a = np.where(np.isfinite(a), a, np.nanmin(np.where(np.isfinite(a), a, np.nan)) - 1.0)
        out[k] = float(spearmanr(a, target).statistic)
    return out
