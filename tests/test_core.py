"""Core value types: HParams, Architecture, TensorType, Budget, Registry, type errors at resolve."""

from __future__ import annotations

import pytest

from nas.errors import NasError, TypeMismatchError
from nas.hw_models.budget import Budget
from nas.searchspace import Architecture, HParams, Registry, TensorType, parse_input, resolve_layers


def test_hparams_equal_regardless_of_order_and_hashable() -> None:
    a = HParams({"b": [1, 2], "a": {"x": 1}})
    b = HParams(a=HParams(x=1), b=(1, 2))
    assert a == b and hash(a) == hash(b)
    assert a.to_json() == {"a": {"x": 1}, "b": [1, 2]}
    assert a.replace(b=3)["b"] == 3 and a["b"] == (1, 2)


def test_architecture_digest_is_stable() -> None:
    a = Architecture("toy", {"depth": 2, "mixer": "mhsa", "widths": [32, 64]})
    assert a.canonical_json() == '{"genes":{"depth":2,"mixer":"mhsa","widths":[32,64]},"space":"toy"}'
    assert a.digest() == "71615c562229ef11"
    assert Architecture.from_json(a.to_json()) == a
    with pytest.raises(NasError, match="expected keys 'space' and 'genes'"):
        Architecture.from_json({"genes": {}})


@pytest.mark.parametrize(
    "text,metric,limit",
    [("600M-flops", "flops", 600e6), ("4.1G-macs", "flops", 4.1e9), ("25M-params", "params", 25e6),
     ("5ms-latency", "latency_ms", 5.0), ("1.5e3K-flops", "flops", 1.5e6)],
)
def test_budget_parse(text: str, metric: str, limit: float) -> None:
    b = Budget.parse(text)
    assert (b.metric, b.limit) == (metric, pytest.approx(limit))


@pytest.mark.parametrize("text", ["600", "600M-watts", "5-latency", "5ms-flops", "-3M-params", "0M-flops"])
def test_bad_budget_is_one_line_listing_forms(text: str) -> None:
    with pytest.raises(NasError) as e:
        Budget.parse(text)
    msg = str(e.value)
    assert "\n" not in msg and repr(text) in msg or "positive" in msg


def test_registry_rejects_duplicates_and_lists_names() -> None:
    r: Registry[int] = Registry("thing")
    r.add("a", 1)
    with pytest.raises(NasError, match="duplicate thing name 'a'"):
        r.add("a", 2)
    with pytest.raises(NasError, match="unknown thing 'b'; allowed: a"):
        r.get("b")


def test_input_parse() -> None:
    assert parse_input("3x224x160") == TensorType.map(3, 224, 160)
    with pytest.raises(NasError, match="expected CxHxW"):
        parse_input("224")


def test_type_error_names_layer_op_and_both_types() -> None:
    seq = TensorType.seq(16, 4, 4)
    with pytest.raises(TypeMismatchError) as e:
        resolve_layers(seq, [("stage1.block0", "conv", {"out": 8})])
    assert str(e.value) == "layer 'stage1.block0': operation 'conv' accepts map, got seq[16x16 grid 4x4]"


def test_bad_hyper_parameter_names_value_and_allowed() -> None:
    with pytest.raises(NasError, match=r"kernel=6 not allowed; allowed: \(1, 2, 3, 4, 5, 7, 9, 11\)"):
        resolve_layers(TensorType.map(3, 8, 8), [("l0", "conv", {"out": 8, "kernel": 6})])
    with pytest.raises(NasError, match="has no hyper-parameter 'kernal'"):
        resolve_layers(TensorType.map(3, 8, 8), [("l0", "conv", {"out": 8, "kernal": 3})])
