"""A kill while the world is written leaves nothing half-written behind (issue: kill during `nexus run`)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from features.synthetic.world import remove_abandoned_staging

NEXUS = [sys.executable, "-c", "from nexus.cli import cli; cli()"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_staging_folder_whose_writer_is_gone_is_removed(tmp_path):
    raw = tmp_path / "raw"
    leftover = tmp_path / f".raw.writing-{_dead_pid()}"
    (leftover / "rsf_wpfi").mkdir(parents=True)
    (leftover / "rsf_wpfi" / "rsf_2011.csv").write_text("half a file")
    live = tmp_path / f".raw.writing-{os.getppid()}"  # a writer that is still running keeps its folder
    live.mkdir()
    assert remove_abandoned_staging(raw) == [leftover]
    assert not leftover.exists() and live.exists()


@pytest.mark.slow
def test_kill_during_world_generation_then_run_again(tmp_path):
    (tmp_path / "params.yaml").write_text((__import__("pathlib").Path(__file__).parents[3] / "params.yaml")
                                          .read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    child = subprocess.Popen([*NEXUS, "world"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("data/.raw.writing-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # some files written, not all
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert not (tmp_path / "data" / "raw").exists(), "nothing half-written under paths.raw"
    again = subprocess.run([*NEXUS, "world"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "data" / "raw" / "planted_truth.json").exists()
    assert not list(tmp_path.glob("data/.raw.*")), "the killed writer's staging folder was removed"
