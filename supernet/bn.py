"""BatchNorm recalibration of a subnet: exact averages of batch statistics, not a running EMA."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nas.training.datasets import Split
from nas.training.trainer import is_image_batch


def calibration_images(split: Split, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` training images (all when fewer), chosen by a fixed seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(split))[:n]
    return split.x[torch.from_numpy(np.sort(order))]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, images: torch.Tensor, batch_size: int = 200) -> int:
    """Reset every BatchNorm's running statistics of ``model`` (a plain module, e.g. an extracted subnet)
    and set them to the plain average, over the batches of ``images``, of each batch's mean and
    (unbiased) variance (torch's ``momentum=None`` cumulative average); with equal batches the mean is
    exactly the mean over the images. Returns the number of norms recalibrated; the model ends in eval
    mode with its momenta restored."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        model(x.contiguous(memory_format=torch.channels_last) if is_image_batch(x) else x)
    for m, mom in zip(norms, momenta):
        m.momentum = mom
    model.eval()
    return len(norms)
