"""Numbers and tables as the page prints them: fixed decimals, intervals, year spans, markdown
tables. One place, so every section formats a number the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experiments.markdown import markdown_table as markdown_table  # the sections take every format from here


def signed_diff(v: float, count: bool = False) -> str:
    """A signed difference; small ones with a fourth decimal so a sign never hides behind rounding."""
    if not np.isfinite(v):
        return "–"
    return f"{v:+.1f}" if count else f"{v:+.4f}" if abs(v) < 0.01 else f"{v:+.3f}"


def fixed(v: float, digits: int = 3) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def with_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{fixed(value, digits)} [{fixed(low, digits)}, {fixed(high, digits)}]"


def year_span(years: Sequence[int]) -> str:
    years = sorted(int(y) for y in years)
    if not years:
        return "none"
    return f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])


def paired_cell(diff, low, high) -> str:
    return "–" if not np.isfinite(diff) else f"{signed_diff(diff)} [{signed_diff(low)}, {signed_diff(high)}]"
