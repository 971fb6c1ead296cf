"""The benchmark harness runs end to end on tiny inputs and checks equality; it never asserts times."""

import json

import pytest

from benchmarks import report
from benchmarks.run import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results = main(["--data", str(out / "data"), "--only", "bids,ocds", "--bids-scales", "1", "--ocds-scale", "1",
                    "--countries", "10", "--repeat", "1", "--json", str(out / "results.json"),
                    "--markdown", str(out / "benchmarks.md")])
    return out, results


def test_bid_table_build_equals_the_duckdb_reference(tiny):
    _, results = tiny
    (bids,) = results["bids"]
    assert bids["equality"]["equal"], bids["equality"]
    assert bids["rows"] > 10_000 and bids["files"] == 25
    for who in ("ours", "reference"):
        assert bids[who]["seconds"]["median"] > 0 and bids[who]["peak_rss_mb"] > 0
    assert bids["profile"]["by_library"]


def test_ocds_builder_equals_duckdb_on_the_shares_both_compute(tiny):
    _, results = tiny
    ocds = results["ocds"]
    assert ocds["equality"]["equal"], ocds["equality"]
    assert ocds["ours"]["report"]["processes"] == ocds["reference"]["report"]["processes"] > 2000
    assert ocds["profile"]["sample_processes"] == 20000


def test_json_and_markdown_are_written(tiny):
    out, results = tiny
    assert json.loads((out / "results.json").read_text())["machine"]["cores"] >= 1
    text = (out / "benchmarks.md").read_text()
    assert "| measurement | size | nexus | reference | ratio |" in text
    assert "Where the time goes" in text and results["machine"]["versions"]["duckdb"] in text


def test_report_renders_model_and_run_sections():
    seconds = {"ours_explain": [2.0], "native_pred_contribs": [1.0], "explain_via_pred_contribs": [1.02]}
    results = {"command": "python -m benchmarks.run", "started": "s", "finished": "f",
               "machine": {"cpu": "cpu", "cores": 2, "ram_gb": 24, "python": "3.11", "platform": "linux",
                           "versions": {"duckdb": "2"}, "load_average_start": (1, 1, 1), "load_average_end": (1, 1, 1)},
               "models": {"shap": {"boosters": 10, "rows_per_booster": 3667, "features": 40, "seconds": seconds,
                                   "ratio_median": 2.0, "ratio_min": 2.0, "max_abs_value_diff": 0.0},
                          "backtest": {"folds": 12, "rows": 3000, "features": 40, "n_estimators": 250,
                                       "seconds": {"ours_xgb_only": [1.1], "bare_xgb_train": [1.0],
                                                   "ours_all_models": [1.5]},
                                       "ratio_median": 1.1, "ratio_min": 1.1, "ratio_all_models": 1.5,
                                       "max_abs_prediction_diff": 0.0}},
               "run": {"wall_s": 30.0, "total_s": 28.0, "stages": {"features": 5.0, "train": 20.0},
                       "peak_rss_mb": 900.0}}
    text = report.render(results)
    assert "1.020×" in text and "| `nexus run`, default world, fresh folder |" in text
    assert "features 5.0 s, train 20.0 s" in text and "s CPU" not in text  # an older results.json
    results["run"] |= {"cpu_s": 45.0, "load_average": (1.5, 1.0, 1.0)}
    assert "45.0 s CPU" in report.render(results) and "load average 1.5" in report.render(results)
    results["run"] |= {"repeat": 3, "wall_s_all": [31.0, 30.0, 44.0], "cpu_s_all": [46.0, 45.0, 60.0]}
    text = report.render(results)
    assert "median of 3 runs: 30.00 s wall (28.00 s inside; runs 30.00 s–44.00 s)" in text
    assert "The median of 3 runs: features 5.0 s" in text
