"""`nexus run` end to end in a temp folder, as a user runs it: real files, real MLflow SQLite store."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_nexus_run_from_an_empty_folder(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    result = subprocess.run([sys.executable, "-c", "from nexus.cli import cli; cli()", "run"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "mlflow ui --backend-store-uri sqlite:///" in out
    scores_line = next(line for line in out.splitlines() if line.startswith("scores:"))
    scores_csv = tmp_path / scores_line.split()[1]  # printed relative to the run's folder, not ours
    scores = pd.read_csv(scores_csv)
    assert scores["iso3"].str.fullmatch(r"X[A-Z]{2}").all()
    assert scores["probability"].between(0, 1).all()
    assert list(tmp_path.glob("artifacts/score/*/waterfall_*.png"))
    assert (tmp_path / "mlflow.db").exists()

    from nexus.tracking import mlflow_at

    # runs and registry both: an earlier test in this process may have left the registry elsewhere
    mlflow = mlflow_at(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("nexus-risk-xgb", "champion")
    assert champion.tags["nexus.panel_sha256"] == scores["panel_sha256"].iloc[0]
    runs = mlflow.search_runs(experiment_names=["nexus-risk"])
    assert len(runs) >= 1 + 4 + 8  # parent, one per model, one per origin

    again = subprocess.run([sys.executable, "-c", "from nexus.cli import cli; cli()", "run"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "features: up to date" in again.stdout and "train: up to date" in again.stdout
