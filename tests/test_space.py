"""Tests of hptune.space: validation, unit-cube encoding, dict form, declarative spaces."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import hptune as ht
from hptune.space import distribution_from_dict, parse_space

# Strategies --------------------------------------------------------------------------

unit = st.floats(0.0, 1.0)
# Points outside [0, 1] too: decode clips them.
any_point = st.floats(-2.0, 3.0)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def linear_floats(draw: st.DrawFn) -> ht.Float:
    low = draw(finite)
    width = draw(st.floats(1e-6, 1e6))
    return ht.Float(low, low + width)


@st.composite
def log_floats(draw: st.DrawFn) -> ht.Float:
    low = draw(st.floats(1e-8, 1e4))
    ratio = draw(st.floats(1.0 + 1e-6, 1e8))
    return ht.Float(low, low * ratio, log=True)


@st.composite
def stepped_floats(draw: st.DrawFn) -> ht.Float:
    step = draw(
        st.sampled_from([1e-4, 0.001, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5, 10.0])
        | st.floats(1e-3, 100.0)
    )
    low = draw(st.integers(-1000, 1000)) * draw(st.sampled_from([1.0, 0.1, 0.01, step]))
    n_steps = draw(st.integers(1, 200))
    extra = draw(st.floats(0.0, 0.99)) * step  # high need not lie on the grid
    return ht.Float(low, low + n_steps * step + extra, step=step)


@st.composite
def ints(draw: st.DrawFn) -> ht.Int:
    low = draw(st.integers(-1000, 1000))
    step = draw(st.integers(1, 20))
    n_steps = draw(st.integers(0, 100))
    extra = draw(st.integers(0, step - 1)) if n_steps else 0  # a step must fit the range
    return ht.Int(low, low + n_steps * step + extra, step=step)


@st.composite
def log_ints(draw: st.DrawFn, max_width: int = 10**6) -> ht.Int:
    low = draw(st.integers(1, 1000))
    return ht.Int(low, low + draw(st.integers(0, max_width)), log=True)


json_choice = (
    st.text(max_size=5)
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
categoricals = st.lists(json_choice, min_size=1, max_size=8, unique_by=json.dumps).map(
    ht.Categorical
)

numeric = linear_floats() | log_floats() | stepped_floats() | ints() | log_ints()
finite_dists = stepped_floats() | ints() | log_ints() | categoricals
small_finite_dists = stepped_floats() | ints() | log_ints(max_width=300) | categoricals
any_dist = numeric | categoricals


def _value_in(dist: ht.Distribution, data: st.DataObject) -> Any:
    """Draw a value of ``dist`` (any value, not only the ones decode produces)."""
    if isinstance(dist, ht.Float) and dist.step is None:
        if dist.log:
            log_value = data.draw(st.floats(math.log(dist.low), math.log(dist.high)))
            return min(max(math.exp(log_value), dist.low), dist.high)
        return data.draw(st.floats(dist.low, dist.high))
    if isinstance(dist, ht.Int):
        return dist.low + dist.step * data.draw(st.integers(0, (dist.high - dist.low) // dist.step))
    values = dist.grid()
    assert values is not None
    return data.draw(st.sampled_from(values))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (1, 1.0 and True are different choices)."""
    return json.dumps(a) == json.dumps(b)


# Round trips ---------------------------------------------------------------------------


@given(dist=finite_dists, data=st.data())
def test_round_trip_is_exact_for_finite_distributions(
    dist: ht.Distribution, data: st.DataObject
) -> None:
    value = _value_in(dist, data)
    assert _same(dist.from_unit(dist.to_unit(value)), value)


@given(dist=linear_floats() | log_floats(), data=st.data())
def test_round_trip_is_close_for_continuous_floats(dist: ht.Float, data: st.DataObject) -> None:
    value = _value_in(dist, data)
    back = dist.from_unit(dist.to_unit(value))
    assert isinstance(back, float)
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9 * max(abs(dist.low), dist.high))


@given(dist=categoricals, data=st.data())
def test_categorical_round_trip_keeps_the_type_of_each_choice(
    dist: ht.Categorical, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from(dist.choices))
    back = dist.decode(dist.encode([value]))[0]
    assert type(back) is type(value)
    assert _same(back, value)


def test_categorical_tells_1_1_0_and_true_apart() -> None:
    dist = ht.Categorical([1, 1.0, True])
    for choice in dist.choices:
        back = dist.from_unit(dist.to_unit(choice))
        assert type(back) is type(choice)
    assert dist.to_unit(1) < dist.to_unit(1.0) < dist.to_unit(True)


# Encoding bounds and decoding into the distribution --------------------------------------


@given(dist=any_dist, data=st.data())
def test_encode_lies_in_the_unit_interval(dist: ht.Distribution, data: st.DataObject) -> None:
    u = dist.to_unit(_value_in(dist, data))
    assert 0.0 <= u <= 1.0


@given(dist=finite_dists, data=st.data())
def test_finite_distributions_encode_to_cell_centres(
    dist: ht.Distribution, data: st.DataObject
) -> None:
    values = dist.grid()
    assert values is not None
    value = data.draw(st.sampled_from(values))
    u = dist.to_unit(value)
    if isinstance(dist, ht.Int) and dist.log:
        return  # log integers map [low - 0.5, high + 0.5] logarithmically, not to cells
    n = len(values)
    position = [json.dumps(v) for v in values].index(json.dumps(value))
    assert u == pytest.approx((position + 0.5) / n)
    assert 0.0 < u < 1.0


@given(dist=any_dist, u=any_point)
def test_decode_of_any_point_is_contained(dist: ht.Distribution, u: float) -> None:
    value = dist.from_unit(u)
    assert dist.contains(value)
    if not isinstance(dist, ht.Int):  # integers: contains is the grid test already
        finite_values = dist.grid()
        if finite_values is not None:
            assert any(_same(value, v) for v in finite_values)


@given(dist=any_dist)
def test_decode_clips_points_outside_the_unit_interval(dist: ht.Distribution) -> None:
    assert _same(dist.from_unit(-0.5), dist.from_unit(0.0))
    assert _same(dist.from_unit(1.5), dist.from_unit(1.0))


@given(dist=any_dist, points=st.lists(unit, max_size=20))
# Found by hypothesis: numpy's vectorised exp gave 25044.678975178926, math.exp
# 25044.67897517893 (one ulp apart), before both forms used math.
@example(dist=ht.Float(3046.4681732704153, 63554636088.44688, log=True), points=[0.125])
def test_vector_encode_and_decode_match_the_scalar_forms(
    dist: ht.Distribution, points: list[float]
) -> None:
    values = dist.decode(points)
    assert len(values) == len(points)
    assert all(_same(v, dist.from_unit(u)) for v, u in zip(values, points, strict=True))
    encoded = dist.encode(values)
    assert encoded.shape == (len(points),)
    assert encoded.tolist() == [dist.to_unit(v) for v in values]


def test_decode_returns_python_scalars() -> None:
    assert type(ht.Float(0, 1).from_unit(0.3)) is float
    assert type(ht.Float(0, 1, step=0.1).from_unit(0.3)) is float
    assert type(ht.Int(0, 10).from_unit(0.3)) is int
    assert type(ht.Int(1, 100, log=True).from_unit(0.3)) is int


# Steps ---------------------------------------------------------------------------------


@given(dist=stepped_floats(), u=unit)
def test_stepped_float_decodes_onto_the_step_grid(dist: ht.Float, u: float) -> None:
    assert dist.step is not None
    value = dist.from_unit(u)
    k = (value - dist.low) / dist.step
    assert k == pytest.approx(round(k), abs=1e-6)
    assert dist.low <= value <= dist.high


@given(dist=stepped_floats())
def test_stepped_float_grid_runs_from_low_in_steps_up_to_high(dist: ht.Float) -> None:
    assert dist.step is not None
    values = dist.grid()
    assert values is not None
    assert values[0] == pytest.approx(dist.low, rel=1e-12, abs=1e-12)
    assert values == sorted(set(values))
    assert np.allclose(np.diff(values), dist.step, rtol=1e-6)
    # The largest grid point not above high: one more step would pass it.
    assert values[-1] <= dist.high
    assert values[-1] + dist.step > dist.high * (1 + 1e-9) + 1e-9


def test_stepped_float_grid_has_no_float_noise() -> None:
    assert ht.Float(0, 1, step=0.1).grid() == [round(0.1 * k, 1) for k in range(11)]
    assert ht.Float(0, 1, step=0.3).grid() == [0.0, 0.3, 0.6, 0.9]
    assert ht.Float(0, 0.3, step=0.1).grid() == [0.0, 0.1, 0.2, 0.3]


@pytest.mark.parametrize("low, high", [(1.1, 1.2), (2.2, 2.3), (0.7, 0.8)])
def test_a_step_equal_to_a_noisy_range_is_allowed(low: float, high: float) -> None:
    # high - low is 0.09999999999999987 for (1.1, 1.2): still one step of 0.1.
    assert ht.Float(low, high, step=0.1).grid() == [low, high]


def test_a_noisy_low_stays_inside_the_distribution() -> None:
    dist = ht.Float(0.1 * 3, 1.0, step=0.1)  # low = 0.30000000000000004
    for u in (0.0, 0.5, 1.0):
        value = dist.from_unit(u)
        assert dist.contains(value) and dist.low <= value <= dist.high
    assert all(dist.contains(v) for v in dist.grid() or [])


@given(dist=ints(), u=unit)
def test_int_decodes_onto_the_step_grid(dist: ht.Int, u: float) -> None:
    value = dist.from_unit(u)
    assert isinstance(value, int)
    assert (value - dist.low) % dist.step == 0
    assert dist.low <= value <= dist.high


def test_int_step_grid() -> None:
    assert ht.Int(0, 10, step=3).grid() == [0, 3, 6, 9]
    assert ht.Int(1, 4).grid() == [1, 2, 3, 4]
    assert ht.Int(5, 5).grid() == [5]


@pytest.mark.parametrize(
    "dist, inside, outside",
    [
        (
            ht.Float(0, 1),
            [0, 0.5, 1, np.float64(0.25)],
            [-0.1, 1.1, math.nan, math.inf, True, "0.5"],
        ),
        (ht.Float(0, 1, step=0.25), [0, 0.25, 0.75, 1.0], [0.1, 1.25, -0.25]),
        (ht.Int(0, 10, step=2), [0, 2, 10, 4.0, np.int64(6)], [1, 11, -2, 2.5, True, "2"]),
        (ht.Categorical(["a", 1, None]), ["a", 1, None], ["b", 1.0, True, [1], object()]),
    ],
)
def test_contains(dist: ht.Distribution, inside: list[Any], outside: list[Any]) -> None:
    assert all(dist.contains(v) for v in inside)
    assert not any(dist.contains(v) for v in outside)


# Log scale -------------------------------------------------------------------------------


@given(dist=log_floats())
def test_log_float_decodes_the_midpoint_to_the_geometric_mean(dist: ht.Float) -> None:
    assert dist.from_unit(0.5) == pytest.approx(math.sqrt(dist.low * dist.high), rel=1e-9)
    assert dist.from_unit(0.0) == pytest.approx(dist.low, rel=1e-12)
    assert dist.from_unit(1.0) == pytest.approx(dist.high, rel=1e-12)


@given(dist=log_floats(), u=unit, v=unit)
def test_log_float_equal_steps_in_u_are_equal_ratios(dist: ht.Float, u: float, v: float) -> None:
    # log(x(u)) is linear in u: the ratio x(u)/x(v) depends only on u - v.
    ratio = dist.from_unit(u) / dist.from_unit(v)
    assert math.log(ratio) == pytest.approx(
        (u - v) * math.log(dist.high / dist.low), rel=1e-6, abs=1e-9
    )


def test_log_int_spreads_values_logarithmically() -> None:
    dist = ht.Int(1, 1000, log=True)
    # On a log scale from 0.5 to 1000.5 the midpoint is about sqrt(0.5 * 1000.5) ~ 22.
    assert dist.from_unit(0.5) == round(math.sqrt(0.5 * 1000.5))
    assert dist.from_unit(0.0) == 1
    assert dist.from_unit(1.0) == 1000
    # Every integer is reachable (its log cell is not empty).
    small = ht.Int(1, 12, log=True)
    assert sorted(set(small.decode(np.linspace(0, 1, 10_001)))) == small.grid()


# Monotonicity ----------------------------------------------------------------------------


@given(dist=numeric, data=st.data())
def test_encode_is_monotonic_for_numeric_distributions(
    dist: ht.Distribution, data: st.DataObject
) -> None:
    a, b = sorted([_value_in(dist, data), _value_in(dist, data)])
    assert dist.to_unit(a) <= dist.to_unit(b)
    if a < b and dist.grid() is not None:
        assert dist.to_unit(a) < dist.to_unit(b)  # distinct grid values get distinct cells


@given(dist=numeric, u=unit, v=unit)
def test_decode_is_monotonic_for_numeric_distributions(
    dist: ht.Distribution, u: float, v: float
) -> None:
    lo, hi = sorted([u, v])
    assert dist.from_unit(lo) <= dist.from_unit(hi)


# Grid ------------------------------------------------------------------------------------


@given(dist=small_finite_dists)
def test_grid_lists_exactly_the_values_decode_produces(dist: ht.Distribution) -> None:
    values = dist.grid()
    assert values is not None
    # Every grid value is produced (its own encoding decodes to it) ...
    for value in values:
        assert _same(dist.from_unit(dist.to_unit(value)), value)
    # ... and a dense sweep produces nothing else.
    produced = dist.decode(np.linspace(0.0, 1.0, 4 * len(values) + 1))
    keys = {json.dumps(v) for v in values}
    assert {json.dumps(v) for v in produced} <= keys


def test_grid_is_none_exactly_for_continuous_floats() -> None:
    assert ht.Float(0, 1).grid() is None
    assert ht.Float(1, 10, log=True).grid() is None
    assert ht.Float(2, 2).grid() == [2.0]
    assert ht.Float(2, 2).from_unit(0.7) == 2.0


# Dict form -------------------------------------------------------------------------------


@given(dist=any_dist)
def test_to_dict_round_trips_through_json(dist: ht.Distribution) -> None:
    data = json.loads(json.dumps(dist.to_dict()))
    back = distribution_from_dict(data)
    assert back == dist
    assert type(back) is type(dist)
    assert back.to_dict() == dist.to_dict()


def test_to_dict_forms() -> None:
    assert ht.Float(1e-3, 1, log=True).to_dict() == {
        "type": "float",
        "low": 1e-3,
        "high": 1.0,
        "log": True,
        "step": None,
    }
    assert ht.Int(1, 9, step=2).to_dict() == {
        "type": "int",
        "low": 1,
        "high": 9,
        "log": False,
        "step": 2,
    }
    assert ht.Categorical(["a", None]).to_dict() == {"type": "categorical", "choices": ["a", None]}


def test_distribution_from_dict_uses_defaults() -> None:
    assert distribution_from_dict({"type": "float", "low": 0, "high": 1}) == ht.Float(0, 1)
    assert distribution_from_dict({"type": "int", "low": 1, "high": 3}) == ht.Int(1, 3)


@pytest.mark.parametrize(
    "data, match",
    [
        ({"low": 0, "high": 1}, r"'type' set to one of \['categorical', 'float', 'int'\]"),
        ({"type": "uniform", "low": 0, "high": 1}, r"got \{'type': 'uniform'"),
        ("float", "'type' set to one of"),
        ({"type": "int", "low": 1}, r"bad arguments for a int distribution"),
        ({"type": "float", "low": 0, "high": 1, "scale": 2}, "bad arguments .* 'scale'"),
        ({"type": "float", "low": 2, "high": 1}, r"low must be <= high, got low=2.0, high=1.0"),
    ],
)
def test_distribution_from_dict_errors(data: Any, match: str) -> None:
    with pytest.raises(ht.InvalidSpaceError, match=match):
        distribution_from_dict(data)


# Declarative spaces ----------------------------------------------------------------------


def test_parse_space_accepts_distributions_and_their_dict_form() -> None:
    space = parse_space(
        {
            "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
            "depth": ht.Int(1, 4),
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
        }
    )
    assert space == {
        "lr": ht.Float(1e-5, 1e-1, log=True),
        "depth": ht.Int(1, 4),
        "optimizer": ht.Categorical(["adam", "sgd"]),
    }


@pytest.mark.parametrize(
    "space, match",
    [
        ([("x", ht.Float(0, 1))], "a search space must be a dict .* got list"),
        ({"": ht.Float(0, 1)}, "parameter names must be non-empty strings, got ''"),
        ({3: ht.Float(0, 1)}, "parameter names must be non-empty strings, got 3"),
        ({"x": [0, 1]}, r"parameter 'x': expected a Float, Int or Categorical, got \[0, 1\]"),
        ({"x": ht.Float}, "parameter 'x': expected a Float, Int or Categorical"),
        ({"x": {"type": "float", "low": 2, "high": 1}}, "parameter 'x': Float: low must be <="),
        ({"x": {"type": "nope"}}, "parameter 'x': a distribution needs 'type'"),
    ],
)
def test_parse_space_errors_name_the_parameter(space: Any, match: str) -> None:
    with pytest.raises(ht.InvalidSpaceError, match=match):
        parse_space(space)


# Validation ------------------------------------------------------------------------------

nan, inf = math.nan, math.inf


@pytest.mark.parametrize(
    "factory, match",
    [
        # low > high
        (lambda: ht.Float(2, 1), r"Float: low must be <= high, got low=2.0, high=1.0"),
        (lambda: ht.Int(5, 1), r"Int: low must be <= high, got low=5, high=1"),
        # log with low <= 0
        (lambda: ht.Float(0, 1, log=True), r"Float: log=True needs low > 0, got low=0.0"),
        (lambda: ht.Float(-1, 1, log=True), r"Float: log=True needs low > 0, got low=-1.0"),
        (lambda: ht.Int(0, 10, log=True), r"Int: log=True needs low > 0, got low=0"),
        # log together with step
        (
            lambda: ht.Float(1, 10, log=True, step=1),
            r"Float: log=True cannot be combined with step, got step=1.0",
        ),
        (
            lambda: ht.Int(1, 10, log=True, step=2),
            r"Int: log=True cannot be combined with step, got step=2",
        ),
        # step larger than the range
        (
            lambda: ht.Float(0, 1, step=2),
            r"Float: step must not exceed high - low = 1.0, got step=2.0",
        ),
        (lambda: ht.Int(0, 3, step=5), r"Int: step must not exceed high - low = 3, got step=5"),
        # bad step
        (lambda: ht.Float(0, 1, step=0), r"Float: step must be > 0, got step=0.0"),
        (lambda: ht.Float(0, 1, step=-0.5), r"Float: step must be > 0, got step=-0.5"),
        (lambda: ht.Float(0, 1, step=nan), r"Float: step must be finite, got step=nan"),
        (lambda: ht.Float(0, 1, step="0.1"), r"Float: step must be a number, got step='0.1'"),
        (lambda: ht.Int(0, 10, step=0), r"Int: step must be >= 1, got step=0"),
        (lambda: ht.Int(0, 10, step=-2), r"Int: step must be >= 1, got step=-2"),
        (lambda: ht.Int(0, 10, step=1.5), r"Int: step must be an integer, got step=1.5"),
        # non-finite bounds
        (lambda: ht.Float(nan, 1), r"Float: low must be finite, got low=nan"),
        (lambda: ht.Float(0, nan), r"Float: high must be finite, got high=nan"),
        (lambda: ht.Float(-inf, 1), r"Float: low must be finite, got low=-inf"),
        (lambda: ht.Float(0, inf), r"Float: high must be finite, got high=inf"),
        (lambda: ht.Float(1, inf, log=True), r"Float: high must be finite, got high=inf"),
        (lambda: ht.Int(0, inf), r"Int: high must be an integer, got high=inf"),
        (lambda: ht.Int(nan, 1), r"Int: low must be an integer, got low=nan"),
        # non-numbers, bools and non-integers as bounds
        (lambda: ht.Float("0", 1), r"Float: low must be a number, got low='0'"),
        (lambda: ht.Float(None, 1), r"Float: low must be a number, got low=None"),
        (lambda: ht.Float(True, 2), r"Float: low must be a number, got low=True"),
        (lambda: ht.Float(0, False), r"Float: high must be a number, got high=False"),
        (lambda: ht.Int(1.5, 3), r"Int: low must be an integer, got low=1.5"),
        (lambda: ht.Int(0, 2.5), r"Int: high must be an integer, got high=2.5"),
        (lambda: ht.Int("1", 3), r"Int: low must be an integer, got low='1'"),
        (lambda: ht.Int(True, 3), r"Int: low must be an integer, got low=True"),
        (lambda: ht.Int(0, True), r"Int: high must be an integer, got high=True"),
        (lambda: ht.Int(0, 4, step=True), r"Int: step must be an integer, got step=True"),
        # empty and duplicate choices
        (lambda: ht.Categorical([]), r"Categorical: choices must not be empty, got choices=\(\)"),
        (
            lambda: ht.Categorical(["a", "b", "a"]),
            r"Categorical: choices must be distinct, got 'a' twice \(indices 0 and 2\)",
        ),
        (lambda: ht.Categorical([None, None]), r"choices must be distinct, got None twice"),
        # choices that are not plain JSON values
        (lambda: ht.Categorical("abc"), r"choices must be a list or tuple, got choices='abc'"),
        (lambda: ht.Categorical(3), r"choices must be a list or tuple, got choices=3"),
        (
            lambda: ht.Categorical(["a", object()]),
            r"Categorical: choices must be str, int, float, bool or None .* "
            r"got <object object at .*> of type object at index 1",
        ),
        (lambda: ht.Categorical([[1, 2]]), r"got \[1, 2\] of type list at index 0"),
        (lambda: ht.Categorical([{"a": 1}]), r"got \{'a': 1\} of type dict at index 0"),
        (lambda: ht.Categorical([(1, 2)]), r"got \(1, 2\) of type tuple at index 0"),
        (lambda: ht.Categorical([b"x"]), r"got b'x' of type bytes at index 0"),
        (
            lambda: ht.Categorical([1, np.int64(2)]),
            r"got (np\.int64\()?2\)? of type int64 at index 1",
        ),
        (lambda: ht.Categorical([0.5, nan]), r"Categorical: choices must be finite, got nan"),
        (lambda: ht.Categorical([inf]), r"Categorical: choices must be finite, got inf"),
    ],
)
def test_invalid_distributions(factory: Any, match: str) -> None:
    with pytest.raises(ht.InvalidSpaceError, match=match):
        factory()


def test_invalid_space_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ht.Float(2, 1)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: ht.Float(1, 1),
        lambda: ht.Float(1, 1, log=True),
        lambda: ht.Float(1, 1, step=0.5),  # one point: the step cannot exceed an empty range
        lambda: ht.Float(0, 1, step=1),
        lambda: ht.Int(3, 3),
        lambda: ht.Int(0, 4, step=4),
        lambda: ht.Int(0.0, 4.0),  # integral floats are integers
        lambda: ht.Int(np.int64(0), np.int64(4)),
        lambda: ht.Float(np.float32(0.5), 1),
        lambda: ht.Categorical(("a",)),
        lambda: ht.Categorical([1, 1.0, True, "1", None]),  # distinct as JSON values
    ],
)
def test_edge_cases_that_are_valid(factory: Any) -> None:
    dist = factory()
    for u in (0.0, 0.5, 1.0):
        assert dist.contains(dist.from_unit(u))


def test_int_normalises_integral_bounds_to_int() -> None:
    dist = ht.Int(0.0, np.int64(4))
    assert type(dist.low) is int and type(dist.high) is int
    assert dist == ht.Int(0, 4)


def test_distributions_are_immutable_and_hashable() -> None:
    dist = ht.Float(0, 1)
    with pytest.raises(AttributeError):
        dist.low = 0.5  # type: ignore[misc]
    assert len({ht.Float(0, 1), ht.Float(0.0, 1.0), ht.Int(0, 1), ht.Categorical(["a"])}) == 3


def test_categorical_equality_tells_1_and_true_apart() -> None:
    assert ht.Categorical([1, 2]) != ht.Categorical([True, 2])
    assert ht.Categorical([1, 2]) != ht.Categorical([1.0, 2])
    assert ht.Categorical([1, 2]) == ht.Categorical((1, 2))


def test_check_value_names_the_parameter_and_value() -> None:
    with pytest.raises(ht.InvalidValueError, match=r"parameter 'depth': 7 is not a value of Int"):
        ht.Int(1, 4).check_value("depth", 7)
    ht.Int(1, 4).check_value("depth", 3)


def test_categorical_index() -> None:
    dist = ht.Categorical(["adam", "sgd"])
    assert dist.index("sgd") == 1
    with pytest.raises(ht.InvalidValueError, match=r"'rmsprop' is not one of the choices"):
        dist.index("rmsprop")


# Suggest-time wrapping -------------------------------------------------------------------


@pytest.mark.parametrize(
    "suggest, match",
    [
        (lambda t: t.suggest_float("lr", 2, 1), r"parameter 'lr': Float: low must be <= high"),
        (
            lambda t: t.suggest_float("lr", 0, 1, log=True),
            r"parameter 'lr': Float: log=True needs low > 0, got low=0.0",
        ),
        (lambda t: t.suggest_int("depth", 1, 4.5), r"parameter 'depth': Int: high must be an int"),
        (lambda t: t.suggest_categorical("opt", []), r"parameter 'opt': Categorical: .* empty"),
        (lambda t: t.suggest("x", [0, 1]), r"parameter 'x': expected a Float, Int or Categorical"),
        (lambda t: t.suggest_float("", 0, 1), r"parameter names must be non-empty strings"),
    ],
)
def test_suggest_wraps_space_errors_with_the_parameter_name(suggest: Any, match: str) -> None:
    study = ht.create_study(seed=0)
    trial = study.ask()
    with pytest.raises(ht.InvalidSpaceError, match=match):
        suggest(trial)
    assert trial.params == {}


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ht.Int(0, 2**70), r"Int: high must lie within \+-2\*\*53"),
        (lambda: ht.Int(-(2**63), 0), r"Int: low must lie within \+-2\*\*53"),
        (lambda: ht.Float(-1e308, 1e308), r"Float: the range high - low must be a finite float"),
        (lambda: ht.Float(0, 1, log="yes"), r"Float: log must be True or False, got log='yes'"),
        (lambda: ht.Int(1, 9, log=1), r"Int: log must be True or False, got log=1"),
    ],
)
def test_bounds_no_sampler_can_honour_are_refused(factory: Any, match: str) -> None:
    with pytest.raises(ht.InvalidSpaceError, match=match):
        factory()


@pytest.mark.parametrize("sampler", ["random", "qmc", "tpe", "gp", "cmaes", "auto"])
def test_the_widest_ranges_are_sampled_inside_their_bounds(sampler: str) -> None:
    space = {
        "n": ht.Int(-(2**53), 2**53),
        "big": ht.Int(2**52, 2**53),
        "x": ht.Float(-1e307, 1e307),
    }
    study = ht.create_study(sampler=sampler, seed=0)
    for _ in range(15):
        trial = study.ask(space)
        for name, dist in space.items():
            assert dist.contains(trial.params[name]), (name, trial.params[name])
        assert isinstance(trial.params["n"], int) and isinstance(trial.params["big"], int)
        study.tell(trial, abs(trial.params["x"]) / 1e307 + abs(trial.params["n"]) / 2**53)
