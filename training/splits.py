"""Rolling-origin backtest splits by year, with the scikit-learn splitter interface.

For origin T: train on rows whose target year t + h <= T (outcomes known by T), test on
rows with t == T (scored at T, judged when T + h is published). Every origin is a
forecast made with only what was known then.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class RollingOriginByYear:
    """Yield (train_idx, test_idx) for each origin in [first_origin, last_origin]."""

    def __init__(self, first_origin: int, last_origin: int, horizon_years: int = 1):
        self.first_origin = first_origin
        self.last_origin = last_origin
        self.horizon_years = horizon_years

    def origins(self) -> list[int]:
        return list(range(self.first_origin, self.last_origin + 1))

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(self.origins())

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if groups is None:
            raise ValueError("RollingOriginByYear.split needs groups= the feature year of each row")
        years = np.asarray(groups)
        for origin in self.origins():
            train = np.flatnonzero(years + self.horizon_years <= origin)
            test = np.flatnonzero(years == origin)
            if len(train) and len(test):
                yield train, test
