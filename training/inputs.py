"""scikit-learn's input checks for our estimators, which select their columns by name.

The risk model and the baselines read named panel columns (a frame may carry more), so an
array is given positional names (`x0`, `x1`, …) as scikit-learn's own column selectors do.
NaN is allowed — a missing value is information here — but inf, an empty X, a mismatched
width, sparse input and a target that is not 0/1 are refused with scikit-learn's errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d


def positional_names(n: int) -> list[str]:
    return [f"x{i}" for i in range(n)]


def named_frame(X, names: list[str] | None = None, owner: str = "the estimator") -> pd.DataFrame:
    """X as a frame with string column names: an array's columns are `names` (default x0, x1, …)."""
    if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
        return X
    else:  # an array, or a frame without string column names (scikit-learn's rule for feature names)
        array = check_array(X, ensure_all_finite="allow-nan", dtype=np.float64, ensure_min_samples=0)
        width = len(names) if names is not None else array.shape[1]
        if array.shape[1] != width:
            raise ValueError(f"X has {array.shape[1]} features, but {owner} is expecting {width} "
                             "features as input")
        return pd.DataFrame(array, columns=names if names is not None else positional_names(width))


def checked_frame(X, names: list[str] | None = None, owner: str = "the estimator") -> pd.DataFrame:
    """X as a frame whose `names` columns (default: all) passed check_array (NaN allowed)."""
    frame = named_frame(X, names, owner)
    checked = list(frame.columns) if names is None else [n for n in names if n in frame.columns]
    if checked:
        check_array(frame[checked], ensure_all_finite="allow-nan", dtype=None, ensure_min_samples=0)
    return frame


def checked_target(X, y, owner: str = "the estimator") -> tuple[np.ndarray, np.ndarray]:
    """(classes_, y as 0/1 floats): two labels, the second the positive one (1 = listed next year).

    Refuses a missing y, NaN/inf, a continuous or multiclass target and a length unlike X's.
    """
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None")
    if len(X) == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True), warn=True)
    check_classification_targets(y)
    if len(y) != len(X):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(X)}, {len(y)}]")
    classes = np.unique(y)
    if len(classes) > 2:
        raise ValueError(f"Only binary classification is supported. The type of the target is {type_of_target(y)}.")
    if len(classes) == 1:  # one label seen: keep the 0/1 meaning when it is one of them
        classes = np.array([0, 1]) if classes[0] in (0, 1) else classes
    return classes, (y == classes[-1]).astype(float)


def column(frame: pd.DataFrame, key: str | int) -> pd.Series:
    """A named column, or for an integer key (an array's X) the column at that position."""
    if isinstance(key, str) and key in frame.columns:
        return frame[key]
    if isinstance(key, int):
        return frame.iloc[:, key]
    raise KeyError(f"column {key!r} is not in X (columns: {', '.join(map(str, frame.columns[:8]))}, …)")
