"""Processes and scratch folders that end with their owner, even when the owner is killed.

A `kill -9` runs no cleanup: worker processes would live on and temporary folders would stay
on disk. Workers therefore ask the kernel to end them with their parent, and scratch folders
carry their owner's pid in their name, so the next start can tell abandoned ones from those
of a run still going and remove only the former.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's: alive
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this process when its parent exits (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no libc prctl: workers then end with their task instead


def exit_when_orphaned(parent_pid: int, grace_seconds: float, poll_seconds: float = 0.5) -> None:
    """Exit this process `grace_seconds` after `parent_pid` stops being its parent, whatever it is doing.

    The parent-death signal's handler may run late or never (the main thread blocked in C, a
    `finally` waiting on a store, code that swallows the interrupt); this daemon thread does not
    depend on it.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        time.sleep(grace_seconds)
        os._exit(143)

    threading.Thread(target=watch, name="exit-when-orphaned", daemon=True).start()


@contextlib.contextmanager
def owned_temp_dir(prefix: str, root: str | None = None) -> Iterator[str]:
    """A temporary folder named `<prefix><pid>-…`, removed on exit (and by the next start if killed)."""
    remove_orphaned_temp_dirs(prefix, root)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=root) as folder:
        yield folder


def remove_orphaned_temp_dirs(prefix: str, root: str | None = None) -> list[Path]:
    """Remove `<prefix><pid>-…` folders under `root` (default: the temp folder) whose process is gone."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = folder.name[len(prefix):].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
