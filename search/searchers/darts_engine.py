"""The bi-level loop of differentiable search: DARTS (1st/2nd order), GDAS and β-DARTS, optionally budget-aware.

Each step takes one architecture step on a valid batch, then one weight step on a train batch
(DARTS, Liu et al. 2019). ``darts``: softmax weights, first order or the finite-difference second
order. ``gdas`` (Dong & Yang 2019): one Gumbel-softmax path per position, hard in the forward pass,
soft in the backward, temperature decayed linearly from ``tau_max`` to ``tau_min``. ``beta-darts``
(Ye et al. 2022): DARTS plus the Beta-Decay term ``λ · mean_p logsumexp(α_p)`` whose gradient is the
softmax-normalised weights, ``λ`` rising linearly from 0 to ``beta_max`` over the epochs. With a cost
model, ``cost_weight · max(0, E[cost] / limit - 1)`` (the expected cost under the softmax
distributions, FBNet/ProxylessNAS style) joins the architecture loss. A checkpoint after every epoch
(weights, logits, both optimizers, schedule, rng) lets a killed search resume to the same result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.errors import NasError
from nas.training.checkpoint import load_checkpoint, save_checkpoint
from nas.training.datasets import DatasetSplits

METHODS = ("darts", "gdas", "beta-darts")
CHECKPOINT_KIND = "darts"


@dataclass(frozen=True)
class DartsConfig:
    """One differentiable search's settings; invalid values are one-line errors."""

    method: str = "darts"
    order: int = 1
    epochs: int = 10
    batch_size: int = 64
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    a_lr: float = 3e-3
    a_weight_decay: float = 1e-3
    grad_clip: float = 5.0
    beta_max: float = 2.0
    tau_max: float = 10.0
    tau_min: float = 0.1
    cost_weight: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise NasError(f"method {self.method!r} not allowed; allowed: {', '.join(METHODS)}")
        if self.order not in (1, 2):
            raise NasError(f"order={self.order!r} not allowed; allowed: 1, 2 (second order is DARTS only)")
        if self.order == 2 and self.method == "gdas":
            raise NasError("order=2 applies to darts and beta-darts, not gdas")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise NasError(f"{name}={v!r} not allowed; give an integer >= 1")
        for name in ("w_lr", "a_lr", "grad_clip", "tau_max", "tau_min"):
            if not getattr(self, name) > 0:
                raise NasError(f"{name}={getattr(self, name)!r} not allowed; give a number > 0")
        for name in ("w_lr_min", "w_weight_decay", "a_weight_decay", "beta_max", "cost_weight"):
            if not getattr(self, name) >= 0:
                raise NasError(f"{name}={getattr(self, name)!r} not allowed; give a number >= 0")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ExpectedCost = Callable[[Sequence[torch.Tensor]], torch.Tensor]
"""``cost(probs)``: the expected cost relative to the budget (1.0 = at the limit) under per-point
probability vectors; differentiable."""


@dataclass
class SearchOutcome:
    """What a differentiable search ends with: the chosen candidate per point, the final probabilities,
    per-epoch history, seconds spent searching (summed over resumed runs) and the peak tensor memory."""

    choices: list[int]
    probs: list[list[float]]
    history: list[dict[str, float]]
    search_seconds: float
    peak_memory_mb: float
    epochs: int
    resumed_from: int = 0
    notes: list[str] = field(default_factory=list)


class _SavedBytes:
    """Peak bytes of the tensors autograd saves for backward during one forward (activation memory)."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        self.current += t.numel() * t.element_size()
        self.peak = max(self.peak, self.current)
        return t

    def reset(self) -> None:
        self.current = 0


def state_bytes(module: nn.Module, *optimizers: torch.optim.Optimizer) -> int:
    """Bytes of parameters, buffers, their gradients and the optimizers' state."""
    n = sum(p.numel() * p.element_size() * 2 for p in module.parameters())
    n += sum(b.numel() * b.element_size() for b in module.buffers())
    for opt in optimizers:
        for st in opt.state.values():
            n += sum(v.numel() * v.element_size() for v in st.values() if isinstance(v, torch.Tensor))
    return n


def measured_forward(fn: Callable[[], torch.Tensor], meter: _SavedBytes) -> torch.Tensor:
    meter.reset()
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
        return fn()


class DifferentiableSearch:
    """Runs one differentiable search of ``net`` (``net(x, weights, index=None)``) over ``points``
    (sizes of the candidate lists) on ``data`` (weights on ``train``, architecture on ``valid``).

    Contract: the same config, data and initial weights give the same outcome; with ``checkpoint``
    a killed run resumed with ``resume=True`` ends with the same outcome as an uninterrupted one.
    """

    def __init__(self, net: nn.Module, sizes: Sequence[int], data: DatasetSplits, config: DartsConfig, *,
                 cost: ExpectedCost | None = None, checkpoint: str | Path | None = None,
                 meta: dict[str, Any] | None = None, device: str = "cpu") -> None:
        self.net, self.sizes, self.data, self.config = net, list(sizes), data, config
        self.cost = cost
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.meta = json.loads(json.dumps(meta or {}))
        self.device = torch.device(device)
        if len(data.train) == 0 or len(data.valid) == 0:
            raise NasError("differentiable search needs non-empty train and valid splits")

    # -- weights of the candidates ------------------------------------------------------------------
    def _soft(self, alphas: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [torch.softmax(a, -1) for a in alphas]

    def _gumbel(self, alphas: Sequence[torch.Tensor], tau: float,
                gen: torch.Generator) -> tuple[list[torch.Tensor], list[int]]:
        weights, index = [], []
        for a in alphas:
            u = torch.rand(a.shape, generator=gen).clamp_(1e-10, 1.0 - 1e-10).to(a.device)
            soft = torch.softmax((a - torch.log(-torch.log(u))) / tau, -1)
            k = int(soft.argmax())
            hard = torch.zeros_like(soft)
            hard[k] = 1.0
            weights.append(hard - soft.detach() + soft)
            index.append(k)
        return weights, index

    def _arch_reg(self, alphas: Sequence[torch.Tensor], epoch: int) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        zero = alphas[0].new_zeros(())
        reg, info = zero, {}
        if c.method == "beta-darts":
            lam = c.beta_max * epoch / max(1, c.epochs - 1)
            beta = torch.stack([torch.logsumexp(a, -1) for a in alphas]).mean()
            reg = reg + lam * beta
            info["beta_weight"] = lam
        if self.cost is not None:
            rel = self.cost(self._soft(alphas))
            reg = reg + c.cost_weight * torch.relu(rel - 1.0)
            info["expected_cost_rel"] = float(rel.detach())
        return reg, info

    # -- the loop -------------------------------------------------------------------------------------
    def run(self, resume: bool = False, progress: Callable[[dict[str, float]], None] | None = None,
            stop_after: int | None = None) -> SearchOutcome:
        """Search from scratch (or from the checkpoint with ``resume``). ``stop_after=n`` returns after
        epoch ``n`` as if the process were killed there (the checkpoint holds epoch ``n``)."""
        c = self.config
        net = self.net.to(self.device)
        alphas = [torch.nn.Parameter(1e-3 * torch.randn(k, generator=torch.Generator().manual_seed(c.seed + i)))
                  for i, k in enumerate(self.sizes)]
        for a in alphas:
            a.data = a.data.to(self.device)
        w_params = [p for p in net.parameters() if p.requires_grad]
        w_opt = torch.optim.SGD(w_params, lr=c.w_lr, momentum=c.w_momentum, weight_decay=c.w_weight_decay)
        a_opt = torch.optim.Adam(alphas, lr=c.a_lr, betas=(0.5, 0.999), weight_decay=c.a_weight_decay)
        n_train = len(self.data.train)
        steps = max(1, n_train // c.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, c.epochs * steps, eta_min=c.w_lr_min)
        gen = torch.Generator().manual_seed(c.seed)
        start, history, elapsed, peak = 0, [], 0.0, 0
        if resume:
            if self.checkpoint is None or not self.checkpoint.is_file():
                raise NasError(f"nothing to resume: no differentiable-search checkpoint at {str(self.checkpoint)!r}")
            ck = load_checkpoint(self.checkpoint, kind=CHECKPOINT_KIND)
            if ck.get("config") != c.to_json() or ck.get("meta") != self.meta:
                raise NasError(f"checkpoint {str(self.checkpoint)!r} holds another search (other settings, space "
                               "or data); resume with the same ones")
            net.load_state_dict(ck["net"])
            for a, v in zip(alphas, ck["alphas"], strict=True):
                a.data.copy_(v)
            w_opt.load_state_dict(ck["w_opt"])
            a_opt.load_state_dict(ck["a_opt"])
            sched.load_state_dict(ck["sched"])
            gen.set_state(ck["generator"])
            start, history = int(ck["epoch"]), [dict(h) for h in ck["history"]]
            elapsed, peak = float(ck["seconds"]), int(ck["peak_bytes"])
        meter = _SavedBytes()
        loss_fn = nn.CrossEntropyLoss()
        tr, va = self.data.train, self.data.valid
        for epoch in range(start, c.epochs):
            t0 = time.perf_counter()
            net.train()
            tau = c.tau_max - (c.tau_max - c.tau_min) * epoch / max(1, c.epochs - 1)
            order = torch.randperm(n_train, generator=gen)
            v_order = torch.randint(0, len(va), (steps * c.batch_size,), generator=gen)
            sums = {"train_loss": 0.0, "valid_loss": 0.0, "train_acc": 0.0}
            info: dict[str, float] = {}
            for s in range(steps):
                idx = order[s * c.batch_size:(s + 1) * c.batch_size]
                vidx = v_order[s * c.batch_size:(s + 1) * c.batch_size]
                x, y = tr.x[idx].to(self.device), tr.y[idx].to(self.device)
                xv, yv = va.x[vidx].to(self.device), va.y[vidx].to(self.device)
                # architecture step on the valid batch
                if c.method == "gdas":
                    wts, index = self._gumbel(alphas, tau, gen)
                else:
                    wts, index = self._soft(alphas), None
                a_opt.zero_grad(set_to_none=True)
                if c.order == 2:
                    v_loss, info = self._second_order(net, alphas, w_params, w_opt, x, y, xv, yv, epoch, loss_fn)
                else:
                    out = measured_forward(lambda: net(xv, wts, index), meter)
                    v_loss = loss_fn(out, yv)
                    reg, info = self._arch_reg(alphas, epoch)
                    (v_loss + reg).backward()
                a_opt.step()
                peak = max(peak, meter.peak)
                # weight step on the train batch
                if c.method == "gdas":
                    wts, index = self._gumbel([a.detach() for a in alphas], tau, gen)
                else:
                    wts, index = [w.detach() for w in self._soft(alphas)], None
                w_opt.zero_grad(set_to_none=True)
                out = measured_forward(lambda: net(x, wts, index), meter)
                loss = loss_fn(out, y)
                loss.backward()
                nn.utils.clip_grad_norm_(w_params, c.grad_clip)
                w_opt.step()
                sched.step()
                peak = max(peak, meter.peak)
                sums["train_loss"] += float(loss.detach()) / steps
                sums["valid_loss"] += float(v_loss.detach()) / steps
                sums["train_acc"] += float((out.argmax(1) == y).float().mean()) / steps
            seconds = time.perf_counter() - t0
            elapsed += seconds
            probs = [torch.softmax(a.detach(), -1) for a in alphas]
            row = {"epoch": epoch + 1, **sums, "seconds": seconds, "tau": tau if c.method == "gdas" else 0.0,
                   **info, "max_prob": float(min(p.max() for p in probs))}
            history.append(row)
            if progress is not None:
                progress(row)
            if self.checkpoint is not None:
                save_checkpoint(self.checkpoint, {
                    "net": net.state_dict(), "alphas": [a.detach().cpu() for a in alphas],
                    "w_opt": w_opt.state_dict(), "a_opt": a_opt.state_dict(), "sched": sched.state_dict(),
                    "generator": gen.get_state(), "epoch": epoch + 1, "history": history,
                    "config": c.to_json(), "meta": self.meta, "seconds": elapsed, "peak_bytes": peak},
                    kind=CHECKPOINT_KIND)
            if stop_after is not None and epoch + 1 >= stop_after:
                break
        probs = [torch.softmax(a.detach().cpu(), -1) for a in alphas]
        total_peak = peak + state_bytes(net, w_opt, a_opt)
        if self.device.type == "cuda":
            total_peak = torch.cuda.max_memory_allocated(self.device)
        return SearchOutcome(choices=[int(p.argmax()) for p in probs], probs=[p.tolist() for p in probs],
                             history=history, search_seconds=elapsed, peak_memory_mb=total_peak / 2**20,
                             epochs=c.epochs, resumed_from=start if resume else 0)

    def _second_order(self, net, alphas, w_params, w_opt, x, y, xv, yv, epoch, loss_fn):
        """DARTS's second-order architecture gradient (finite differences around the unrolled weights)."""
        c = self.config
        xi = w_opt.param_groups[0]["lr"]
        soft = self._soft(alphas)
        backup = [p.detach().clone() for p in w_params]
        # unrolled step w' = w - ξ (∇w L_train + wd·w)
        g = torch.autograd.grad(loss_fn(net(x, [w.detach() for w in soft]), y), w_params, allow_unused=True)
        with torch.no_grad():
            for p, gi in zip(w_params, g):
                if gi is not None:
                    p.sub_(xi * (gi + c.w_weight_decay * p))
        soft = self._soft(alphas)
        v_loss = loss_fn(net(xv, soft), yv)
        reg, info = self._arch_reg(alphas, epoch)
        grads = torch.autograd.grad(v_loss + reg, list(alphas) + w_params, allow_unused=True)
        d_alpha, d_w = grads[:len(alphas)], grads[len(alphas):]
        norm = torch.sqrt(sum((d * d).sum() for d in d_w if d is not None))
        eps = 0.01 / max(float(norm), 1e-12)
        hess = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                for p, b, d in zip(w_params, backup, d_w):
                    if sign == 1.0:
                        p.copy_(b)
                    if d is not None:
                        p.add_(sign * eps * d)
            hess.append(torch.autograd.grad(loss_fn(net(x, self._soft(alphas)), y), alphas))
        with torch.no_grad():
            for p, b in zip(w_params, backup):
                p.copy_(b)
        for a, da, hp, hm in zip(alphas, d_alpha, hess[0], hess[1]):
            a.grad = da - xi * (hp - hm) / (2 * eps)
        return v_loss, info


def derived_summary(outcome: SearchOutcome, points) -> list[dict[str, Any]]:
    """Per point: gene, chosen candidate and the probabilities (rounded) — what the run folder shows."""
    return [{"gene": p.gene, "choice": p.candidates[k],
             "probs": {c: round(v, 4) for c, v in zip(p.candidates, pr)}}
            for p, k, pr in zip(points, outcome.choices, outcome.probs)]

