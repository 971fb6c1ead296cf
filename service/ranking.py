"""A year's rows in the order every list shows them: ranked rows first, then those with too little data.

A row whose band is "insufficient data" (coverage below scoring.min_coverage, or no TIP placement for a
model that reads it) gets no rank: it is listed after the ranked rows, in the same probability order, so
no list, page or CSV ranks a score its backtest never measured.
"""

from __future__ import annotations

from scoring.served import ServedVersion
from service.vocabulary import INSUFFICIENT_DATA


def ranked(served: ServedVersion, year: int) -> list[tuple[int, int | None]]:
    """(row, rank) for a year: rank 1… for the ranked rows, None for the insufficient-data rows after them."""
    rows = served.year(year)
    kept = [i for i in rows if served.items[i]["band"] != INSUFFICIENT_DATA]
    apart = [i for i in rows if served.items[i]["band"] == INSUFFICIENT_DATA]
    return [(i, n) for n, i in enumerate(kept, start=1)] + [(i, None) for i in apart]
