"""Run one contestant in its own process and measure it: wall time, peak memory, its own timing.

Each contestant runs in a fresh interpreter so that one's memory never counts against the
other's. Peak memory is taken two ways: the process's own high-water mark (`ru_maxrss`
from wait4) and the sampled sum over its process tree (worker pools and Dask workers
included), every 20 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


def run_measured(args: list[str], *, env: dict | None = None, cwd: Path | None = None, timeout: float = 3600) -> dict:
    """Run `python -m benchmarks.tasks *args`; return its JSON report plus wall, peak RSS and max RSS."""
    cmd = [sys.executable, "-m", "benchmarks.tasks", *args]
    return run_command(cmd, env=env, cwd=cwd, timeout=timeout, parse_json=True)


def run_command(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None, timeout: float = 3600,
                parse_json: bool = False) -> dict:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd or REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks, err_chunks = [], []
    readers = [threading.Thread(target=lambda s=s, c=c: c.append(s.read()), daemon=True)
               for s, c in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = "".join(out_chunks), "".join(err_chunks)
    result = {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)), "returncode": proc.returncode,
              "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,  # the process and its reaped children
              "peak_rss_mb": peak[0] / 2**20, "max_rss_mb": usage.ru_maxrss / 1024,
              "stdout": stdout[-4000:], "stderr": stderr[-4000:]}
    if parse_json and proc.returncode == 0:
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        result["report"] = json.loads(lines[-1]) if lines else {}
    return result
