"""Everything that fits weights: bundled datasets (never downloaded), the trainer, checkpoints.

Layer: above searchspace and hw_models; knows no searcher and no supernet.
"""

from nas.training.checkpoint import load_checkpoint, save_checkpoint
from nas.training.datasets import DATASETS, DatasetSplits, Split, load_dataset
from nas.training.trainer import TrainConfig, TrainResult, evaluate, train

__all__ = ["DATASETS", "DatasetSplits", "Split", "load_dataset", "load_checkpoint", "save_checkpoint",
           "TrainConfig", "TrainResult", "evaluate", "train"]
