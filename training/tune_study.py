"""The Optuna study: any SQLAlchemy storage, created once, resumed, and refused for another objective.

The study remembers what it optimises (`nexus.objective`, see training/tune_objective.py): a
study made for another objective is refused, never extended; its objective is named for
optuna-dashboard (`metric_name`), and its pruner counts steps in origin years, the step every
trial reports at (training/tune_objective.py). A killed worker's trial is failed
and retried once: at once by the next run when the worker was on this host and is gone
(`fail_dead_trials`), or by the storage's heartbeat after its grace period otherwise (another
machine's worker), so a rerun after a crash completes the rest and leaves nothing RUNNING.
"""

from __future__ import annotations

import json

from nexus.errors import NexusError
from nexus.tracking import masked

OBJECTIVE_ATTR = "nexus.objective"
HEARTBEAT_S, GRACE_S = 30, 120      # a trial whose heartbeat is 2 minutes old is stale


def open_storage(url: str):
    """An RDB storage with heartbeats, so a killed worker's trial is failed and retried, not left hanging."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=_retry_once())
    except Exception as exc:  # noqa: BLE001 - driver missing, host down, bad path: all "cannot reach"
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise NexusError(f"cannot reach the study storage {masked(url)}: {first}; nothing was written") \
            from None


def metric_name(fingerprint: dict) -> str | None:
    """The objective as optuna-dashboard and `trials_dataframe` name it (not "Objective 0")."""
    if "metric" not in fingerprint:
        return None
    first, last = fingerprint.get("origins", ["?", "?"])
    return f"mean {fingerprint['metric']} over development origins {first}–{last}"


def pruner_settings(params) -> dict:
    """MedianPruner settings with `n_warmup_steps` moved onto the origin-year steps trials report at."""
    pruner = params.tuning.pruner.model_dump()
    return pruner | {"n_warmup_steps": params.training.backtest.first_origin + pruner["n_warmup_steps"]}


def _name_objective(study, fingerprint: dict) -> None:
    import warnings

    import optuna

    name = metric_name(fingerprint)
    if name and study.metric_names != [name]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([name])


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
            _name_objective(study, fingerprint)
            return study
        except optuna.exceptions.DuplicatedStudyError:
            pass  # another machine created it a moment ago: check it like any existing study
    study = optuna.load_study(study_name=name, storage=storage, pruner=pruner_obj)
    theirs = study.user_attrs.get(OBJECTIVE_ATTR)
    if theirs != json.loads(json.dumps(fingerprint)):
        diff = _differences(theirs or {}, fingerprint)
        raise NexusError(f"study {name!r} in {masked(url)} belongs to another objective ({diff}); its "
                         f"{len(study.trials)} trials are untouched: choose another --study name")
    _name_objective(study, fingerprint)   # a study made before nexus named its objective
    return study


def _retry_once():
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)


def fail_dead_trials(study) -> list[int]:
    """Fail (and retry once) the RUNNING trials whose worker is gone; stale ones by heartbeat too.

    A trial's worker is known from its `host` and `pid` user attributes: one on this host whose
    process no longer exists is failed now; one on another host only once its heartbeat is stale.
    """
    import warnings

    import optuna
    from optuna.trial import TrialState

    from nexus.tracking import process_gone

    failed = []
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not process_gone(trial.user_attrs.get("host"), trial.user_attrs.get("pid")):
            continue
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
                _retry_once()(study, storage.get_trial(trial._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another process failed it a moment ago
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return failed


def load_study(url: str, name: str, pruner: dict):
    """An existing study, as a worker opens it (already checked by `open_study`)."""
    import optuna

    return optuna.load_study(study_name=name, storage=open_storage(url),
                             pruner=optuna.pruners.MedianPruner(**pruner))


def _differences(theirs: dict, ours: dict) -> str:
    if not theirs:
        return "it was not created by nexus tune"
    keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != json.loads(json.dumps(ours.get(k))))
    return "; ".join(f"{k}: study has {theirs.get(k)!r}, this run has {ours.get(k)!r}" for k in keys)


def finished_trials(study) -> int:
    """Trials that count towards `--trials N`: complete or pruned (failed ones are retried)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
