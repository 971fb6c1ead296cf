"""Our scoring service against `mlflow models serve`, on the same registered model version, like with like.

Starts both servers on loopback: ours through `nexus serve`, and mlflow's with `--env-manager
local` on `models:/<name>/<version>` of the version our default alias serves, whose pyfunc
(training/pyfunc.py) returns the calibrated probability and the Venn-Abers interval bounds,
the same numbers as our score. Before timing, it checks that both answer the same numbers for
the same country-years. Then, from this process, it sends each the same bounded number of
requests: our score + interval, our score + interval + explanation (the goal's endpoint), and
mlflow's probability + interval (one row, `dataframe_split`). Prints p50/p99 latency (one
keep-alive connection, requests in sequence) and throughput with p50/p99 under load
(`--concurrency` connections), then the goal: score + interval + explanation p50 ≤ 1 ms and
≥ 10× mlflow's throughput at 16 connections.

    python benchmarks/serve.py [--params params.yaml] [--requests 1000] [--mlflow-requests 300]
                               [--concurrency 16]

Needs a champion (`nexus run` first). Both servers are stopped by their process group id on
exit. Our service answers from stored scores, intervals and SHAP values; mlflow computes the
prediction per request: that difference is the design being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOAL_P50_MS = 1.0        # issue 10: score + interval + explanation p50 ≤ 1 ms ...
GOAL_THROUGHPUT = 10.0   # ... and ≥ 10× mlflow models serve's requests per second at 16 connections
SAME_NUMBERS = 1e-6      # ours and mlflow's probability and interval bounds agree to this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(cmd: list[str], env: dict, ready_url: str, name: str, log: Path, timeout: float = 180):
    """Start a server in its own process group; wait until `ready_url` answers 200; stop it on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = time.perf_counter()
        while True:
            if proc.poll() is not None:
                tail = log.read_text()[-2000:]
                raise SystemExit(f"{name} exited with {proc.returncode}; see {log}:\n{tail}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{name} not ready after {timeout:.0f} s; see {log}")
            time.sleep(0.3)
        print(f"  {name} ready after {time.perf_counter() - started:.1f} s (pid {proc.pid})", file=sys.stderr)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we created: the CLI and its uvicorn child
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def http_parser() -> str:
    """What uvicorn parses HTTP with here: httptools (uvicorn[standard]) or pure-Python h11."""
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python)"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to time a server.

    A full client (httpx) costs more CPU per request than our server does; on two cores it,
    not the server, would set the throughput. Requests are prepared bytes; responses must
    carry Content-Length (both servers' do).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length is None:
            raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
        body = await self.reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return status, body

    def close(self) -> None:
        self.writer.close()


def http_request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request to `url` (http://host:port/path)."""
    hostport, _, path = url.removeprefix("http://").partition("/")
    lines = [f"{method} /{path} HTTP/1.1", f"Host: {hostport}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def sequential(requests: list[bytes], port: int, warmup: int) -> list[float]:
    """Latencies (ms) of requests sent one after another on one keep-alive connection."""
    conn = await Connection.open("127.0.0.1", port)
    try:
        for raw in requests[:warmup]:
            await conn.send(raw)
        latencies = []
        for raw in requests:
            t = time.perf_counter()
            await conn.send(raw)
            latencies.append((time.perf_counter() - t) * 1000)
        return latencies
    finally:
        conn.close()


async def concurrent(requests: list[bytes], port: int, connections: int) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) with `connections` requests in flight at once."""
    conns = [await Connection.open("127.0.0.1", port) for _ in range(connections)]
    latencies: list[float] = []
    queue = iter(requests)

    async def worker(conn: Connection) -> None:
        for raw in queue:
            t = time.perf_counter()
            await conn.send(raw)
            latencies.append((time.perf_counter() - t) * 1000)

    try:
        await asyncio.gather(*(c.send(r) for c, r in zip(conns, requests, strict=False)))  # warm each one
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - started
    finally:
        for c in conns:
            c.close()
    return len(latencies) / elapsed, latencies


def same_numbers(ours_url: str, auth: dict, mlflow_url: str, keys: list, features: list[str],
                 matrix: list, n: int = 20) -> float:
    """Largest |difference| between our score + interval and mlflow's answer for the same rows."""
    worst = 0.0
    with httpx.Client(timeout=30) as client:
        for k in range(min(n, len(keys))):
            iso3, year = keys[k]
            ours = client.get(f"{ours_url}/v1/scores/{year}/{iso3}", headers=auth).json()
            split = {"columns": features, "data": [matrix[k]]}
            theirs = client.post(mlflow_url, json={"dataframe_split": split})
            theirs.raise_for_status()
            row = theirs.json()["predictions"][0]
            pairs = [(ours["probability"], row["probability"]),
                     (ours["interval"]["low"], row["interval_low"]),
                     (ours["interval"]["high"], row["interval_high"])]
            worst = max(worst, *(abs(a - b) for a, b in pairs))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement (bounded)")
    parser.add_argument("--mlflow-requests", type=int, default=300,
                        help="requests per measurement for mlflow, whose every request recomputes the model "
                             "(the first ones of the same sequence of country-years)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from features.panel import load_panel
    from nexus.config import load_params
    from scoring.score import find_score_dir, load_scores
    from service.db import make_engine
    from service.tokens import TokenStore
    from training import registry
    from training.targets import add_targets

    params = load_params(args.params)
    paths = params.resolved_paths(args.params.resolve().parent)
    sp = params.scoring
    ref = registry.resolve(paths, sp.model_name, alias=sp.model_alias)
    card = ref.card
    directory = find_score_dir(paths, ref.name, ref.version, sp)
    if directory is None:
        raise SystemExit(f"no stored scores for {ref.name} v{ref.version}: run 'nexus score' first")
    scores, shap_values, _, manifest = load_scores(directory)
    panel, _, _ = load_panel(Path(manifest.extra["features_dir"]))
    frame = add_targets(panel, card.target, card.horizon_years)  # the model reads the current placement too
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    year = int(scores["year"].max())
    rows = frame[frame["year"] == year].sort_values("iso3")
    keys = list(zip(rows["iso3"], rows["year"].astype(int), strict=True))
    matrix = [[None if (isinstance(v, float) and math.isnan(v)) else float(v) for v in row]
              for row in rows[features].to_numpy("float64")]
    n = args.requests

    tmp = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    token = TokenStore(make_engine(db_url)).create("benchmark", "reviewer").secret
    ours_port, mlflow_port = free_port(), free_port()
    ours_cmd = [sys.executable, "-c", "from nexus.cli import cli; cli()", "--params", str(args.params),
                "--set", f"scoring.service.database_url={db_url}", "serve", "--port", str(ours_port),
                "--log-level", "warning"]
    mlflow_cmd = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
                  f"models:/{ref.name}/{ref.version}", "--env-manager", "local", "-h", "127.0.0.1",
                  "-p", str(mlflow_port), "--workers", "1"]
    # mlflow runs `uvicorn` by name: the interpreter's own bin folder must be on PATH
    env = os.environ | {"MLFLOW_TRACKING_URI": paths.tracking_uri,
                        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    auth = {"Authorization": f"Bearer {token}"}
    ours = f"http://127.0.0.1:{ours_port}"
    mlflow_url = f"http://127.0.0.1:{mlflow_port}/invocations"
    json_type = {"Content-Type": "application/json"}
    mlflow_name = "mlflow: probability + interval"
    target_name = "ours: score + interval + explanation"
    cases = {  # name → (port, requests): the same country-years, in the same order, for each
        "ours: score + interval": (ours_port, [http_request("GET", f"{ours}/v1/scores/{y}/{i}", auth)
                                               for i, y in (keys[k % len(keys)] for k in range(n))]),
        target_name: (ours_port, [http_request("GET", f"{ours}/v1/explanations/{y}/{i}", auth)
                                  for i, y in (keys[k % len(keys)] for k in range(n))]),
        mlflow_name: (mlflow_port, [http_request("POST", mlflow_url, json_type, json.dumps(
            {"dataframe_split": {"columns": features, "data": [matrix[k % len(keys)]]}}).encode())
            for k in range(min(n, args.mlflow_requests))]),
    }
    print(f"{ref.name} v{ref.version} (alias {sp.model_alias}; {card.n_members} boosters, calibration "
          f"{card.calibration}, {card.interval} interval); {len(keys)} country-years of {year}, "
          f"{n} requests per measurement ({min(n, args.mlflow_requests)} for mlflow), {args.concurrency} "
          f"connections for throughput; HTTP parser {http_parser()}", file=sys.stderr)
    results = {}
    with ExitStack() as stack:
        stack.enter_context(server(ours_cmd, env, f"{ours}/v1/ready", "nexus serve", tmp / "ours.log"))
        stack.enter_context(server(mlflow_cmd, env, f"http://127.0.0.1:{mlflow_port}/ping",
                                   "mlflow models serve", tmp / "mlflow.log"))
        worst = same_numbers(ours, auth, mlflow_url, keys, features, matrix)
        print(f"  same numbers: largest |ours − mlflow| over probability and interval bounds {worst:.2e}",
              file=sys.stderr)
        if worst > SAME_NUMBERS:
            raise SystemExit(f"the two servers disagree by {worst:.2e}: not the same model, "
                             "nothing to compare")
        for name, (port, requests) in cases.items():
            print(f"  measuring {name}", file=sys.stderr)
            seq = asyncio.run(sequential(requests, port, args.warmup))
            rps, loaded = asyncio.run(concurrent(requests, port, args.concurrency))
            results[name] = {"p50": percentile(seq, 50), "p99": percentile(seq, 99), "rps": rps,
                             "load_p50": percentile(loaded, 50), "load_p99": percentile(loaded, 99)}
    base = results[mlflow_name]
    print(f"\n| endpoint | p50 ms | p99 ms | p50 / mlflow p50 | req/s @{args.concurrency} | × mlflow req/s "
          f"| p50 / p99 ms @{args.concurrency} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p50'] / base['p50']:.3f} | {r['rps']:.0f} | "
              f"{r['rps'] / base['rps']:.1f} | {r['load_p50']:.1f} / {r['load_p99']:.1f} |")
    target = results[target_name]
    ok_latency = target["p50"] <= GOAL_P50_MS
    ok_rps = target["rps"] >= GOAL_THROUGHPUT * base["rps"]
    print(f"\ngoal: score + interval + explanation p50 ≤ {GOAL_P50_MS:g} ms: "
          f"{'met' if ok_latency else 'NOT met'} "
          f"({target['p50']:.2f} ms); throughput ≥ {GOAL_THROUGHPUT:g}× mlflow's at {args.concurrency} "
          f"connections: {'met' if ok_rps else 'NOT met'} ({target['rps'] / base['rps']:.1f}×)")


if __name__ == "__main__":
    main()
