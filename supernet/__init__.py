"""Weight-sharing supernets: ``forward(x, arch)`` over a space's subnets, ``extract(arch)`` as a plain module,
training with the sandwich rule, BatchNorm recalibration, export, and the supernet as a search evaluator.

Layer: above searchspace, hw_models and training; below search and the CLI.
"""

from nas.supernet.elastic import ELASTIC, ElasticPosition, SlicedPosition
from nas.supernet.network import Supernet, build_supernet, covering_archs, extreme_arch, space_from_config

__all__ = ["ELASTIC", "ElasticPosition", "SlicedPosition", "Supernet", "build_supernet", "covering_archs",
           "extreme_arch", "space_from_config"]
