"""A DataFrame as a GitHub markdown table, for every page experiments write (the results page, the
leaderboard of `nexus compare`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def markdown_table(frame: pd.DataFrame, floats: str = "{:.3f}") -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [
            floats.format(v)
            if isinstance(v, float | np.floating) and np.isfinite(v)
            else ("–" if isinstance(v, float | np.floating) else str(v))
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
