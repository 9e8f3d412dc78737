"""Subprocess entry for supernet tests: ``cli ARGS...`` runs ``nas`` with the tiny space registered;
``train OUT`` trains 10 steps (under torchrun: data-parallel) and writes the weights to OUT."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _supernet_tiny  # noqa: E402

_supernet_tiny.register()

if __name__ == "__main__":
    if sys.argv[1] == "cli":
        from nas.cli.main import main

        sys.exit(main(sys.argv[2:]))
    import torch

    from nas.cli.cmd_supernet import _init_distributed
    from nas.supernet.network import build_supernet
    from nas.supernet.train import SupernetTrainConfig, train_supernet
    from nas.training.datasets import load_dataset

    dist = _init_distributed()
    data = load_dataset("digits")
    net = build_supernet("tiny_test", data.input_type, data.num_classes, seed=0)
    cfg = SupernetTrainConfig(epochs=1, batch_size=32, max_steps=10, bn_images=64, bn_batch=32)
    train_supernet(net, data, cfg)
    if dist is None or dist.get_rank() == 0:
        torch.save(net.state_dict(), sys.argv[2])
    if dist is not None:
        dist.destroy_process_group()
