"""Typed operations, search spaces, architectures and resolved networks (``nas.searchspace``)."""

from nas.searchspace.architecture import Architecture, load_architecture, save_architecture
from nas.searchspace.hparams import HParams
from nas.searchspace.netspec import Layer, NetSpec, resolve_layers
from nas.searchspace.op_spec import FAMILIES, OPS, OpSpec, register_op
from nas.searchspace.registry import Registry
from nas.searchspace.space import SPACES, Dimension, SearchSpace, get_space, register_space
from nas.searchspace.tensor_type import Layout, TensorType, parse_input

__all__ = [
    "Architecture", "Dimension", "FAMILIES", "HParams", "Layer", "Layout", "NetSpec", "OPS", "OpSpec",
    "Registry", "SPACES", "SearchSpace", "TensorType", "get_space", "load_architecture", "parse_input",
    "register_op", "register_space", "resolve_layers", "save_architecture",
]
