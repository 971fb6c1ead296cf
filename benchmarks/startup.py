"""`nexus serve` start-up: seconds from launching the command to `/v1/ready` answering 200.

Each run is a fresh `nexus --params <file> serve` process on a free loopback port, polled every
20 ms for `/v1/health` (the port answers) and `/v1/ready` (the champion is loaded); the process
group is stopped after each run. Reported: every run, and the median, on the params file's
world (a `nexus run` folder). Printed, never asserted: the machine is shared.

    python -m benchmarks.startup --params /tmp/world/params.yaml [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

POLL_S = 0.02
TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def time_to_ready(params_file: Path, nexus: str | None = None, env: dict | None = None) -> dict:
    """One start: seconds to the first `/v1/health` 200 and to the first `/v1/ready` 200 (`env` added
    to this process's environment: e.g. PYTHONPATH of another checkout, to time it alternately)."""
    nexus = nexus or shutil.which("nexus", path=str(Path(sys.executable).parent)) or "nexus"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **(env or {})}
    started = time.perf_counter()
    proc = subprocess.Popen([nexus, "--params", str(params_file), "serve", "--port", str(port),
                             "--log-level", "warning"], cwd=Path(params_file).parent, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    health = None
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nexus serve exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            now = time.perf_counter() - started
            if health is None and _answers(f"{base}/v1/health"):
                health = time.perf_counter() - started
            if health is not None and _answers(f"{base}/v1/ready"):
                return {"health_s": health, "ready_s": time.perf_counter() - started}
            if now > TIMEOUT_S:
                raise RuntimeError(f"nexus serve not ready after {TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this function created
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def bench_startup(params_file: Path, repeat: int = 5) -> dict:
    """`repeat` starts in sequence; each run, the medians, and the load average around them."""
    load_start = os.getloadavg()
    runs = [time_to_ready(params_file) for _ in range(repeat)]
    ready = [r["ready_s"] for r in runs]
    return {"params": str(params_file), "repeat": repeat, "runs": runs,
            "ready_median_s": statistics.median(ready), "ready_min_s": min(ready),
            "health_median_s": statistics.median(r["health_s"] for r in runs),
            "load_average": [load_start, os.getloadavg()]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, required=True, help="params.yaml of a folder where 'nexus run' ran")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    result = bench_startup(args.params.resolve(), args.repeat)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
