"""Optuna tuning of training.xgb, judged on the backtest's own development origins.

`tune` brings a study to `--trials N` finished trials with one or several worker processes
and writes the best trial's settings as an override file an experiment can use. The jobs
around it live beside it: the search space (training/tune_space.py), a trial's value
(training/tune_objective.py), the study storage and its resume (training/tune_study.py) and
the MLflow parent and child runs (training/tune_log.py). The study lives in any SQLAlchemy
storage (SQLite by default, or PostgreSQL for several machines); `--trials N` is the number of
finished trials the study should hold, so a rerun after a crash completes the rest.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nexus.config import Params, PathsParams
from nexus.errors import NexusError
from nexus.manifest import atomic_write_text
from nexus.processes import die_with_parent, exit_when_orphaned
from training.tune_log import close_parent, parent_run
from training.tune_objective import Objective, objective_fingerprint
from training.tune_space import check_search_space
from training.tune_study import (
    fail_dead_trials,
    finished_trials,
    load_study,
    masked,
    open_study,
    pruner_settings,
)

BEST_FILE = "best_params.yaml"
HARD_EXIT_SECONDS = 3.0  # a killed tune's worker ends within this, clean or not


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


def _stderr(msg: str) -> None:
    print(f"  · {msg}", file=sys.stderr, flush=True)


def run_worker(params_json: dict, paths_json: dict, features_dir: str, url: str, study_name: str,
               n_trials: int, total: int, parent: str, n_jobs: int | None = None,
               progress: Callable[[str], None] = _stderr):
    """Run up to n_trials on an existing study, stopping once it holds `total` finished trials."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params, paths = Params.model_validate(params_json), PathsParams.model_validate(paths_json)
    study = load_study(url, study_name, pruner_settings(params))
    objective = Objective(params, paths, Path(features_dir), parent, n_jobs)

    def report(study, trial):
        if trial.state == TrialState.PRUNED:
            value = "pruned"
        else:
            value = f"{trial.value:.4f}" if trial.value is not None else trial.state.name.lower()
        progress(f"trial {trial.number}: {params.tuning.metric} {value} (pid {os.getpid()})")

    study.optimize(objective, n_trials=n_trials, callbacks=[
        MaxTrialsCallback(total, states=(TrialState.COMPLETE, TrialState.PRUNED)), report])


def _spawned_worker(parent_pid: int, *args) -> None:
    """A worker process's entry: it dies with the tune process, and a SIGTERM fails its trial cleanly.

    On Linux the kernel sends SIGTERM when the parent dies (even by SIGKILL); the handler turns
    it into KeyboardInterrupt, which Optuna records as a FAIL and the trial's run as FAILED. If
    that clean path has not ended the process within HARD_EXIT_SECONDS (a `finally` waiting on a
    store, code that swallows the interrupt), it exits anyway: the next start fails the trial.
    """
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}: the tune process is gone")

    signal.signal(signal.SIGTERM, stop)
    die_with_parent()
    exit_when_orphaned(parent_pid, HARD_EXIT_SECONDS)
    if os.getppid() != parent_pid:   # the parent died before the line above took effect
        sys.exit(143)
    try:
        run_worker(*args)
    except KeyboardInterrupt:
        sys.exit(143)


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
    study = open_study(url, name, fingerprint, pruner_settings(params))  # before any worker starts
    dead = fail_dead_trials(study)
    if dead:
        progress(f"trial(s) {', '.join(map(str, dead))} of a killed worker failed and queued again")
    parent = parent_run(study, params, paths, url)
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
        procs = [ctx.Process(target=_spawned_worker, args=(os.getpid(), *args, share, total, parent, n_jobs))
                 for share in shares if share]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        failed = [f"pid {p.pid} exit {p.exitcode}" for p in procs if p.exitcode != 0]
        if failed:
            raise NexusError(f"tuning worker(s) failed ({', '.join(failed)}); finished trials are kept "
                             "in the study: rerun the same command to complete it")
    study = load_study(url, name, pruner_settings(params))
    return _finish(study, params, paths, url, parent)


def _finish(study, params: Params, paths: PathsParams, url: str, parent: str) -> TuneResult:
    """Write the best trial's settings as an override file and close the parent run."""
    import yaml
    from optuna.trial import TrialState

    done = finished_trials(study)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        close_parent(paths, parent)
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
    close_parent(paths, parent, best={f"best_mean_{metric}": float(best.value)},
                 tags={"nexus.best_trial": str(best.number), "nexus.best_overrides": json.dumps(overrides)},
                 artifact=path)
    return TuneResult(study.study_name, masked(url), done, best.number, float(best.value), overrides, path,
                      parent)
