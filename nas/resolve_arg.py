"""Turn what a user typed as ARCH (reference name, NB201 string, architecture JSON file) into a NetSpec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from nas.errors import NasError, SizeCollapseError
from nas.io import read_json
from nas.searchspace import Architecture, NetSpec, TensorType, get_space, load_architecture, parse_input
from nas.searchspace.reference import REFERENCES, reference_net
from nas.searchspace.space import own_settings


def resolve_arch_argument(
    text: str, space: str | None = None, input: str | TensorType | None = None, num_classes: int | None = None
) -> tuple[NetSpec, Architecture | None]:
    """The NetSpec for ARCH and, when it came from a space, the Architecture.

    ARCH is tried as: an existing JSON file (an architecture written by the project, or a NetSpec);
    a reference network name; an NB201 arch string ``|op~0|+|...|``. ``input`` and ``num_classes``, when
    given (a dataset's), override those stored with an architecture; a NetSpec file is taken as it is.
    """
    inp: TensorType | None = parse_input(input) if isinstance(input, str) else input
    if text.endswith(".json") or _is_file(text):
        if not _is_file(text):
            raise NasError(f"architecture file {text!r} does not exist")
        p = Path(text)
        data = read_json(p, "architecture")
        if isinstance(data, dict) and "layers" in data and "input" in data:
            return _netspec(data, text), None
        if not isinstance(data, dict):
            raise NasError(f"architecture file {text!r} holds a JSON {type(data).__name__}, not an object "
                           "with 'space' and 'genes' (an architecture) or 'input' and 'layers' (a NetSpec)")
        arch, cfg = load_architecture(p)
        if space and space != arch.space:
            raise NasError(f"{text!r} holds a {arch.space!r} architecture, not {space!r}")
        cfg_input = parse_input(cfg["input"]) if isinstance(cfg.get("input"), str) else None
        classes = num_classes if num_classes is not None else cfg.get("num_classes")
        if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
            raise NasError(f"architecture file {text!r}: space_config num_classes {classes!r} is not a "
                           "positive integer")
        settings = own_settings(cfg)
        return fitted(lambda i: get_space(arch.space, input=i, num_classes=classes, **settings).resolve(arch),
                      inp or cfg_input, text), arch
    if text in REFERENCES:
        if space:
            raise NasError(f"{text!r} is a reference network; --space does not apply to it")
        return fitted(lambda i: reference_net(text, i, num_classes), inp, text), None
    if text.startswith("|"):
        sp = get_space(space or "nb201", input=inp, num_classes=num_classes)
        arch = sp.parse_string(text)
        return fitted(lambda i: get_space(space or "nb201", input=i, num_classes=num_classes).resolve(arch),
                      inp, text), arch
    raise NasError(
        f"cannot read ARCH {text!r}; give a reference network ({', '.join(REFERENCES.names())}), "
        "an NB201 string such as '|nor_conv_3x3~0|+|...|', or an architecture JSON file"
    )


def fitted(build: Callable[[TensorType | None], NetSpec], inp: TensorType | None, text: str) -> NetSpec:
    """``build(inp)``; where ``inp`` is too small for the network's downsampling, a one-line NasError that
    names it and the smallest input of the same proportions the network fits (``smallest_input``)."""
    try:
        return build(inp)
    except SizeCollapseError as e:
        if inp is None:
            raise
        fit = smallest_input(build, inp)
        hint = (f"; the smallest input of these proportions it fits is {fit.channels}x{fit.height}x{fit.width}"
                if fit is not None else "")
        raise NasError(f"ARCH {text!r} does not fit input {inp.channels}x{inp.height}x{inp.width}: its "
                       f"downsampling leaves no pixels ({e}){hint}") from None


def smallest_input(build: Callable[[TensorType], NetSpec], inp: TensorType, largest: int = 4096) -> TensorType | None:
    """The smallest input with ``inp``'s channels and proportions (its longer side up to ``largest``) that
    ``build`` accepts, or None. Doubles the longer side until it fits, then bisects down to where sizes stop
    collapsing (they collapse monotonically with the input), then steps up to the first that builds."""
    side = max(inp.height, inp.width)

    def at(n: int) -> TensorType:
        return replace(inp, height=max(1, round(inp.height * n / side)), width=max(1, round(inp.width * n / side)))

    def collapses(n: int) -> bool | None:  # True: too small; False: builds; None: big enough, refused otherwise
        try:
            build(at(n))
            return False
        except SizeCollapseError:
            return True
        except NasError:
            return None

    hi = side
    while hi < largest:
        hi = min(largest, hi * 2)
        if collapses(hi) is not True:
            break
    else:
        return None
    lo = side  # collapses at lo, not at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if collapses(mid) is True else (lo, mid)
    for n in range(hi, min(largest, 4 * hi, hi + 512) + 1):  # past sizes some op refuses (odd sides)
        if collapses(n) is False:
            return at(n)
    return None


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def _netspec(data: dict, text: str) -> NetSpec:
    """A NetSpec from its JSON; any malformed part is a one-line NasError naming the file."""
    try:
        return NetSpec.from_json(data)
    except NasError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NasError(f"NetSpec file {text!r} is malformed ({what}); expected 'input' as "
                       "{'layout', 'channels', 'height', 'width'} and 'layers' as [{'name', 'op', 'hp'}, ...]") from None
