"""Zero-cost proxies: every proxy on every space, seed-deterministic, one-line errors, the score registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas.errors import NasError
from nas.predictors.proxies import PROXIES, Batch, compute, random_batch
from nas.searchspace import get_space
from nas.searchspace.spaces.nb201 import NB201Space
from nas.searchspace.tensor_type import parse_input

ALL = PROXIES.names()
GOOD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"


@pytest.fixture(scope="module")
def tiny() -> NB201Space:
    return NB201Space(input=parse_input("3x8x8"), channels=4, cells=1)


def smallest(space):
    """The architecture whose every gene takes its first (smallest) choice."""
    return space.make(**{d.name: d.choices[0] for d in space.dims})


def test_registry_lists_the_fourteen_proxies() -> None:
    assert ALL == ["deepmad", "epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "naswot",
                   "params", "plain", "snip", "synflow", "zen"]


def test_every_proxy_is_seed_deterministic_and_finite_on_nb201(tiny) -> None:
    spec = tiny.resolve(tiny.parse_string(GOOD))
    names = [n for n in ALL if n != "deepmad"]
    batch = random_batch(spec.input, 10, 8, seed=0)
    a = compute(names, spec, batch, seed=0)
    b = compute(names, spec, batch, seed=0)
    assert a == b  # bit-identical for the same seed
    assert all(math.isfinite(v) for v in a.values()), a
    assert a["params"] == sum(layer.params() for layer in spec.layers) == 14_526
    assert a["flops"] == sum(layer.macs() for layer in spec.layers)
    c = compute(["synflow", "snip", "naswot"], spec, random_batch(spec.input, 10, 8, seed=1), seed=1)
    assert c["snip"] != a["snip"] and c["synflow"] != a["synflow"]  # another seed, other weights


def test_each_proxy_alone_equals_the_grouped_pass(tiny) -> None:
    spec = tiny.resolve(tiny.parse_string(GOOD))
    batch = random_batch(spec.input, 10, 8, seed=0)
    together = compute(["snip", "grad_norm", "plain", "fisher", "jacov", "epe_nas"], spec, batch)
    for n, v in together.items():
        assert compute(n, spec, batch)[n] == v


def test_a_dead_cell_is_worst_not_nan(tiny) -> None:
    dead = tiny.resolve(tiny.parse_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    v = compute(["jacov", "snip", "naswot"], dead, random_batch(dead.input, 10, 8))
    assert v["jacov"] == -math.inf  # the output ignores the input: the Jacobians are all zero
    assert v["snip"] >= 0.0 and not math.isnan(v["naswot"])


@pytest.mark.parametrize("name", ["hybrid", "mobilenet", "resnet"])
def test_every_proxy_runs_on_every_space(name) -> None:
    space = get_space(name, input=parse_input("3x32x32"), num_classes=10)
    spec = space.resolve(smallest(space))
    v = compute(ALL, spec, random_batch(spec.input, 10, 4, seed=0))
    assert sorted(v) == ALL
    assert all(not math.isnan(x) for x in v.values())
    assert v["params"] > 0 and math.isfinite(v["grasp"]) and math.isfinite(v["synflow"])


def test_data_batch_draws_labelled_images() -> None:
    from nas.predictors.proxies import data_batch
    from nas.training.datasets import load_dataset

    ds = load_dataset("digits", resize="3x8x8")
    b = data_batch(ds, 6, seed=3)
    assert isinstance(b, Batch) and tuple(b.x.shape) == (6, 3, 8, 8) and b.num_classes == 10
    assert np.array_equal(b.y.numpy(), data_batch(ds, 6, seed=3).y.numpy())


def test_bad_input_is_one_line(tiny) -> None:
    spec = tiny.resolve(tiny.parse_string(GOOD))
    with pytest.raises(NasError, match="unknown proxy 'nope'; allowed: deepmad, epe_nas"):
        compute("nope", spec)
    with pytest.raises(NasError, match="batch size must be at least 2"):
        random_batch(spec.input, 10, 1)
    with pytest.raises(NasError, match="the batch has 20 classes but the network outputs 10"):
        compute("snip", spec, random_batch(spec.input, 20, 4))
    with pytest.raises(NasError, match="DeepMAD has no entropy term for op 'nb201_cell'"):
        compute("deepmad", spec)


def test_every_proxy_is_a_search_score(tiny) -> None:
    from nas.predictors.score import SCORES

    spec = tiny.resolve(tiny.parse_string(GOOD))
    for n in ALL:
        assert n in SCORES
    s = SCORES.get("naswot")(seed=0, batch_size=8)
    assert s(spec) == compute("naswot", spec, random_batch(spec.input, 10, 8, seed=0))["naswot"]
    with pytest.raises(NasError, match="score 'snip': unknown option"):
        SCORES.get("snip")(colour="red")


def test_cached_proxies_share_one_pass_and_read_back(tiny, tmp_path) -> None:
    from nas.predictors.proxy_cache import CachedProxies

    a = tiny.parse_string(GOOD)
    p = CachedProxies(["snip", "synflow"], tiny, batch_size=8, cache=tmp_path)
    v = p(a)
    again = CachedProxies(["snip", "synflow"], tiny, batch_size=8, cache=tmp_path)
    assert again(a) == v and again.computed == 0
    other = CachedProxies(["snip"], tiny, batch_size=4, cache=tmp_path)  # another batch: another cache file
    assert other.ids["snip"] != p.ids["snip"] and other(a)["snip"] != v["snip"]
