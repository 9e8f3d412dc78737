"""BatchNorm over the global batch of a data-parallel run (gloo or NCCL), for the supernet's skeletons.

torch's ``SyncBatchNorm`` runs on GPUs only; this one all-reduces the per-channel sum and count, then
the sum of squared deviations, with ``torch.distributed.nn.functional.all_reduce`` (differentiable), so N processes with
the batch split normalise exactly as one process with the whole batch.
"""

from __future__ import annotations

import torch
from torch import nn


def distributed_world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training-mode statistics are those of the global batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or distributed_world() == 1:
            return super().forward(x)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = torch.full((1,), float(x.numel() // c), dtype=x.dtype, device=x.device)
        # two passes (mean, then squared deviations), as torch's own kernel: E[x²] − E[x]² cancels badly
        stats = all_reduce(torch.cat([x.sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = all_reduce(((x - mean[None, :, None, None]) ** 2).sum((0, 2, 3))) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def globalise_batchnorm(module: nn.Module) -> nn.Module:
    """Switch every plain ``nn.BatchNorm2d`` of ``module`` to ``GlobalBatchNorm2d`` (same state)."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d
    return module
