"""Tuning in MLflow: one parent run per study and tracking store, one child run per trial.

Logged with the MLflow client by run id, not the fluent API: workers are separate processes
with no active run, and each trial names its parent explicitly. Bookkeeping never costs a
trial: every call is retried (a SQLite tracking store shared by several workers can be locked
for a moment) and then given up, since the trial's value lives in the study either way.

optuna_integration's MLflowCallback (5.0.0; not installed here) does not do this job: it is
deprecated (slated for removal in 6.0), logs once a trial has ended (no per-origin steps while
it runs), ends every run FINISHED (a pruned or failed trial is not KILLED or FAILED), logs bare
parameter names, and does not retry, so a locked store would raise out of `study.optimize`
and stop the worker.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from nexus import tracking
from nexus.config import Params, PathsParams
from training.tune_study import OBJECTIVE_ATTR, masked

PARENT_ATTR = "nexus.mlflow_parent_run_id"
ATTEMPTS = 3


def quietly(fn, *args, **kwargs):
    """fn(*args, **kwargs), retried twice after a short wait; None if it still fails."""
    for attempt in range(ATTEMPTS):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - e.g. a locked SQLite tracking store under several workers
            if attempt == ATTEMPTS - 1:
                return None
            time.sleep(0.5 * (attempt + 1))


@dataclass(frozen=True)
class TrialRun:
    """A trial's child run (run_id None when it could not be created: then nothing is logged)."""

    client: object
    run_id: str | None

    @classmethod
    def start(cls, paths: PathsParams, parent: str, number: int, suggested: dict) -> TrialRun:
        c = tracking.client(paths)
        experiment_id = c.get_run(parent).info.experiment_id
        run = quietly(c.create_run, experiment_id, run_name=f"trial {number}",
                      tags={"mlflow.parentRunId": parent, "nexus.stage": "tune-trial",
                            "nexus.trial": str(number), **tracking.owner_tags()})
        if run is None:
            return cls(c, None)
        from mlflow.entities import Param

        quietly(c.log_batch, run.info.run_id,
                params=[Param(f"training.xgb.{k}", str(v)) for k, v in suggested.items()])
        return cls(c, run.info.run_id)

    def log(self, metrics: dict[str, float], step: int = 0) -> None:
        if self.run_id is None:
            return
        for k, v in metrics.items():
            quietly(self.client.log_metric, self.run_id, k, v, step=step)

    def end(self, status: str, tags: dict[str, str] | None = None) -> None:
        """status: FINISHED, KILLED (pruned) or FAILED."""
        if self.run_id is None:
            return
        for k, v in (tags or {}).items():
            quietly(self.client.set_tag, self.run_id, k, v)
        quietly(self.client.set_terminated, self.run_id, status)


def parent_run(study, params: Params, paths: PathsParams, url: str) -> str:
    """The MLflow run every trial of this study nests under (kept in the study, so resumes reuse it)."""
    # one parent per tracking store: machines sharing a study may log to different MLflow stores
    attr = f"{PARENT_ATTR}:{hashlib.sha256(paths.tracking_uri.encode()).hexdigest()[:12]}"
    run_id = study.user_attrs.get(attr)
    c = tracking.client(paths)
    if run_id:
        try:
            c.update_run(run_id, status="RUNNING")
            for key, value in tracking.owner_tags().items():   # this process owns it now
                c.set_tag(run_id, key, value)
            return run_id
        except Exception:  # noqa: BLE001 - the run was deleted: start a new parent
            pass
    experiment_id = tracking.use_experiment(paths, params.training.experiment_name)
    run = c.create_run(experiment_id, run_name=f"tune {study.study_name}",
                       tags={"nexus.stage": "tune", "nexus.study": study.study_name,
                             "nexus.storage": masked(url), **tracking.owner_tags(),
                             "nexus.objective": json.dumps(study.user_attrs.get(OBJECTIVE_ATTR))[:4000]})
    study.set_user_attr(attr, run.info.run_id)
    return run.info.run_id


def close_parent(paths: PathsParams, parent: str, *, best: dict[str, float] | None = None,
                 tags: dict[str, str] | None = None, artifact: Path | None = None) -> None:
    """Log the best trial's value, tags and override file on the parent run, then mark it FINISHED."""
    c = tracking.client(paths)
    for k, v in (best or {}).items():
        quietly(c.log_metric, parent, k, v)
    for k, v in (tags or {}).items():
        quietly(c.set_tag, parent, k, v)
    if artifact is not None:
        quietly(c.log_artifact, parent, str(artifact))
    quietly(c.set_terminated, parent, "FINISHED")
