"""The one way nexus reaches MLflow: offline-safe settings, then the configured store."""

from __future__ import annotations

import os


def mlflow_at(tracking_uri: str):
    """The mlflow module pointed at `tracking_uri`, with telemetry and progress bars off.

    MLflow 3 contacts an external host for telemetry unless told not to (see STACK.md §2c);
    this machine and CI are offline.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow
