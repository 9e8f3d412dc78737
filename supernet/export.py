"""Extracted subnets as files: weights + architecture JSON (``load_model`` rebuilds them), TorchScript, ONNX.

A model file is a checkpoint (``kind="model"``, read with ``weights_only=True``) holding the
architecture JSON, the space settings it was resolved with, and the plain module's ``state_dict``.
``load_model`` re-resolves the architecture and builds ``NetSpec.build()``, so the analytic costs of
the NetSpec describe exactly the module it returns.

Export: TorchScript by tracing (every built-in op traces; data-dependent control flow does not occur).
ONNX through ``torch.onnx.export`` (needs the ``onnx`` package, extra ``nas[export]``); a network whose
op the exporter cannot express fails with a one-line error naming the first such layer and op.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.errors import NasError
from nas.searchspace.architecture import Architecture
from nas.searchspace.netspec import NetSpec
from nas.training.checkpoint import load_checkpoint, save_checkpoint

MODEL_KIND = "model"


def model_payload(arch: Architecture, space_config: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    return {"arch": arch.to_json(), "space": dict(space_config),
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """The plain module stored by ``nas extract`` (or ``save_model``), rebuilt from its architecture JSON
    and loaded with its weights, in eval mode. One-line NasError for a missing, corrupt or foreign file."""
    module, _ = load_model_and_spec(path)
    return module


def load_model_and_spec(path: str | os.PathLike[str]) -> tuple[nn.Module, NetSpec]:
    from nas.supernet.network import space_from_config

    ckpt = load_checkpoint(path, kind=MODEL_KIND)
    try:
        arch = Architecture.from_json(ckpt["arch"])
        space = space_from_config(ckpt["space"])
        spec = space.resolve(arch)
        with torch.random.fork_rng(devices=[]):
            module = spec.build()
        module.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NasError(f"model file {str(path)!r} does not match its architecture ({first[:160]})") from None
    return module.eval(), spec


def _tmp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def torchscript_to(model: nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Trace ``model`` on ``example`` into a temporary file beside ``path`` (renamed by the caller)."""
    tmp = _tmp_beside(path)
    try:
        with torch.no_grad():
            traced = torch.jit.trace(model.eval(), example, check_trace=False)
        traced.save(str(tmp))
    except Exception as e:
        tmp.unlink(missing_ok=True)
        raise NasError(f"--torchscript: tracing failed ({_first(e)})") from None
    return tmp


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def _onnx_once(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"])


def onnx_to(model: nn.Module, spec: NetSpec, example: torch.Tensor, path: Path) -> Path:
    """Export to ONNX into a temporary file beside ``path``; on failure, find the first layer whose op
    cannot export and raise a one-line NasError naming it (nothing is left on disk)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise NasError("--onnx needs the 'onnx' package; install it with `pip install 'nas[export]'`") from None
    tmp = _tmp_beside(path)
    try:
        _onnx_once(model, example, tmp)
        return tmp
    except Exception as whole:
        tmp.unlink(missing_ok=True)
        x = example
        for layer, child in zip(spec.layers, model.children()):
            probe = _tmp_beside(path)
            try:
                _onnx_once(child, x, probe)
            except Exception as e:
                raise NasError(f"--onnx: layer {layer.name!r} (op {layer.op!r}) cannot export to ONNX: "
                               f"{_first(e)}") from None
            finally:
                probe.unlink(missing_ok=True)
            with torch.no_grad():
                x = child(x)
        raise NasError(f"--onnx: export failed ({_first(whole)})") from None


def write_model(path: Path, payload: dict[str, Any]) -> Path:
    return save_checkpoint(path, payload, kind=MODEL_KIND)
