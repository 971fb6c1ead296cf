"""docs/benchmarks.md from benchmarks/results.json, and cProfile summaries for "where the time goes"."""

from __future__ import annotations

import pstats
import re
from pathlib import Path

STAGE_FUNCTIONS = {"world": "write_world", "features": "build_features", "train": "train", "score": "score",
                   "explain": "_explain"}


def _package(filename: str) -> str:
    """A profile entry's library: the top package under site-packages, nexus's own package, or the stdlib module."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0].removesuffix(".py")
    for own in ("features", "training", "scoring", "nexus", "benchmarks", "experiments"):
        if own in parts:
            return f"nexus: {own}/{path.name}" if own in ("features", "training", "scoring") else f"nexus: {own}"
    return path.stem


def profile_summary(path: Path, slowest: str | None = None, top: int = 12) -> dict:
    """Top functions by cumulative and own time, own time by library, and the slowest stage's share."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    total = max(v[3] for v in entries.values())
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in entries.items():
        key = _package(filename)
        by_package[key] = by_package.get(key, 0.0) + tottime

    def label(key):
        filename, line, name = key
        return f"{_package(filename)}:{name}" if not filename.startswith("~") else name

    plumbing = ("typer", "click", "builtins (C)", "nexus: nexus", "runpy", "nexus: benchmarks")
    cumulative = sorted(((k, v) for k, v in entries.items() if not _package(k[0]).startswith(plumbing)),
                        key=lambda kv: -kv[1][3])[:top]
    own = sorted(entries.items(), key=lambda kv: -kv[1][2])[:top]
    out = {"profiled_seconds": total,
           "by_library": dict(sorted(((k, v) for k, v in by_package.items() if v > 0.005 * total),
                                     key=lambda kv: -kv[1])[:top]),
           "cumulative": [(label(k), v[3]) for k, v in cumulative],
           "own_time": [(label(k), v[2], v[1]) for k, v in own]}
    if slowest:
        name = STAGE_FUNCTIONS.get(slowest, slowest)
        match = [(k, v) for k, v in entries.items() if k[2] == name and "site-packages" not in k[0]]
        if match:
            key, value = max(match, key=lambda kv: kv[1][3])
            callees = _callees(entries, key)
            deeper = _callees(entries, callees[0][0]) if callees else []
            out["slowest_stage"] = {"stage": slowest, "function": name, "profiled_seconds": value[3],
                                    "callees": [(label(k), t) for k, t in callees[:top]],
                                    "inside_top_callee": [(label(k), t) for k, t in deeper[:top]]}
    return out


def _callees(entries: dict, caller: tuple) -> list[tuple[tuple, float]]:
    """Direct callees of `caller` with the cumulative time spent in them when called from it."""
    found = [(k, v[4][caller][3]) for k, v in entries.items() if caller in v[4]]
    return sorted(found, key=lambda kv: -kv[1])


def _mb(x: float) -> str:
    return f"{x:,.0f} MB"


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def summary_rows(r: dict) -> list[list[str]]:
    rows = []
    for b in r.get("bids", []):
        target = "≤ 1.5×, peak RSS ≤ 2× input" if b["rows"] >= 10_000_000 else "—"
        rss_ok = b["ours"]["peak_rss_mb"] <= 2 * b["input_mb"]
        met = ("yes" if b["ratio_min"] <= 1.5 and rss_ok else "no") if target != "—" else ""
        rows.append([f"feature build, bid table ({b['files']} Parquet partitions)",
                     f"{b['rows']:,} bid rows, {b['input_mb']:.0f} MB on disk",
                     f"{_s(b['ours']['seconds']['min'])}, peak {_mb(b['ours']['peak_rss_mb'])}",
                     f"DuckDB SQL {_s(b['reference']['seconds']['min'])}, peak {_mb(b['reference']['peak_rss_mb'])}",
                     f"{b['ratio_min']:.2f}× (medians {b['ratio_median']:.2f}×); "
                     f"RSS {b['ours']['peak_rss_mb'] / b['input_mb']:.2f}× input",
                     "yes" if b["equality"]["equal"] else "NO", target, met])
    if "ocds" in r:
        rows += _ocds_rows(r["ocds"])
    if "models" in r:
        s, b = r["models"]["shap"], r["models"]["backtest"]
        sec = s["seconds"]
        if "explain_via_pred_contribs" in sec:
            proposed = min(sec["explain_via_pred_contribs"]) / min(sec["native_pred_contribs"])
            rows.append(["SHAP, proposed: `explain()` calling pred_contribs itself, wrapped in a shap.Explanation",
                         "same", _s(min(sec["explain_via_pred_contribs"])),
                         f"pred_contribs {_s(min(sec['native_pred_contribs']))}", f"{proposed:.3f}×",
                         "identical values", "≤ 1.05×", "yes" if proposed <= 1.05 else "no"])
        threads = f", both on {s['threads']} threads" if "threads" in s else ""
        serial = (f" (one after another on one thread: {_s(min(sec['native_pred_contribs_serial']))})"
                  if "native_pred_contribs_serial" in sec else "")
        rows.append([f"SHAP: our explain step vs the members' xgboost pred_contribs{threads}",
                     f"{s['boosters']} boosters × {s['rows_per_booster']:,} country-years × {s['features']} features",
                     _s(min(sec["ours_explain"])),
                     f"pred_contribs {_s(min(sec['native_pred_contribs']))}{serial}",
                     f"{s['ratio_min']:.3f}× (medians {s['ratio_median']:.3f}×)",
                     f"max |Δ| {s['max_abs_value_diff']:.1e}", "≤ 1.05×", "yes" if s["ratio_min"] <= 1.05 else "no"])
        sec = b["seconds"]
        threads = f", both on {b['threads']} threads" if "threads" in b else ""
        rows.append(["backtest: our training stage (XGBoost, calibration, SHAP per origin) vs bare "
                     f"xgboost.train{threads}",
                     f"{b['folds']} folds, {b['rows']:,} labelled rows, {b['features']} features, "
                     f"{b['n_estimators']} trees",
                     _s(min(sec["ours_xgb_only"])), f"xgboost.train loop {_s(min(sec['bare_xgb_train']))}",
                     f"{b['ratio_min']:.2f}× (medians {b['ratio_median']:.2f}×; with the 3 baselines, mins "
                     f"{min(sec['ours_all_models']) / min(sec['bare_xgb_train']):.2f}×)",
                     f"max |Δp| {b['max_abs_prediction_diff']:.1e}", "≤ 1.2×", "yes" if b["ratio_min"] <= 1.2 else "no"])
    if "run" in r:
        n = r["run"]
        spread = (f"median of {n['repeat']} runs: " if n.get("repeat", 1) > 1 else "")
        runs = (f"; runs {_s(min(n['wall_s_all']))}–{_s(max(n['wall_s_all']))}"
                if n.get("repeat", 1) > 1 else "")
        rows.append(["`nexus run`, default world, fresh folder", "150 countries × 25 years",
                     f"{spread}{_s(n['wall_s'])} wall ({_s(n['total_s'])} inside{runs})", "—", "—", "—",
                     "≤ 60 s",
                     "yes" if n["wall_s"] <= 60 else "no"])
    if "serve" in r:
        v = r["serve"]
        rows.append(["`nexus serve` start to /v1/ready 200, default world",
                     f"median of {v['repeat']} starts, load average {v['load_average'][0][0]:.1f}",
                     f"{_s(v['ready_median_s'])} (fastest {_s(v['ready_min_s'])}; port open "
                     f"{_s(v['health_median_s'])})", "—", "—", "—", "≤ 3 s",
                     "yes" if v["ready_median_s"] <= 3 else "no"])
    return rows


_OCDS_FLOORS = {"cardinal": "Rust parse floor: ocdscardinal.coverage, one thread",
                "json": "stdlib json.loads over every line", "python": "our reference Python engine"}


def _ocds_rows(o: dict) -> list[list[str]]:
    """One row per OCDS file and contestant: ours (columnar) against DuckDB's two shares and the floors."""
    rows = []
    for run in o.get("scales", [o]):
        ours = run["ours"]
        size = f"{run['processes']:,} processes, {run['input_mb']:,.0f} MB JSON Lines"
        mine = (f"{ours['report']['processes_per_s']:,.0f} processes/s ({_s(ours['seconds']['median'])}), "
                f"peak {_mb(ours['peak_rss_mb'])}")
        if "processes_per_s" in ours:
            mine = (f"{ours['processes_per_s']['median']:,.0f} processes/s (median {_s(ours['seconds']['median'])}), "
                    f"peak {_mb(ours['peak_rss_mb'])}")
        ref = run["reference"]
        rows.append(["OCDS red flags (11 Cardinal indicators, per-country fences)", size, mine,
                     f"DuckDB read_json, 2 shares only: {_speed(ref)}", f"{run['ratio_median']:.2f}× time",
                     "yes (2 shares + counts)" if run["equality"]["equal"] else "NO", "none set", ""])
        for who, label in _OCDS_FLOORS.items():
            if who not in run:
                continue
            ratio = run["ratios_median"][who]
            big = run["processes"] >= 1_000_000
            target = "ours ≥ floor, peak ≤ 1 GB" if who == "cardinal" and big else "—"
            met = ("yes" if ratio <= 1 and ours["peak_rss_mb"] <= 1024 else "no") if target != "—" else ""
            rows.append([f"OCDS red flags vs {label}", size, mine, _speed(run[who]), f"{ratio:.2f}× time",
                         "—", target, met])
    return rows


def _speed(c: dict) -> str:
    per_s = c["processes_per_s"]["median"] if isinstance(c.get("processes_per_s"), dict) else \
        c["report"]["processes_per_s"]
    return f"{per_s:,.0f}/s (median {_s(c['seconds']['median'])}), peak {_mb(c['peak_rss_mb'])}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def _profile_md(title: str, p: dict) -> str:
    libs = ", ".join(f"{k} {v:.1f} s" for k, v in p["by_library"].items())
    cum = "\n".join(f"| {name} | {sec:.2f} |" for name, sec in p["cumulative"])
    own = "\n".join(f"| {name} | {sec:.2f} | {calls:,} |" for name, sec, calls in p["own_time"])
    return (f"### {title}\n\nProfiled time {p['profiled_seconds']:.1f} s (cProfile adds overhead; read the "
            f"shares, not the seconds). Own time by library: {libs}.\n\n| function (cumulative) | s |\n|---|---|\n"
            f"{cum}\n\n| function (own time) | s | calls |\n|---|---|---|\n{own}\n")


def render(r: dict, summary_only: bool = False) -> str:
    m = r["machine"]
    header = ["measurement", "size", "nexus", "reference", "ratio", "equal results", "target", "met"]
    summary = _table(header, summary_rows(r))
    if summary_only:
        return summary
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    load = (f"load average {m['load_average_start'][0]:.1f} at the start and {m['load_average_end'][0]:.1f} at the "
            "end (other engineers share this machine: ratios of runs alternated within one session are the "
            "figures to read; absolute seconds vary ±30%)")
    merged = "".join(f" Re-measured alone at {m['started']}: {', '.join(m['sections'])}." for m in r.get("merged", []))
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{r['command'].strip()}` ({r['started']} → {r['finished']}); raw figures in "
        "`benchmarks/results.json`. Each contestant runs in its own process, ours and the reference alternating; "
        "times are the work alone (imports excluded), the fastest of the repeats (on a shared machine the minimum "
        "is the cost of the work, the rest is waiting; medians are in brackets); peak RSS is the sampled sum over "
        f"the process tree (worker processes included).{merged}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']:.0f} GiB RAM; Python {m['python']} "
        f"({m['platform']}); {versions}; {load}.",
        "",
        "## Summary",
        "",
        summary,
        "",
    ]
    if "run" in r:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["run"]["stages"].items())
        median = f"The median of {r['run']['repeat']} runs: " if r["run"].get("repeat", 1) > 1 else ""
        parts += ["## `nexus run` per stage", "",
                  f"{median}{stages}; total {r['run']['total_s']:.1f} s inside the command, "
                  f"{r['run']['wall_s']:.1f} s wall including interpreter start and imports"
                  + (f", {r['run']['cpu_s']:.1f} s CPU (user + system, 2 cores: a wall time below half of it "
                     f"is out of reach; load average {r['run']['load_average'][0]:.1f} at the end)"
                     if "cpu_s" in r["run"] else "")
                  + f"; peak RSS {r['run']['peak_rss_mb']:.0f} MB.", ""]
    parts += ["## Where the time goes", ""]
    if "run" in r and "profile" in r["run"]:
        p = r["run"]["profile"]
        slow = p.get("slowest_stage", {})
        parts.append(_profile_md(f"`nexus run`: slowest stage is {slow.get('stage')} "
                                 f"({slow.get('profiled_seconds', 0):.1f} s of {p['profiled_seconds']:.1f} s profiled)", p))
        if slow.get("callees"):
            inside = "\n".join(f"| {name} | {sec:.2f} |" for name, sec in slow["callees"])
            top = slow["callees"][0][0]
            deeper = "\n".join(f"| {name} | {sec:.2f} |" for name, sec in slow["inside_top_callee"])
            parts.append(f"Inside `{slow['function']}` (time in each direct callee):\n\n| callee | s |\n|---|---|\n"
                         f"{inside}\n\nInside its largest callee, {top}:\n\n| callee | s |\n|---|---|\n{deeper}\n")
    for b in r.get("bids", []):
        if "profile" in b:
            parts.append(_profile_md(f"bid-table build at {b['rows']:,} rows", b["profile"]))
    if "ocds" in r and "profile" in r["ocds"]:
        parts.append(_profile_md(f"OCDS builder on a {r['ocds']['profile']['sample_processes']:,}-process sample "
                                 "(one process)", r["ocds"]["profile"]))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(parts)).rstrip() + "\n"
