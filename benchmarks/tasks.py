"""Contestants, one per process: `python -m benchmarks.tasks TASK ARGS…` prints one JSON line.

Imports happen before the clock starts; `seconds` is the work alone (the harness also
records the process's wall time and memory). Results go to a Parquet or JSON file the
harness compares.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _emit(**report) -> None:
    print(json.dumps(report, default=float))


def bids_ours(folder: str, out: str) -> None:
    from features.build_context import BuildContext
    from features.sources.procurement_bids import aggregate_bids

    files = sorted(Path(folder).rglob("*.parquet"))
    t = time.perf_counter()
    frame = aggregate_bids(files, BuildContext.for_policy("refuse"))
    seconds = time.perf_counter() - t
    frame.drop(columns=["_row", "_file"]).to_parquet(out)
    _emit(seconds=seconds, rows=len(frame))


def bids_duckdb(folder: str, out: str) -> None:
    import duckdb

    from benchmarks.reference import bids_query

    query = bids_query(folder)
    t = time.perf_counter()
    frame = duckdb.sql(query).df()
    seconds = time.perf_counter() - t
    frame.to_parquet(out)
    _emit(seconds=seconds, rows=len(frame))


def ocds_ours(path: str, out: str, engine: str = "columnar") -> None:
    """The procurement_signals builder (all 11 indicators, country-year aggregates) on one file."""
    from features.build_context import BuildContext
    from features.registry import get_source

    source = get_source("procurement_signals")
    t = time.perf_counter()
    context = BuildContext.for_policy("refuse", ocds_engine=engine)
    frame = source.build({"releases": [Path(path)]}, context)
    quality = context.quality
    seconds = time.perf_counter() - t
    frame.drop(columns=["_row", "_file"]).to_parquet(out)
    processes = sum(r.kept for r in quality.tables["ocds"])
    _emit(seconds=seconds, rows=len(frame), processes=processes, processes_per_s=processes / seconds)


def ocds_python(path: str, out: str) -> None:
    """The reference engine (the line-for-line Cardinal port on json.loads)."""
    ocds_ours(path, out, "python")


def ocds_cardinal(path: str, out: str) -> None:
    """The Rust parse floor: ocdscardinal.coverage (a walk over every JSON node) on one thread."""
    os.environ["RAYON_NUM_THREADS"] = "1"  # read when Cardinal's thread pool starts, i.e. at the first call
    import ocdscardinal

    t = time.perf_counter()
    coverage = ocdscardinal.coverage(path)
    seconds = time.perf_counter() - t
    Path(out).write_text(json.dumps(coverage))
    processes = int(coverage.get("", 0))
    _emit(seconds=seconds, processes=processes, processes_per_s=processes / seconds)


def ocds_json(path: str, out: str) -> None:
    """The stdlib floor: json.loads over every line, nothing kept."""
    t = time.perf_counter()
    processes = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                json.loads(line)
                processes += 1
    seconds = time.perf_counter() - t
    Path(out).write_text(json.dumps({"processes": processes}))
    _emit(seconds=seconds, processes=processes, processes_per_s=processes / seconds)


def ocds_duckdb(path: str, out: str) -> None:
    import duckdb

    from benchmarks.reference import ocds_query

    query = ocds_query(path)
    t = time.perf_counter()
    frame = duckdb.sql(query).df()
    seconds = time.perf_counter() - t
    frame.to_parquet(out)
    processes = int(frame["processes"].sum())
    _emit(seconds=seconds, rows=len(frame), processes=processes, processes_per_s=processes / seconds)


def _default_pipeline(root: str, overrides: list[str]):
    """Params of the default world under `root`, with its features built (world written if absent)."""
    from features.panel import build_features, load_panel
    from features.synthetic import write_world
    from nexus.config import load_params

    root = Path(root)
    params = load_params(REPO / "params.yaml", [f"paths.raw={root / 'raw'}", f"paths.artifacts={root / 'artifacts'}",
                                                f"paths.tracking_uri=sqlite:///{root / 'mlflow.db'}", *overrides])
    paths = params.resolved_paths(REPO)
    if not (paths.raw / "planted_truth.json").exists():
        w = params.world
        write_world(paths.raw, params.seed, w.n_countries, w.first_year, w.last_year,
                    w.crossing_events_per_country_year, w.processes_per_country_year)
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    panel, catalog, _ = load_panel(build.directory)
    return params, panel, catalog


def models(root: str, out: str, repeat: str = "3", overrides: str = "[]") -> None:
    """SHAP (RiskModel.explain vs its members' native pred_contribs) and the backtest (ours vs a bare
    xgboost.train loop fitting the same K boosters per fold).

    Both references get the thread budget ours has (`xgb.n_jobs` members side by side, one xgboost
    thread each), so a ratio measures what our code adds, not how many cores it uses; the serial
    one-thread pred_contribs loop is timed too, for the record.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd
    import xgboost as xgb

    from training.backtest import available_features, backtest, first_fitted_origin, last_origin
    from training.model import RiskModel
    from training.selection import select_features
    from training.splits import RollingOriginByYear
    from training.train import labelled_rows

    params, panel, catalog = _default_pipeline(root, json.loads(overrides))
    tp = params.training
    frame, target = labelled_rows(panel, tp)
    chosen = select_features(catalog, tp)
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    y, years = labelled[target].to_numpy(int), labelled["year"].to_numpy()
    template = RiskModel.from_params(tp, params.seed)
    folds = list(RollingOriginByYear(first_fitted_origin(tp), last_origin(tp), tp.horizon_years)
                 .split(labelled, y, groups=years))

    workers = max(1, min(tp.xgb.n_jobs, tp.ensemble.n_members))

    def side_by_side(fn, items):
        if workers == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    def bare_loop():
        boosters, preds = [], []
        for train_idx, test_idx in folds:
            cols = available_features(labelled.iloc[test_idx], chosen, tp.ensemble.min_feature_coverage)
            d = xgb.QuantileDMatrix(labelled.iloc[train_idx][cols].to_numpy(np.float32), label=y[train_idx],
                                    feature_names=cols, max_bin=tp.xgb.max_bin, nthread=1)  # as ours
            members = side_by_side(lambda s, d=d: xgb.train(template._booster_params(s), d,
                                                            num_boost_round=tp.xgb.n_estimators),
                                   template.member_seeds())
            test = xgb.DMatrix(labelled.iloc[test_idx][cols].to_numpy(np.float32), feature_names=cols)
            margin = np.mean([b.predict(test, output_margin=True) for b in members], axis=0).astype(float)
            preds.append(pd.DataFrame({"origin": int(years[test_idx[0]]), "iso3": labelled["iso3"].iloc[test_idx],
                                       "bare": 1 / (1 + np.exp(-margin))}))
            boosters += members
        return boosters, pd.concat(preds)

    times = {"ours_xgb_only": [], "ours_all_models": [], "bare_xgb_train": []}
    contestants = {"ours_xgb_only": lambda: backtest(frame, target, chosen, tp, params.seed, xgb_only=True),
                   "bare_xgb_train": bare_loop,
                   "ours_all_models": lambda: backtest(frame, target, chosen, tp, params.seed)}
    done = {}
    for i in range(int(repeat)):  # A B C, then C B A: no contestant always runs first in a round
        for name in (list(contestants) if i % 2 == 0 else list(contestants)[::-1]):
            t = time.perf_counter()
            done[name] = contestants[name]()
            times[name].append(time.perf_counter() - t)
    bt, (_, bare_preds) = done["ours_xgb_only"], done.pop("bare_xgb_train")
    both = bt.history.merge(bare_preds, on=["origin", "iso3"], validate="one_to_one")
    prediction_diff = float((both["p_raw"] - both["bare"]).abs().max())

    final = RiskModel.from_params(tp, params.seed).fit(labelled[chosen], y)
    every = frame[chosen]
    matrix = xgb.DMatrix(every.to_numpy(np.float32), feature_names=chosen)
    final.explain(every.head(5))  # import shap and warm up outside the clock
    shap_times = {"ours_explain": [], "native_pred_contribs": [], "native_pred_contribs_serial": []}

    def contribs(booster):
        return booster.predict(matrix, pred_contribs=True)

    shap_contestants = {
        "ours_explain": lambda: final.explain(every),
        "native_pred_contribs": lambda: side_by_side(contribs, final.boosters_),
        "native_pred_contribs_serial": lambda: [contribs(b) for b in final.boosters_]}
    out_of = {}
    for i in range(int(repeat)):
        for name in (list(shap_contestants) if i % 2 == 0 else list(shap_contestants)[::-1]):
            t = time.perf_counter()
            out_of[name] = shap_contestants[name]()
            shap_times[name].append(time.perf_counter() - t)
    ours, theirs = out_of["ours_explain"], out_of["native_pred_contribs"]
    serial = out_of["native_pred_contribs_serial"]
    serial_equal = all(np.array_equal(a, b) for a, b in zip(theirs, serial, strict=True))
    mean = np.mean(theirs, axis=0)
    max_diff = max(float(np.max(np.abs(ours.values - mean[:, :-1]))),
                   float(np.max(np.abs(ours.base_values - mean[:, -1]))))
    result = {"backtest": {"folds": len(folds), "members": tp.ensemble.n_members,
                           "scored_origins": [tp.backtest.first_origin, last_origin(tp)],
                           "rows": len(labelled), "features": len(chosen), "n_estimators": tp.xgb.n_estimators,
                           "threads": workers, "seconds": times, "max_abs_prediction_diff": prediction_diff},
              "shap": {"boosters": len(final.boosters_), "rows_per_booster": len(every), "features": len(chosen),
                       "threads": workers, "seconds": shap_times, "max_abs_value_diff": max_diff,
                       "serial_equals_side_by_side": serial_equal}}
    Path(out).write_text(json.dumps(result, indent=2))
    _emit(seconds=statistics.median(times["ours_xgb_only"]))


def profile_run(workdir: str, out: str) -> None:
    """`nexus run` in `workdir` under cProfile (stats to `out`)."""
    import cProfile

    os.chdir(workdir)
    sys.argv = ["nexus", "--params", str(Path(workdir) / "params.yaml"), "run"]
    from importlib.metadata import entry_points

    (cli_entry,) = entry_points(group="console_scripts", name="nexus")  # the installed command, as users run it
    cli = cli_entry.load()

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        cli()
    except SystemExit:
        pass
    profiler.disable()
    profiler.dump_stats(out)
    _emit(seconds=0)


def profile_bids(folder: str, out: str) -> None:
    """Where ours spends its time at this size: per-query DuckDB time and the Python around it."""
    import cProfile

    from features.build_context import BuildContext
    from features.sources.procurement_bids import aggregate_bids

    files = sorted(Path(folder).rglob("*.parquet"))
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    aggregate_bids(files, BuildContext.for_policy("refuse"))
    profiler.disable()
    profiler.dump_stats(out)
    _emit(seconds=time.perf_counter() - t)


def profile_ocds(path: str, out: str, lines: str = "30000") -> None:
    """The OCDS builder on the first `lines` processes, in one process, under cProfile."""
    import cProfile
    import tempfile

    from features.build_context import BuildContext
    from features.registry import get_source

    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "ocds" / "synthetic-world" / "sample.jsonl"
        sample.parent.mkdir(parents=True)
        with open(path, "rb") as src, open(sample, "wb") as dst:
            for i, line in enumerate(src):
                if i >= int(lines):
                    break
                dst.write(line)
        profiler = cProfile.Profile()
        t = time.perf_counter()
        in_process = BuildContext.for_policy("refuse",
                                             partition_map=lambda fn, items: [fn(item) for item in items])
        profiler.enable()
        get_source("procurement_signals").build({"releases": [sample]}, in_process)
        profiler.disable()
        profiler.dump_stats(out)
    _emit(seconds=time.perf_counter() - t, processes=int(lines))


TASKS = {"bids-ours": bids_ours, "bids-duckdb": bids_duckdb, "ocds-ours": ocds_ours, "ocds-duckdb": ocds_duckdb,
         "ocds-python": ocds_python, "ocds-cardinal": ocds_cardinal, "ocds-json": ocds_json,
         "models": models, "profile-run": profile_run, "profile-bids": profile_bids, "profile-ocds": profile_ocds}

if __name__ == "__main__":
    TASKS[sys.argv[1]](*sys.argv[2:])
