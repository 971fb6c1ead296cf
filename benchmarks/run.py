"""`python -m benchmarks.run`: every benchmark of docs/benchmarks.md, side by side, in one run.

Builds its inputs once under --data (default /tmp/nexus-bench, never the repository), runs
each contestant in its own process (benchmarks/tasks.py) alternating ours and the
reference, checks the results are equal, and writes benchmarks/results.json and
docs/benchmarks.md. Timings are printed, never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks.measure import REPO, run_command, run_measured

DEFAULT_DATA = Path("/tmp/nexus-bench")
SECTIONS = ("bids", "ocds", "models", "run", "serve")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _generator_hash() -> str:
    code = b"".join(p.read_bytes() for p in sorted((REPO / "features" / "synthetic").glob("*.py")))
    return hashlib.sha256(code).hexdigest()[:12]


def ensure_tables(data: Path, table: str, scale: int, countries: int, seed: int = 20240501) -> dict:
    """Generate one event table of the default world's shape at `scale` (reused when unchanged)."""
    from features.synthetic.events import EventVolumes, write_event_tables
    from features.synthetic.latent import simulate

    folder = data / f"{table}-s{scale}-c{countries}"
    marker = folder / "ready.json"
    key = {"table": table, "scale": scale, "countries": countries, "seed": seed, "code": _generator_hash()}
    if marker.exists() and json.loads(marker.read_text()).get("key") == key:
        return json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    log(f"generating {table} at scale {scale} ({countries} countries) in {folder}")
    world = simulate(seed, countries, 2000, 2024)
    t = time.perf_counter()
    files = write_event_tables(world, folder, seed, EventVolumes(16, 40, 10, 6).times(scale), tables=(table,))
    paths = [p for ps in files.values() for p in ps]
    info = {"key": key, "seconds": time.perf_counter() - t, "bytes": sum(p.stat().st_size for p in paths),
            "files": len(paths), "path": str(folder / ("procurement_bids" if table == "bids" else
                                                       "ocds/synthetic-world/compiled_releases.jsonl"))}
    if table == "bids":
        import pyarrow.dataset as ds

        info["rows"] = ds.dataset([str(p) for p in paths]).count_rows()
    else:
        with open(paths[0], "rb") as f:
            info["rows"] = sum(1 for _ in f)
    marker.write_text(json.dumps(info, indent=2))
    return info


def _stats(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "all": values}


def side_by_side(ours_args: list[str], ref_args: list[str], repeat: int, ref_repeat: int | None = None) -> dict:
    """Alternate ours and the reference; keep each run's own timing, wall, CPU and peak memory."""
    runs = {"ours": [], "reference": []}
    for i in range(max(repeat, ref_repeat or repeat)):
        for who, args, n in (("ours", ours_args, repeat), ("reference", ref_args, ref_repeat or repeat)):
            if i < n:
                result = run_measured(args)
                if result["returncode"] != 0:
                    raise RuntimeError(f"{who} failed: {result['stderr'][-2000:]}")
                runs[who].append(result)
    out = {}
    for who, rs in runs.items():
        out[who] = {"seconds": _stats([r["report"]["seconds"] for r in rs]),
                    "wall_s": _stats([r["wall_s"] for r in rs]),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "max_rss_mb": max(r["max_rss_mb"] for r in rs),
                    "report": rs[-1]["report"]}
    out["ratio_median"] = out["ours"]["seconds"]["median"] / out["reference"]["seconds"]["median"]
    out["ratio_min"] = out["ours"]["seconds"]["min"] / out["reference"]["seconds"]["min"]
    return out


def compare(ours_path: Path, ref_path: Path, pairs: dict[str, str]) -> dict:
    """Equality of our features and the reference's, after mapping the reference's names to ISO3."""
    import numpy as np
    import pandas as pd

    from nexus.countries import name_to_iso3

    ours, ref = pd.read_parquet(ours_path), pd.read_parquet(ref_path)
    ref = ref.assign(iso3=ref["buyer_country"].map(name_to_iso3))
    merged = ours.merge(ref, on=["iso3", "year"], how="outer", indicator=True)
    out = {"rows_ours": len(ours), "rows_reference": len(ref), "unmatched": int((merged["_merge"] != "both").sum()),
           "columns": {}}
    for mine, theirs in pairs.items():
        a, b = merged[mine].to_numpy(float), merged[theirs].to_numpy(float)
        same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        diff = float(np.nanmax(np.abs(a - b))) if np.isfinite(a).any() else 0.0
        out["columns"][mine] = {"same_missing": same_nan, "max_abs_diff": diff}
    out["equal"] = out["unmatched"] == 0 and all(c["same_missing"] and c["max_abs_diff"] < 1e-9
                                                 for c in out["columns"].values())
    return out


BID_MEASURES = ("single_bid_share", "short_period_share", "log_processes", "single_bid_value_share",
                "short_period_value_share", "submitted_per_process", "buyer_winner_hhi", "repeat_winner_share")


def bench_bids(data: Path, scales: list[int], countries: int, repeat: int) -> list[dict]:
    results = []
    for scale in scales:
        info = ensure_tables(data, "bids", scale, countries)
        log(f"bid table: {info['rows']:,} rows, {info['bytes'] / 2**20:.0f} MB")
        ours_out, ref_out = data / f"bids-ours-{scale}.parquet", data / f"bids-ref-{scale}.parquet"
        sbs = side_by_side(["bids-ours", info["path"], str(ours_out)], ["bids-duckdb", info["path"], str(ref_out)], repeat)
        sbs["equality"] = compare(ours_out, ref_out, {f"procurement_bids_{m}": m for m in BID_MEASURES})
        results.append({"scale": scale, "rows": info["rows"], "input_mb": info["bytes"] / 2**20,
                        "files": info["files"], **sbs})
        log(f"  ours {sbs['ours']['seconds']['median']:.2f}s vs DuckDB {sbs['reference']['seconds']['median']:.2f}s "
            f"(×{sbs['ratio_median']:.2f}); equal: {sbs['equality']['equal']}")
    return results


OCDS_CONTESTANTS = {"ours": "ocds-ours", "reference": "ocds-duckdb", "cardinal": "ocds-cardinal", "json": "ocds-json",
                    "python": "ocds-python"}
PYTHON_ENGINE_MAX_PROCESSES = 200_000  # the reference engine (~10k processes/s) is timed on the small file only


def rounds(contestants: dict[str, list[str]], repeat: int) -> dict:
    """Contestants alternated A B C … A B C …, `repeat` rounds; medians per contestant, and ours ÷ each."""
    runs: dict[str, list] = {who: [] for who in contestants}
    for _ in range(repeat):
        for who, args in contestants.items():
            result = run_measured(args)
            if result["returncode"] != 0:
                raise RuntimeError(f"{who} failed: {result['stderr'][-2000:]}")
            runs[who].append(result)
    out: dict = {}
    for who, rs in runs.items():
        out[who] = {"seconds": _stats([r["report"]["seconds"] for r in rs]),
                    "wall_s": _stats([r["wall_s"] for r in rs]),
                    "processes_per_s": _stats([r["report"]["processes_per_s"] for r in rs]),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "max_rss_mb": max(r["max_rss_mb"] for r in rs),
                    "report": rs[-1]["report"]}
    ours = out["ours"]["seconds"]
    out["ratios_median"] = {who: ours["median"] / out[who]["seconds"]["median"] for who in runs if who != "ours"}
    out["ratio_median"] = out["ratios_median"]["reference"]
    out["ratio_min"] = ours["min"] / out["reference"]["seconds"]["min"]
    return out


def bench_ocds(data: Path, scale: int, countries: int, repeat: int) -> dict:
    """Ours (columnar), DuckDB's two shares, the Rust and stdlib parse floors (and, on small files, the
    reference Python engine) on one OCDS file, alternated; ours is checked against DuckDB's shares."""
    info = ensure_tables(data, "ocds", scale, countries)
    log(f"OCDS: {info['rows']:,} processes, {info['bytes'] / 2**20:.0f} MB")
    outputs = {who: data / f"ocds-{who}-{scale}.{'json' if who in ('cardinal', 'json') else 'parquet'}"
               for who in OCDS_CONTESTANTS}
    contestants = {who: [task, info["path"], str(outputs[who])] for who, task in OCDS_CONTESTANTS.items()
                   if who != "python" or info["rows"] <= PYTHON_ENGINE_MAX_PROCESSES}
    sbs = rounds(contestants, repeat)
    sbs["equality"] = compare(outputs["ours"], outputs["reference"],
                              {"procurement_single_bid_share": "single_bid_share",
                               "procurement_short_period_share": "short_period_share"})
    speeds = ", ".join(f"{who} {sbs[who]['processes_per_s']['median']:,.0f}/s" for who in contestants)
    log(f"  processes/s (medians): {speeds}; equal: {sbs['equality']['equal']}")
    return {"scale": scale, "processes": info["rows"], "input_mb": info["bytes"] / 2**20,
            "load_average": os.getloadavg(), **sbs}


def bench_models(data: Path, repeat: int, world_set: list[str]) -> dict:
    root = data / "default-world"
    out = data / "models.json"
    result = run_measured(["models", str(root), str(out), str(repeat), json.dumps(world_set)])
    if result["returncode"] != 0:
        raise RuntimeError(result["stderr"][-3000:])
    doc = json.loads(out.read_text())
    for part, ours, ref in (("shap", "ours_explain", "native_pred_contribs"), ("backtest", "ours_xgb_only",
                                                                                "bare_xgb_train")):
        s = doc[part]["seconds"]
        doc[part]["ratio_median"] = statistics.median(s[ours]) / statistics.median(s[ref])
        doc[part]["ratio_min"] = min(s[ours]) / min(s[ref])
    s = doc["backtest"]["seconds"]
    doc["backtest"]["ratio_all_models"] = statistics.median(s["ours_all_models"]) / statistics.median(s["bare_xgb_train"])
    log(f"SHAP ×{doc['shap']['ratio_median']:.3f}; backtest ×{doc['backtest']['ratio_median']:.3f}")
    return doc


def _fresh_run_dir(data: Path, name: str, world_set: list[str]) -> tuple[Path, list[str]]:
    folder = data / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(REPO / "params.yaml", folder / "params.yaml")
    return folder, [a for s in world_set for a in ("--set", s)]


def _one_run(nexus: str, data: Path, world_set: list[str]) -> dict:
    folder, sets = _fresh_run_dir(data, "nexus-run", world_set)
    result = run_command([nexus, "--params", str(folder / "params.yaml"), *sets, "run"], cwd=folder)
    if result["returncode"] != 0:
        raise RuntimeError(result["stderr"][-3000:])
    line = next(x for x in result["stdout"].splitlines() if x.startswith("timings:"))
    stages = {k: float(v.rstrip("s")) for k, v in (part.split() for part in
                                                   line.removeprefix("timings:").split(";")[0].split(","))}
    out = {"wall_s": result["wall_s"], "cpu_s": result["cpu_s"], "load_average": os.getloadavg(),
           "total_s": float(line.split("total")[1].strip().rstrip("s")), "stages": stages,
           "peak_rss_mb": result["peak_rss_mb"]}
    log(f"nexus run: {out['wall_s']:.1f}s wall, {out['cpu_s']:.1f}s CPU, stages {stages}")
    return out


def bench_run(data: Path, world_set: list[str], profile: bool, repeat: int = 1) -> dict:
    """`nexus run` from a fresh folder `repeat` times: the median run (by wall time) and every run's
    wall and CPU seconds (on a shared host one run can be a third slower than the next)."""
    nexus = shutil.which("nexus", path=str(Path(sys.executable).parent)) or "nexus"
    runs = [_one_run(nexus, data, world_set) for _ in range(max(1, repeat))]
    out = dict(sorted(runs, key=lambda x: x["wall_s"])[(len(runs) - 1) // 2])
    out |= {"repeat": len(runs), "wall_s_all": [x["wall_s"] for x in runs],
            "cpu_s_all": [x["cpu_s"] for x in runs]}
    if profile:
        folder, sets = _fresh_run_dir(data, "nexus-run-profiled", world_set)
        params = folder / "params.yaml"
        if sets:
            import yaml

            from nexus.config import apply_overrides

            tree = apply_overrides(yaml.safe_load(params.read_text()), list(world_set))
            params.write_text(yaml.safe_dump(tree, sort_keys=False))
        prof = data / "nexus-run.prof"
        run_measured(["profile-run", str(folder), str(prof)], cwd=folder)
        from benchmarks.report import profile_summary

        out["profile"] = profile_summary(prof, slowest=max(out["stages"], key=out["stages"].get))
    return out


def bench_serve(data: Path, world_set: list[str], repeat: int) -> dict:
    """`nexus serve` start to `/v1/ready` 200 (benchmarks/startup.py) on the `run` section's folder."""
    from benchmarks.startup import bench_startup

    folder = data / "nexus-run"
    if not (folder / "artifacts" / "serving").is_dir():  # no champion served from there yet: make one
        bench_run(data, world_set, profile=False)
    params = folder / "params.yaml"
    if world_set:
        import yaml

        from nexus.config import apply_overrides

        params = folder / "params.serve.yaml"  # `nexus serve` takes the run's overrides from the file
        tree = apply_overrides(yaml.safe_load((folder / "params.yaml").read_text()), list(world_set))
        params.write_text(yaml.safe_dump(tree, sort_keys=False))
    out = bench_startup(params, repeat)
    log(f"nexus serve ready after {out['ready_median_s']:.2f} s (median of {repeat})")
    return out


def machine() -> dict:
    import psutil

    versions = {}
    for name in ("numpy", "pandas", "pyarrow", "duckdb", "dask", "distributed", "xgboost", "shap", "sklearn", "mlflow"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
            versions[name] = "absent"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": psutil.virtual_memory().total / 2**30,
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions,
            "load_average_start": os.getloadavg()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="where inputs are generated (never the repo)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    ap.add_argument("--bids-scales", default="4,36", help="world scales of the bid tables (≈1.1M and ≈10.1M rows)")
    ap.add_argument("--ocds-scales", default="1,18", help="world scales of the OCDS files (≈58.7k and ≈1.06M processes)")
    ap.add_argument("--ocds-scale", type=int, default=None, help="one OCDS scale only (overrides --ocds-scales)")
    ap.add_argument("--countries", type=int, default=150, help="countries of the generated event tables")
    ap.add_argument("--repeat", type=int, default=3, help="runs per contestant (the OCDS builder runs once)")
    ap.add_argument("--set", dest="world_set", action="append", default=[],
                    help="params override for the default-world benchmarks (models, nexus run)")
    ap.add_argument("--no-profile", action="store_true", help="skip the profiled nexus run")
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json")
    ap.add_argument("--markdown", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--render-only", action="store_true", help="rewrite --markdown from --json, measuring nothing")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other sections of an existing --json (re-measure a noisy section alone)")
    args = ap.parse_args(argv)
    if args.render_only:
        from benchmarks.report import render
        from nexus.manifest import atomic_write_text

        results = json.loads(args.json.read_text())
        atomic_write_text(args.markdown, render(results))
        return results
    only = set(args.only.split(","))
    args.data.mkdir(parents=True, exist_ok=True)
    results = {"started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
               "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.merge and args.json.exists():
        earlier = json.loads(args.json.read_text())
        results = {**{k: v for k, v in earlier.items() if k in SECTIONS}, **results,
                   "merged": [*earlier.get("merged", []), {"sections": sorted(only), "started": results["started"],
                                                          "earlier_command": earlier.get("command")}]}
        results["command"] = earlier.get("command", results["command"])
        # the header keeps the full run's span; the re-measured sections say when they ran
        results["started"], results["finished"] = earlier.get("started"), earlier.get("finished")
    if "bids" in only:
        results["bids"] = bench_bids(args.data, [int(s) for s in args.bids_scales.split(",")], args.countries,
                                     args.repeat)
    ocds_scales = [args.ocds_scale] if args.ocds_scale else [int(x) for x in args.ocds_scales.split(",")]
    if "ocds" in only:
        runs = [bench_ocds(args.data, scale, args.countries, args.repeat) for scale in ocds_scales]
        results["ocds"] = {**runs[-1], "scales": runs}
    if "models" in only:
        results["models"] = bench_models(args.data, args.repeat, args.world_set)
    if "run" in only:
        results["run"] = bench_run(args.data, args.world_set, profile=not args.no_profile,
                                   repeat=args.repeat)
    if "serve" in only:
        results["serve"] = bench_serve(args.data, args.world_set, max(args.repeat, 5))
    if "bids" in only:
        from benchmarks.report import profile_summary

        largest = max(results["bids"], key=lambda r: r["rows"])
        prof = args.data / "bids.prof"
        run_measured(["profile-bids", ensure_tables(args.data, "bids", largest["scale"], args.countries)["path"],
                      str(prof)])
        largest["profile"] = profile_summary(prof)
    if "ocds" in only:
        from benchmarks.report import profile_summary

        prof = args.data / "ocds.prof"
        sample = run_measured(["profile-ocds", ensure_tables(args.data, "ocds", max(ocds_scales), args.countries)["path"],
                               str(prof), "20000"])
        results["ocds"]["profile"] = profile_summary(prof) | {"sample_processes": sample["report"]["processes"]}
    results["machine"]["load_average_end"] = os.getloadavg()
    if not results.get("merged"):
        results["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    from benchmarks.report import render
    from nexus.manifest import atomic_write_text

    atomic_write_text(args.json, json.dumps(results, indent=2, default=float))
    atomic_write_text(args.markdown, render(results))
    print(render(results, summary_only=True))
    return results


if __name__ == "__main__":
    main()
