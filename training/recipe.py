"""The training recipe's parts: parameter groups, optimizer, warm-up + cosine schedule, zero-init, augmentation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar

import torch
from torch import nn

from nas.errors import NasError


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weights only: norms' scales, biases and other 1-D parameters get none."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def is_int(v: Any) -> bool:
    """An integer, not a bool (``True`` is an int to Python, not to a user)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite int or float, not a bool and not a string (an option such as ``lr=x`` arrives as text)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def bad_setting(cfg: Any, name: str, allowed: str) -> NasError:
    """The one-line error for a config field: its value and what is allowed."""
    return NasError(f"{name}={getattr(cfg, name)!r} not allowed; {allowed}")


def check_recipe_fields(cfg: Any) -> None:
    """The checks of the recipe's fields that the trainer's and the supernet's configs share (``lr``,
    ``weight_decay``, ``momentum``, ``warmup_epochs``, ``label_smoothing``, ``grad_clip``, ``seed``):
    a one-line NasError for a value of the wrong type or out of range, never a TypeError."""
    def within(name: str, ok, allowed: str, optional: bool = False) -> None:
        v = getattr(cfg, name)
        if not ((optional and v is None) or (is_number(v) and ok(v))):
            raise bad_setting(cfg, name, allowed)

    within("lr", lambda v: 0 < v <= 10, "give a number in (0, 10]", optional=True)
    within("weight_decay", lambda v: 0 <= v <= 1, "give a number in [0, 1]", optional=True)
    within("momentum", lambda v: 0 <= v < 1, "give a number in [0, 1)")
    within("warmup_epochs", lambda v: 0 <= v <= cfg.epochs, f"give a number in [0, epochs={cfg.epochs}]",
           optional=True)
    within("label_smoothing", lambda v: 0 <= v < 1, "give a number in [0, 1)")
    within("grad_clip", lambda v: v > 0, "give a number > 0")
    if not is_int(cfg.seed) or cfg.seed < 0:
        raise bad_setting(cfg, "seed", "give an integer >= 0")


def default_lr(optimizer: str, batch_size: int) -> float:
    """The recipe's learning rate: SGD 0.05 at batch 128, scaled linearly with the batch; AdamW 2e-3."""
    return 0.05 * batch_size / 128 if optimizer == "sgd" else 2e-3


def config_from_json(cls: type, d: Mapping[str, Any], what: str) -> Any:
    """``cls(**d)`` for a frozen config dataclass; an unknown key is a one-line error naming ``what``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise NasError(f"unknown {what} setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    return cls(**dict(d))


class RecipeConfig:
    """What a frozen config dataclass with ``optimizer``, ``batch_size``, ``lr`` and ``weight_decay``
    fields resolves the same way: a None ``lr`` is ``default_lr``; a None ``weight_decay`` is
    ``SGD_WEIGHT_DECAY`` for SGD and 0.05 for AdamW. ``from_json`` refuses an unknown key, naming ``WHAT``."""

    SGD_WEIGHT_DECAY: ClassVar[float] = 5e-4
    WHAT: ClassVar[str] = "training"

    @property
    def resolved_lr(self) -> float:
        lr = self.lr  # type: ignore[attr-defined]
        return lr if lr is not None else default_lr(self.optimizer, self.batch_size)  # type: ignore[attr-defined]

    @property
    def resolved_weight_decay(self) -> float:
        wd = self.weight_decay  # type: ignore[attr-defined]
        if wd is not None:
            return wd
        return self.SGD_WEIGHT_DECAY if self.optimizer == "sgd" else 0.05  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Any:
        return config_from_json(cls, d, cls.WHAT)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float,
                   momentum: float) -> torch.optim.Optimizer:
    groups = param_groups(model, weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
    return torch.optim.AdamW(groups, lr=lr)


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int,
                  warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from lr/warmup_steps to lr, then cosine decay to 0 at ``total_steps`` (stepped per batch)."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def zero_init_residual_norms(model: nn.Module) -> int:
    """Zero the last norm's scale of every residual branch (blocks declare it with ``last_branch_norm()``),
    so each residual block starts as the identity (Goyal et al. 2017). Returns how many were zeroed."""
    n = 0
    for m in model.modules():
        get = getattr(m, "last_branch_norm", None)
        norm = get() if callable(get) else None
        if norm is not None and getattr(norm, "weight", None) is not None:
            nn.init.zeros_(norm.weight)
            n += 1
    return n


def shift_pad(size: int) -> int:
    """Largest translation for random-shift augmentation along a side of ``size`` pixels (none for 1)."""
    return 0 if size <= 1 else (1 if size < 16 else 2)


def random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Translate every image of a B×C×H×W batch by its own random offset of up to ``shift_pad`` pixels
    per side, filling with the edge value (the normalised background)."""
    b, _, h, w = x.shape
    ph, pw = shift_pad(h), shift_pad(w)
    if ph == pw == 0:
        return x
    xp = nn.functional.pad(x, (pw, pw, ph, ph), mode="replicate")
    dy = torch.randint(0, 2 * ph + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pw + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(x.device)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 10.0, scale: float = 0.1,
                  shear: float = 0.1) -> torch.Tensor:
    """Random-shift augmentation, then per image a small random affine map about the centre: rotation up
    to ``degrees``, scale in [1 - scale, 1 + scale], shear up to ``shear`` (the augmentation practitioners
    use on digits). Bilinear resampling, filling with the edge value; deterministic for the generator's state.
    A 1-pixel side (sequence data) gets the shift only."""
    x = random_shift(x, generator)
    b, _, h, w = x.shape
    if h <= 1 or w <= 1:
        return x
    u = torch.rand(b, 3, generator=generator) * 2 - 1
    angle = u[:, 0] * degrees * math.pi / 180
    s = 1 + u[:, 1] * scale
    sh = u[:, 2] * shear
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin + sh * cos
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos + sh * sin
    grid = nn.functional.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
