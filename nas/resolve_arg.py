"""Turn what a user typed as ARCH (reference name, NB201 string, architecture JSON file) into a NetSpec."""

from __future__ import annotations

from pathlib import Path

from nas.errors import NasError
from nas.searchspace import Architecture, NetSpec, TensorType, get_space, load_architecture, parse_input
from nas.searchspace.reference import REFERENCES, reference_net


def resolve_arch_argument(
    text: str, space: str | None = None, input: str | None = None
) -> tuple[NetSpec, Architecture | None]:
    """The NetSpec for ARCH and, when it came from a space, the Architecture.

    ARCH is tried as: an existing JSON file (an architecture written by the project, or a NetSpec);
    a reference network name; an NB201 arch string ``|op~0|+|...|``.
    """
    inp: TensorType | None = parse_input(input) if input else None
    p = Path(text)
    if text.endswith(".json") or p.is_file():
        if not p.is_file():
            raise NasError(f"architecture file {text!r} does not exist")
        import json

        data = json.loads(p.read_text())
        if isinstance(data, dict) and "layers" in data and "input" in data:
            spec = NetSpec.from_json(data)
            return spec, None
        arch, cfg = load_architecture(p)
        if space and space != arch.space:
            raise NasError(f"{text!r} holds a {arch.space!r} architecture, not {space!r}")
        cfg_input = parse_input(cfg["input"]) if "input" in cfg else None
        sp = get_space(arch.space, input=inp or cfg_input, num_classes=cfg.get("num_classes"))
        return sp.resolve(arch), arch
    if text in REFERENCES:
        if space:
            raise NasError(f"{text!r} is a reference network; --space does not apply to it")
        return reference_net(text, inp), None
    if text.startswith("|"):
        sp = get_space(space or "nb201", input=inp)
        arch = sp.parse_string(text)
        return sp.resolve(arch), arch
    raise NasError(
        f"cannot read ARCH {text!r}; give a reference network ({', '.join(REFERENCES.names())}), "
        "an NB201 string such as '|nor_conv_3x3~0|+|...|', or an architecture JSON file"
    )
