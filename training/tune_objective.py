"""A trial's value: the backtest's own development origins, scored the way the leaderboard scores them.

A trial runs the same `backtest` the leaderboard reads (warm-up, calibration and all) with
`development_only=True`: the holdout origins are not even fitted, so no trial can read them.
Its value is the mean over development origins of `tuning.metric` on the calibrated
forecasts, never a training-set score. After each origin the running mean of the raw
forecasts' metric is reported with the origin year as its step, so the median pruner can stop
a hopeless trial between origins, comparing trials origin by origin, and optuna-dashboard's
x axis reads years. Each trial carries its MLflow run id (user attr `mlflow_run_id`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from nexus.config import Params, PathsParams, TrainingParams, XGBParams
from training.metrics import HIGHER_IS_BETTER
from training.tune_log import TrialRun
from training.tune_space import suggest

RUN_ATTR = "mlflow_run_id"


def objective_fingerprint(params: Params, features_key: str) -> dict:
    """Everything that decides what a trial's value means (the search space may widen freely)."""
    tp = params.training
    fixed = {k: v for k, v in tp.xgb.model_dump().items() if k not in params.tuning.search and k != "n_jobs"}
    return {"metric": params.tuning.metric,
            "direction": "maximize" if HIGHER_IS_BETTER[params.tuning.metric] else "minimize",
            "target": tp.target, "horizon_years": tp.horizon_years,
            "origins": [tp.backtest.first_origin, tp.backtest.holdout_first_origin - 1],  # development only
            "calibration": [tp.calibration.method, tp.calibration.warmup_origins],
            "features": {"key": features_key, "exclude": sorted(tp.exclude_features),
                         "label_history": tp.include_label_history,
                         "independent_only": tp.independent_sources_only},
            "fixed_xgb": fixed, "seed": params.seed}


class Objective:
    """One trial = one backtest with suggested xgb settings; each trial is an MLflow child run."""

    def __init__(self, params: Params, paths: PathsParams, features_dir: Path, parent_run_id: str,
                 n_jobs: int | None = None):
        from features.panel import load_panel
        from training.selection import select_features
        from training.train import labelled_rows

        self.params, self.paths, self.parent = params, paths, parent_run_id
        panel, catalog, _ = load_panel(features_dir)
        self.frame, self.target = labelled_rows(panel, params.training)
        self.features = select_features(catalog, params.training)
        self.n_jobs = n_jobs or params.training.xgb.n_jobs

    def __call__(self, trial) -> float:
        import optuna

        from training.backtest import backtest
        from training.metrics import score_metrics

        p, metric, k = self.params, self.params.tuning.metric, self.params.training.top_k
        suggested = suggest(trial, p.tuning.search)
        xgb = XGBParams.model_validate(p.training.xgb.model_dump() | suggested | {"n_jobs": self.n_jobs})
        tp: TrainingParams = p.training.model_copy(update={"xgb": xgb})
        trial.set_user_attr("pid", os.getpid())          # who runs it: a killed worker's trial is failed
        trial.set_user_attr("host", socket.gethostname())  # at once by the next run (tune_study.py)
        run = TrialRun.start(self.paths, self.parent, trial.number, suggested)
        if run.run_id is not None:
            trial.set_user_attr(RUN_ATTR, run.run_id)   # optuna-dashboard → the trial's MLflow run
        scores: list[float] = []

        def on_origin(origin: int, rows) -> None:
            scores.append(score_metrics(rows["y"], rows["p"], rows["origin"], k)[metric])
            running = float(np.mean(scores))
            trial.report(running, step=origin)
            run.log({f"origin_{metric}": scores[-1], f"running_mean_{metric}": running}, step=origin)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after origin {origin} (running mean {running:.4f})")

        try:
            bt = backtest(self.frame, self.target, self.features, tp, p.seed, xgb_only=True,
                          development_only=True, on_origin=on_origin)
        except optuna.TrialPruned:
            run.end("KILLED", {"nexus.pruned": "true"})
            raise
        except BaseException:
            run.end("FAILED")
            raise
        calibrated = bt.development
        value = float(np.mean([score_metrics(g["y"], g["p"], g["origin"], k)[metric]
                               for _, g in calibrated.groupby("origin")]))
        run.log({f"backtest_mean_{metric}": value})
        run.end("FINISHED")
        return value
