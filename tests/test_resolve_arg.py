"""ARCH at an input too small for its downsampling: one line naming the input and the smallest that fits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.cli.main import main
from nas.errors import NasError, SizeCollapseError
from nas.resolve_arg import fitted, smallest_input
from nas.searchspace import NetSpec, TensorType, get_space
from nas.searchspace.architecture import save_architecture


def _strided(halvings: int, even_at: int | None = None):
    """A stand-in network: ``halvings`` floor halvings of H and W; optionally refusing an odd grid after
    ``even_at`` halvings (as a downsample that needs even sides does)."""

    def build(inp: TensorType) -> NetSpec:
        h, w = inp.height, inp.width
        for k in range(halvings + 1):
            if even_at == k and (h % 2 or w % 2):
                raise NasError(f"odd grid {h}x{w}")
            if k < halvings:
                h, w = h // 2, w // 2
                TensorType.map(inp.channels, h, w)  # a side of 0 raises SizeCollapseError, as a real layer does
        return NetSpec(input=inp, layers=())

    return build


def test_smallest_input_is_the_first_size_that_builds() -> None:
    assert smallest_input(_strided(5), TensorType.map(1, 8, 8)) == TensorType.map(1, 32, 32)
    assert smallest_input(_strided(3), TensorType.map(3, 5, 5)) == TensorType.map(3, 8, 8)
    # an even final grid wanted: 4-7 no longer collapse but end on a 1x1 grid, refused; 8 ends on 2x2
    assert smallest_input(_strided(2, even_at=2), TensorType.map(1, 3, 3)) == TensorType.map(1, 8, 8)
    # proportions kept: the longer side grows 6 → 11, the shorter with it, rounded (2 × 11 / 6 → 4)
    assert smallest_input(_strided(2), TensorType.map(1, 2, 6)) == TensorType.map(1, 4, 11)
    assert smallest_input(_strided(40), TensorType.map(1, 8, 8)) is None  # 2**40 is past the largest side tried


def test_fitted_names_the_input_and_the_fix_and_keeps_other_errors() -> None:
    with pytest.raises(NasError, match=r"ARCH 'net' does not fit input 1x8x8: .* it fits is 1x32x32$") as e:
        fitted(_strided(5), TensorType.map(1, 8, 8), "net")
    assert not isinstance(e.value, SizeCollapseError) and "\n" not in str(e.value)
    assert fitted(_strided(5), TensorType.map(1, 32, 32), "net").input == TensorType.map(1, 32, 32)
    with pytest.raises(NasError, match="odd grid 9x9"):  # not a size collapse: left as it was
        fitted(_strided(5, even_at=0), TensorType.map(1, 9, 9), "net")


def test_cost_and_train_say_which_input_a_searched_network_needs(tmp_path, capsys) -> None:
    path = save_architecture(tmp_path / "a.json", get_space("hybrid").sample(np.random.default_rng(0)))
    assert main(["cost", str(path), "--input", "3x8x8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("the smallest input of these proportions it fits is 3x32x32") and "\n" not in err
    assert main(["cost", str(path), "--input", "3x32x32", "--format", "json"]) == 0  # the suggestion holds
    assert json.loads(capsys.readouterr().out)["input"] == "map[3x32x32]"
    out = tmp_path / "run"
    assert main(["train", str(path), "--data", "digits", "--out", str(out)]) == 2  # digits are 1x8x8
    err = capsys.readouterr().err.strip()
    assert "does not fit input 1x8x8" in err and err.endswith("it fits is 1x32x32") and not out.exists()
