"""Rolling-origin folds: training outcomes are all known at the origin; no row in both sides."""

import numpy as np
import pytest

from training.splits import RollingOriginByYear


@pytest.mark.parametrize("horizon", [1, 2])
def test_every_fold_trains_only_on_outcomes_known_at_origin(horizon):
    years = np.repeat(np.arange(2000, 2025), 7)
    splitter = RollingOriginByYear(2015, 2022, horizon)
    folds = list(splitter.split(np.zeros((len(years), 1)), groups=years))
    assert len(folds) == splitter.get_n_splits() == 8
    for origin, (train, test) in zip(splitter.origins(), folds, strict=True):
        assert (years[train] + horizon <= origin).all()
        assert (years[test] == origin).all()
        assert not set(train) & set(test)


def test_split_requires_years():
    with pytest.raises(ValueError, match="groups="):
        next(RollingOriginByYear(2015, 2016).split(np.zeros((3, 1))))
