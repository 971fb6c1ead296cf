"""kill -9 at each stage, then run the same command again: it completes, and nothing is left behind.

The matrix (world and tune have their own tests: tests/features/synthetic and
tests/training/test_kills_and_concurrency.py): a SIGKILL to `nexus features` while the OCDS
red flags build on worker processes, to `nexus train` while its run is RUNNING, to `nexus
score` while it scores. Afterwards no worker outlives its parent, no scratch folder of the
killed process stays in the temp folder, and no MLflow run stays RUNNING.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nexus.processes import alive

REPO = Path(__file__).resolve().parents[1]
NEXUS = [sys.executable, "-c", "from nexus.cli import cli; cli()"]
CHEAP = {"training.xgb.max_depth": 1, "training.xgb.n_estimators": 5, "training.bootstrap.n_resamples": 20}


def _command(sets: dict, *args: str) -> list[str]:
    cmd = [*NEXUS, "--params", str(REPO / "params.yaml")]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return [*cmd, *args]


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """The command in the background, its progress lines (stderr) going to `log`."""
    with open(log, "w") as err:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)


def _kill_when(proc: subprocess.Popen, ready, what: str, log: Path, timeout: float = 300) -> list[int]:
    """SIGKILL `proc` alone once `ready()` holds; return the processes it had started."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the command ended before {what}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)
    started = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return started


def _outlived(pids: list[int], grace: float = 10) -> list[int]:
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in pids if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    return left


@pytest.fixture
def env(tmp_path):
    """A temp folder of the test's own, so the scratch folders of exactly these commands are seen."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return os.environ | {"TMPDIR": str(scratch), "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_a_features_build_killed_on_its_workers_leaves_no_process_or_scratch(world_dir, tmp_path, env):
    sets = {"paths.raw": str(world_dir), "paths.artifacts": str(tmp_path / "artifacts")}
    log = tmp_path / "features.log"
    proc = _start(_command({**sets, "features.ocds_engine": "python"}, "features"), env, log)
    scratch = Path(env["TMPDIR"])
    workers = _kill_when(proc, lambda: len(_descendants(proc.pid)) >= 2 and any(scratch.glob("nexus-ocds-*")),
                         "the OCDS workers and their spill folder", log)
    assert workers
    assert not _outlived(workers), "OCDS workers outlived the killed build"
    assert [p.name for p in scratch.glob("nexus-ocds-*")] != []   # what the kill left

    again = subprocess.run(_command(sets, "features"), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "features: built" in again.stdout, again.stderr[-2000:]
    assert not list(scratch.glob("nexus-ocds-*")), "the next start did not remove the killed build's scratch"


@pytest.mark.slow
def test_train_and_score_killed_midway_rerun_to_completion_with_nothing_running(small_features, small_overrides,
                                                                                world_dir, tmp_path, env):
    import mlflow

    artifacts = tmp_path / "artifacts"
    shutil.copytree(small_features.directory.parent, artifacts / "features")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sets = {"paths.raw": str(world_dir), "paths.artifacts": str(artifacts), "paths.tracking_uri": uri,
            **small_overrides, **CHEAP}
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)

    def running() -> bool:
        try:
            experiment = client.get_experiment_by_name("nexus-risk")
            return bool(experiment and client.search_runs([experiment.experiment_id],
                                                          "attributes.status = 'RUNNING'"))
        except Exception:  # noqa: BLE001 - the store is still being created
            return False

    log = tmp_path / "train.log"
    proc = _start(_command(sets, "train"), env, log)
    assert not _outlived(_kill_when(proc, running, "a RUNNING training run", log))
    trained = subprocess.run(_command(sets, "train"), env=env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0 and "train: trained" in trained.stdout, trained.stderr[-2000:]
    assert not running(), "the killed train's run is still RUNNING"
    version = trained.stdout.split(" version ", 1)[1].split()[0]   # tiny models are not promoted: name it

    log = tmp_path / "score.log"
    proc = _start(_command(sets, "score", "--version", version), env, log)
    assert not _outlived(_kill_when(proc, lambda: "scoring " in log.read_text(), "scoring under way", log))
    scored = subprocess.run(_command(sets, "score", "--version", version), env=env, capture_output=True,
                            text=True, timeout=600)
    assert scored.returncode == 0 and "score: built" in scored.stdout, scored.stderr[-2000:]
    assert not list(Path(env["TMPDIR"]).glob("nexus-*"))
