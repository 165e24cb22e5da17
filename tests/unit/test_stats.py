"""Spread and CDF of per-roam figures."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l3roam.measure.stats import cdf, percentile, ratio, summarize


def test_percentiles_interpolate_between_ranks():
    xs = [10, 20, 30, 40, 50]
    assert percentile(xs, 50) == 30
    assert percentile(xs, 95) == pytest.approx(48.0)
    assert percentile(xs, 0) == 10 and percentile(xs, 100) == 50
    assert percentile([7], 95) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(xs, 101)


def test_summary_of_gaps_ignores_missing_values():
    s = summarize([50.0, None, 160.0, 40.0, float("nan")])
    assert (s.n, s.median, s.min, s.max) == (3, 50.0, 40.0, 160.0)
    assert s.p95 == pytest.approx(149.0)
    assert summarize([]).n == 0 and math.isnan(summarize([]).median)


def test_cdf_is_a_step_function_ending_at_one():
    xs, ys = cdf([30, 10, 20, 20])
    assert xs == [10, 20, 20, 30]
    assert ys == [0.25, 0.5, 0.75, 1.0]


def test_ratio_handles_zero():
    assert ratio(6, 3) == 2
    assert ratio(0, 0) == 1
    assert math.isinf(ratio(1, 0))


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_summary_orders_min_median_p95_max(values):
    s = summarize(values)
    assert s.min <= s.median <= s.p95 <= s.max
    xs, ys = cdf(values)
    assert xs == sorted(xs) and ys[-1] == 1.0
