"""Optuna tuning of training.xgb, judged on the backtest's own development origins.

A trial runs the same `backtest` the leaderboard reads (warm-up, calibration and all) with
`development_only=True`: the holdout origins are not even fitted, so no trial can read them.
Its value is the mean over development origins of `tuning.metric` on the calibrated
forecasts, never a training-set score. After each origin the running mean of the raw
forecasts' metric is reported, so the median pruner can stop a hopeless trial between origins. The study lives in any SQLAlchemy storage (SQLite by default, or
PostgreSQL for several machines) and remembers what it optimises (`nexus.objective`): a
study made for another objective is refused, never extended. `--trials N` is the number of
finished trials the study should hold, so a rerun after a crash completes the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nexus.config import Params, PathsParams, TrainingParams, XGBParams
from nexus.errors import ConfigError, NexusError
from nexus.manifest import atomic_write_text

OBJECTIVE_ATTR = "nexus.objective"
PARENT_ATTR = "nexus.mlflow_parent_run_id"
BEST_FILE = "best_params.yaml"


@dataclass(frozen=True)
class TuneResult:
    study_name: str
    storage: str                 # password hidden
    finished: int
    best_trial: int | None
    best_value: float | None
    best_overrides: dict
    best_file: Path | None
    parent_run_id: str


def masked(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not parseable: show nothing secret
        return url.split("@")[-1]


def objective_fingerprint(params: Params, features_key: str) -> dict:
    """Everything that decides what a trial's value means (the search space may widen freely)."""
    tp = params.training
    fixed = {k: v for k, v in tp.xgb.model_dump().items() if k not in params.tuning.search and k != "n_jobs"}
    from training.metrics import HIGHER_IS_BETTER

    return {"metric": params.tuning.metric,
            "direction": "maximize" if HIGHER_IS_BETTER[params.tuning.metric] else "minimize",
            "target": tp.target, "horizon_years": tp.horizon_years,
            "origins": [tp.backtest.first_origin, tp.backtest.holdout_first_origin - 1],  # development only
            "calibration": [tp.calibration.method, tp.calibration.warmup_origins],
            "features": {"key": features_key, "exclude": sorted(tp.exclude_features),
                         "label_history": tp.include_label_history,
                         "independent_only": tp.independent_sources_only},
            "fixed_xgb": fixed, "seed": params.seed}


def open_storage(url: str):
    """An RDB storage with heartbeats, so a killed worker's trial is failed and retried, not left hanging."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=30, grace_period=120,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
    except Exception as exc:  # noqa: BLE001 - driver missing, host down, bad path: all "cannot reach"
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise NexusError(f"cannot reach the study storage {masked(url)}: {first}; nothing was written") \
            from None


def open_study(url: str, name: str, fingerprint: dict, pruner: dict, *, create: bool = True):
    """Create the study (once, before any worker starts) or load it after checking its objective."""
    import optuna

    storage = open_storage(url)
    pruner_obj = optuna.pruners.MedianPruner(**pruner)
    if name not in optuna.study.get_all_study_names(storage=storage):
        if not create:
            raise NexusError(f"no study {name!r} in {masked(url)}")
        try:
            study = optuna.create_study(study_name=name, storage=storage, direction=fingerprint["direction"],
                                        pruner=pruner_obj)
            study.set_user_attr(OBJECTIVE_ATTR, fingerprint)
            return study
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another machine created it a moment ago: check it like any existing study
    study = optuna.load_study(study_name=name, storage=storage, pruner=pruner_obj)
    theirs = study.user_attrs.get(OBJECTIVE_ATTR)
    if theirs != json.loads(json.dumps(fingerprint)):
        diff = _differences(theirs or {}, fingerprint)
        raise NexusError(f"study {name!r} in {masked(url)} belongs to another objective ({diff}); its "
                         f"{len(study.trials)} trials are untouched: choose another --study name")
    return study


def _differences(theirs: dict, ours: dict) -> str:
    if not theirs:
        return "it was not created by nexus tune"
    keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != json.loads(json.dumps(ours.get(k))))
    return "; ".join(f"{k}: study has {theirs.get(k)!r}, this run has {ours.get(k)!r}" for k in keys)


def finished_trials(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def suggest(trial, search: dict) -> dict:
    return {name: trial.suggest_int(name, int(d.low), int(d.high), log=d.log) if d.type == "int"
            else trial.suggest_float(name, d.low, d.high, log=d.log) for name, d in search.items()}


def check_search_space(params: Params) -> None:
    """Both ends of every dimension must be valid xgb settings, before a single trial runs."""
    from pydantic import ValidationError

    for end in ("low", "high"):
        values = {k: (int(getattr(d, end)) if d.type == "int" else getattr(d, end))
                  for k, d in params.tuning.search.items()}
        try:
            XGBParams.model_validate(params.training.xgb.model_dump() | values)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError("params", f"tuning.search.{err['loc'][0]}.{end}", err["msg"]) from None


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
        trial.set_user_attr("pid", os.getpid())
        run = _child_run(self.paths, p, self.parent, trial.number, suggested)
        scores: list[float] = []

        def on_origin(origin: int, rows) -> None:
            scores.append(score_metrics(rows["y"], rows["p"], rows["origin"], k)[metric])
            running = float(np.mean(scores))
            trial.report(running, step=len(scores) - 1)
            _log(self.paths, run, {f"origin_{metric}": scores[-1], f"running_mean_{metric}": running},
                 step=origin)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after origin {origin} (running mean {running:.4f})")

        try:
            bt = backtest(self.frame, self.target, self.features, tp, p.seed, xgb_only=True,
                          development_only=True, on_origin=on_origin)
        except optuna.TrialPruned:
            _end(self.paths, run, "KILLED", {"nexus.pruned": "true"})
            raise
        except BaseException:
            _end(self.paths, run, "FAILED", {})
            raise
        calibrated = bt.development
        value = float(np.mean([score_metrics(g["y"], g["p"], g["origin"], k)[metric]
                               for _, g in calibrated.groupby("origin")]))
        _log(self.paths, run, {f"backtest_mean_{metric}": value})
        _end(self.paths, run, "FINISHED", {})
        return value


def _client(paths: PathsParams):
    from training.runs import client

    return client(paths)


def _quietly(fn, *args, **kwargs):
    """MLflow bookkeeping never costs a trial: the value lives in the study either way."""
    for attempt in range(3):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - e.g. a locked SQLite tracking store under several workers
            if attempt == 2:
                return None
            import time

            time.sleep(0.5 * (attempt + 1))


def _child_run(paths: PathsParams, params: Params, parent: str, number: int, suggested: dict) -> str | None:
    c = _client(paths)
    exp = c.get_run(parent).info.experiment_id
    run = _quietly(c.create_run, exp, run_name=f"trial {number}",
                   tags={"mlflow.parentRunId": parent, "nexus.stage": "tune-trial",
                         "nexus.trial": str(number)})
    if run is None:
        return None
    _quietly(c.log_batch, run.info.run_id,
             params=[_param(f"training.xgb.{k}", v) for k, v in suggested.items()])
    return run.info.run_id


def _param(key, value):
    from mlflow.entities import Param

    return Param(key, str(value))


def _log(paths: PathsParams, run: str | None, metrics: dict, step: int = 0) -> None:
    if run is None:
        return
    c = _client(paths)
    for k, v in metrics.items():
        _quietly(c.log_metric, run, k, v, step=step)


def _end(paths: PathsParams, run: str | None, status: str, tags: dict) -> None:
    if run is None:
        return
    c = _client(paths)
    for k, v in tags.items():
        _quietly(c.set_tag, run, k, v)
    _quietly(c.set_terminated, run, status)


def _parent_run(study, params: Params, paths: PathsParams, url: str) -> str:
    """The MLflow run every trial of this study nests under (kept in the study, so resumes reuse it)."""
    import hashlib

    from training.train import _mlflow

    # one parent per tracking store: machines sharing a study may log to different MLflow stores
    attr = f"{PARENT_ATTR}:{hashlib.sha256(paths.tracking_uri.encode()).hexdigest()[:12]}"
    run_id = study.user_attrs.get(attr)
    c = _client(paths)
    if run_id:
        try:
            c.update_run(run_id, status="RUNNING")
            return run_id
        except Exception:  # noqa: BLE001 - the run was deleted: start a new parent
            pass
    mlflow = _mlflow(paths, params.training.experiment_name)
    exp = mlflow.get_experiment_by_name(params.training.experiment_name)
    run = c.create_run(exp.experiment_id, run_name=f"tune {study.study_name}",
                       tags={"nexus.stage": "tune", "nexus.study": study.study_name,
                             "nexus.storage": masked(url),
                             "nexus.objective": json.dumps(study.user_attrs.get(OBJECTIVE_ATTR))[:4000]})
    study.set_user_attr(attr, run.info.run_id)
    return run.info.run_id


def _load(url: str, name: str, params: Params):
    import optuna

    return optuna.load_study(study_name=name, storage=open_storage(url),
                             pruner=optuna.pruners.MedianPruner(**params.tuning.pruner.model_dump()))


def _stderr(msg: str) -> None:
    import sys

    print(f"  · {msg}", file=sys.stderr, flush=True)


def run_worker(params_json: dict, paths_json: dict, features_dir: str, url: str, study_name: str,
               n_trials: int, total: int, parent: str, n_jobs: int | None = None,
               progress: Callable[[str], None] = _stderr):
    """Run up to n_trials on an existing study, stopping once it holds `total` finished trials."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params, paths = Params.model_validate(params_json), PathsParams.model_validate(paths_json)
    study = _load(url, study_name, params)
    objective = Objective(params, paths, Path(features_dir), parent, n_jobs)

    def report(study, trial):
        if trial.state == TrialState.PRUNED:
            value = "pruned"
        else:
            value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        progress(f"trial {trial.number}: {params.tuning.metric} {value} (pid {os.getpid()})")

    study.optimize(objective, n_trials=n_trials, callbacks=[
        MaxTrialsCallback(total, states=(TrialState.COMPLETE, TrialState.PRUNED)), report])


def tune(params: Params, paths: PathsParams, features, *, n_trials: int | None = None,
         storage: str | None = None, study_name: str | None = None, workers: int = 1,
         progress: Callable[[str], None] = _stderr) -> TuneResult:
    """Bring the study to `n_trials` finished trials with `workers` processes; write the best overrides."""
    import multiprocessing

    check_search_space(params)
    url = storage or paths.optuna_storage
    name = study_name or params.tuning.study_name
    total = n_trials or params.tuning.n_trials
    fingerprint = objective_fingerprint(params, features.manifest.key)
    study = open_study(url, name, fingerprint, params.tuning.pruner.model_dump())  # before any worker starts
    parent = _parent_run(study, params, paths, url)
    remaining = max(0, total - finished_trials(study))
    progress(f"study {name!r} in {masked(url)}: {finished_trials(study)} finished, {remaining} to run, "
             f"{workers} worker(s); objective: mean {params.tuning.metric} over origins "
             f"{params.training.backtest.first_origin}–{params.training.backtest.last_origin}")
    args = (params.model_dump(mode="json"), paths.model_dump(mode="json"), str(features.directory), url, name)
    if remaining and workers <= 1:
        run_worker(*args, remaining, total, parent, None, progress)
    elif remaining:
        shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
        n_jobs = max(1, params.training.xgb.n_jobs // workers)
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=run_worker, args=(*args, share, total, parent, n_jobs))
                 for share in shares if share]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        failed = [f"pid {p.pid} exit {p.exitcode}" for p in procs if p.exitcode != 0]
        if failed:
            raise NexusError(f"tuning worker(s) failed ({', '.join(failed)}); finished trials are kept "
                             "in the study: rerun the same command to complete it")
    return _finish(_load(url, name, params), params, paths, url, parent)


def _finish(study, params: Params, paths: PathsParams, url: str, parent: str) -> TuneResult:
    """Write the best trial's settings as an override file and close the parent run."""
    import yaml
    from optuna.trial import TrialState

    done = finished_trials(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    c = _client(paths)
    if not complete:
        _quietly(c.set_terminated, parent, "FINISHED")
        return TuneResult(study.study_name, masked(url), done, None, None, {}, None, parent)
    best = study.best_trial
    overrides = {f"training.xgb.{k}": v for k, v in best.params.items()}
    metric = params.tuning.metric
    doc = {"description": f"Best trial of study {study.study_name}: mean backtest {metric} {best.value:.4f} "
                          f"(trial {best.number} of {done} finished)",
           "study": study.study_name, "storage": masked(url), "trial": best.number, "metric": metric,
           "value": float(best.value), "finished_trials": done, "overrides": overrides}
    path = Path(paths.artifacts) / "tune" / study.study_name / BEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "# written by nexus tune; an experiment file uses it with\n"
                            f"#   overrides_from: {path}\n" + yaml.safe_dump(doc, sort_keys=False))
    _quietly(c.log_metric, parent, f"best_mean_{metric}", float(best.value))
    _quietly(c.set_tag, parent, "nexus.best_trial", str(best.number))
    _quietly(c.set_tag, parent, "nexus.best_overrides", json.dumps(overrides))
    _quietly(c.log_artifact, parent, str(path))
    _quietly(c.set_terminated, parent, "FINISHED")
    return TuneResult(study.study_name, masked(url), done, best.number, float(best.value), overrides, path,
                      parent)
