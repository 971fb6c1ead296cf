"""Small, real training settings for the tests of tuning, calibration and promotion.

Few trees, five scored origins and a short bootstrap keep each backtest around a second on a
shared 2-core machine; everything else (world, panel, MLflow store) is the real thing.
"""

from __future__ import annotations

import pytest

SMALL = {"training.xgb.n_estimators": 40, "training.xgb.n_jobs": 1,
         "training.backtest.first_origin": 2019, "training.backtest.last_origin": 2023,
         "training.calibration.warmup_origins": 2, "training.bootstrap.n_resamples": 100,
         "tuning.pruner.n_startup_trials": 2, "tuning.pruner.n_warmup_steps": 1,
         "tuning.search": {"n_estimators": {"type": "int", "low": 5, "high": 30, "log": False},
                           "max_depth": {"type": "int", "low": 1, "high": 4, "log": False},
                           "learning_rate": {"type": "float", "low": 0.05, "high": 0.3, "log": True}}}


@pytest.fixture(scope="session")
def small_overrides() -> dict:
    return SMALL


@pytest.fixture(scope="session")
def small_params(make_params, world_dir):
    """`small_params(root, {overrides})` → (Params, paths) on the session's world with SMALL settings."""

    def make(root, overrides=None):
        params, paths = make_params(root, {"paths.raw": str(world_dir),
                                           "paths.optuna_storage": f"sqlite:///{root / 'optuna.db'}",
                                           **SMALL, **(overrides or {})})
        return params, paths

    return make


@pytest.fixture(scope="session")
def small_features(small_params, tmp_path_factory):
    """The default panel, built once for the session under its own root."""
    from features.panel import build_features

    root = tmp_path_factory.mktemp("small")
    params, paths = small_params(root)
    return build_features(params.features, paths.raw, paths.artifacts)
