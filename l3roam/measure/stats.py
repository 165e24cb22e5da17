"""Spread of a sample and its empirical CDF (pure: no I/O).

``summarize`` gives what the report prints for every metric: count, median,
95th percentile, minimum and maximum.  Percentiles use linear interpolation
between closest ranks (numpy's default, "type 7"), so a sample of one value
has that value for every percentile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    min: float
    max: float
    mean: float

    def as_dict(self) -> dict:
        return {"n": self.n, "median": self.median, "p95": self.p95, "min": self.min,
                "max": self.max, "mean": self.mean}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``; NaN for an empty sample."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(values: list[float]) -> Summary:
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan)
    return Summary(len(xs), percentile(xs, 50), percentile(xs, 95), min(xs), max(xs), sum(xs) / len(xs))


def cdf(values: list[float]) -> tuple[list[float], list[float]]:
    """Sorted values and the fraction of the sample at or below each (a step function)."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    return xs, [(i + 1) / n for i in range(n)]


def ratio(a: float, b: float) -> float:
    """``a / b``; infinity when only ``b`` is zero, 1 when both are."""
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b
