"""Scratch folders carry their owner's pid; only those of processes that are gone are removed."""

import os
import subprocess
import sys

from nexus.processes import alive, owned_temp_dir, remove_orphaned_temp_dirs


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_folders_of_dead_owners_are_removed(tmp_path):
    dead = tmp_path / f"nexus-ocds-{_dead_pid()}-abc"
    live = tmp_path / f"nexus-ocds-{os.getppid()}-def"
    mine = tmp_path / f"nexus-ocds-{os.getpid()}-ghi"
    unnamed = tmp_path / "nexus-ocds-q1w2e3"   # an older folder without a pid: not ours to judge
    for folder in (dead, live, mine, unnamed):
        folder.mkdir()
        (folder / "part.parquet").write_bytes(b"x")
    assert remove_orphaned_temp_dirs("nexus-ocds-", str(tmp_path)) == [dead]
    assert not dead.exists() and live.exists() and mine.exists() and unnamed.exists()


def test_an_owned_folder_is_named_by_its_owner_and_removed_on_exit(tmp_path):
    with owned_temp_dir("nexus-x-", str(tmp_path)) as folder:
        assert os.path.basename(folder).startswith(f"nexus-x-{os.getpid()}-")
    assert not os.path.exists(folder)


def test_a_zombie_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:   # exited but not yet reaped: a zombie
        with open(f"/proc/{child.pid}/stat") as f:
            if f.read().split()[2] == "Z":
                break
    assert not alive(child.pid) and alive(os.getpid())
    child.wait()


def test_an_orphan_that_ignores_sigterm_still_exits_after_the_grace(tmp_path):
    """The tune workers' backstop: a worker whose SIGTERM handler never ends it is gone anyway."""
    import signal
    import time

    pid_file = tmp_path / "grandchild.pid"
    grandchild = (
        "import os, signal, time\n"
        "from nexus.processes import exit_when_orphaned\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"exit_when_orphaned(os.getppid(), 0.5, poll_seconds=0.1)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
                               "time.sleep(60)\n"])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the grandchild never started"
            time.sleep(0.1)
        orphan = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(orphan), "the orphan outlived its grace"
    finally:
        parent.kill()
