"""Cardinal's quartiles and outlier fences (ocds-red-flags.md section 1.1): Hyndman–Fan type 8
quantiles and Tukey fences rounded once, as Rust's `mul_add`. Shared by the Python port and the
columnar engine, which compute the fences of the same values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction


def quantile(sorted_values: Sequence[float], p: float) -> float:
    """Hyndman–Fan type 8 (statrs' method; numpy's `method="median_unbiased"`); NaN for no data."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    h = (n + 1.0 / 3.0) * p + 1.0 / 3.0
    k = math.floor(h)
    if k <= 0 or p == 0:
        return sorted_values[0]
    if k >= n or p == 1:
        return sorted_values[-1]
    low = sorted_values[k - 1]
    return low + (h - k) * (sorted_values[k] - low)


def fma(x: float, y: float, z: float) -> float:
    """x·y + z rounded once, as Rust's `mul_add` computes Cardinal's fences (Python 3.11 has no math.fma)."""
    if not all(map(math.isfinite, (x, y, z))):
        return x * y + z
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def quartiles(values: Iterable[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return quantile(ordered, 0.25), quantile(ordered, 0.75)


def lower_fence(values: Iterable[float], threshold: float | None) -> float | None:
    """Q1 − 1.5·IQR, or the threshold; None unless Q1 > 0 and the fence > 0 (else 75 % of zeros flag)."""
    if threshold is not None:
        return threshold if threshold > 0 else None
    q1, q3 = quartiles(values)
    fence = fma(q3 - q1, -1.5, q1)
    return fence if q1 > 0 and fence > 0 else None


def upper_fence(values: Iterable[float], threshold: float | None) -> float:
    """Q3 + 1.5·IQR, or the threshold."""
    if threshold is not None:
        return threshold
    q1, q3 = quartiles(values)
    return fma(q3 - q1, 1.5, q3)
