"""The results page: holdout first, directions generated from the numbers they state, the same bytes."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.results import (
    NO_SINGLE_VINTAGE,
    PERSISTENCE,
    PRODUCT,
    PROXY_ONLY,
    SHORT,
    direction,
    gather,
    inferred_usage,
    label_table,
    missing_shap,
    render,
)
from nexus.console import command_line

REPO = Path(__file__).resolve().parents[2]
SENTENCE = re.compile(
    r"^(?P<a>.+?) vs (?P<b>.+?), (?P<label>.+?): (?P<verdict>better, interval excludes 0|worse, interval "
    r"excludes 0|no clear difference|not measured) \((?P=a) − (?P=b) = (?P<diff>[+-][\d.]+) "
    r"\[(?P<low>[+-][\d.]+), (?P<high>[+-][\d.]+)\]; (?P<dir>higher|lower) is better\)\.$"
)


# Smaller still than the shared SMALL settings: the page's mechanics, not the model's skill, are under test.
TINY = {
    "training.xgb.n_estimators": 15,
    "training.ensemble.n_members": 1,
    "training.bootstrap.n_resamples": 50,
}


def _gather(params, paths, variants):
    return gather(params, paths, command="nexus results", horizons=(1, 3), variants=variants)


@pytest.fixture(scope="module")
def results_root(small_params, small_features, tmp_path_factory):
    """A root whose artifacts already hold the session's small panel (copied, so nothing rebuilds it)."""
    root = tmp_path_factory.mktemp("results")
    target = root / "artifacts" / "features" / small_features.directory.name
    shutil.copytree(small_features.directory, target)
    return root


@pytest.fixture(scope="module")
def gathered(small_params, results_root):
    """The product model at horizons 1 and 3 on the small synthetic settings, gathered twice (the second
    time from the cached trainings and scores), each rendered."""
    params, paths = small_params(results_root, TINY)
    first = _gather(params, paths, [PRODUCT])
    again = _gather(params, paths, [PRODUCT])
    return params, paths, first, render(first), render(again)


def test_page_is_the_same_bytes_rendered_twice_and_regathered_from_cache(gathered, results_root):
    _, _, inputs, page, again = gathered
    assert render(inputs).text == page.text
    assert again.text == page.text
    assert str(results_root) not in page.text and str(REPO) not in page.text  # no absolute paths
    assert not re.search(r"version \d|v\d+\b", page.text)  # no registry version numbers


def test_holdout_leads_then_development_then_the_rest(gathered):
    text = gathered[3].text
    order = [
        text.index(h)
        for h in (
            "## 1. Holdout",
            "## 2. Development origins",
            "## 3. Transitions and horizons",
            "## 4. Calibration",
            "## 5. Which baselines",
            "## 6. Missing values",
            "## 7. Labels",
            "## 8. Data-timing",
            "## 9. What the label measures",
            "## Inputs",
        )
    ]
    assert order == sorted(order)
    holdout = text[order[0] : order[1]]
    assert "rows 2021–2023 → reports 2022–2024" in holdout  # SMALL: holdout origins 2021–2023 at horizon 1


def _expected(diff, low, high, higher):
    """The direction, written out again here: the test must not trust `direction` to check itself."""
    if any(math.isnan(v) for v in (diff, low, high)):
        return "not measured"
    if (higher and low > 0) or (not higher and high < 0):
        return "better, interval excludes 0"
    if (higher and high < 0) or (not higher and low > 0):
        return "worse, interval excludes 0"
    return "no clear difference"


def _source_numbers(inputs, s):
    if s.table == "beats":
        served = inputs.training(PRODUCT, s.horizon)
        m = served.metrics["beats"][s.versus][s.metric]
        return m["diff"], m["low"], m["high"]
    table = inputs.versus_persistence.paired if s.table == "persistence" else inputs.versus_product
    row = table[
        (table["horizon"] == s.horizon)
        & (table["holdout"] == (s.era == "holdout"))
        & (table["model"] == s.model)
        & (table["subset"] == s.subset)
        & (table["metric"] == s.metric)
    ]
    assert len(row) == 1, s
    assert row["reference"].iat[0] == s.versus
    return row["diff"].iat[0], row["low"].iat[0], row["high"].iat[0]


def check_sentences(inputs, page):
    higher_is_better = {
        "log_loss": False,
        "brier": False,
        "auc": True,
        "average_precision": True,
        "top_k_caught": True,
    }
    for s in page.sentences:
        assert s.text in page.text
        diff, low, high = _source_numbers(inputs, s)
        assert (s.diff, s.low, s.high) == pytest.approx((diff, low, high), nan_ok=True)
        higher = higher_is_better[s.metric]
        assert s.verdict == _expected(diff, low, high, higher), s.text
        parsed = SENTENCE.match(s.text)
        assert parsed, s.text
        assert parsed["verdict"] == s.verdict and parsed["dir"] == ("higher" if higher else "lower")
        shown = [float(parsed[k]) for k in ("diff", "low", "high")]
        for key, true in zip(("diff", "low", "high"), (diff, low, high), strict=True):
            decimals = len(parsed[key].split(".")[1])
            assert abs(float(parsed[key]) - true) <= 0.5 * 10**-decimals + 1e-9, s.text
        lo, hi = (shown[1], shown[2]) if higher else (-shown[2], -shown[1])
        if s.verdict.startswith("better"):
            assert lo >= 0, s.text
        elif s.verdict.startswith("worse"):
            assert hi <= 0, s.text
        else:
            assert lo <= 0 <= hi, s.text


def test_every_direction_sentence_agrees_with_the_table_it_came_from(gathered):
    _, _, inputs, page, _ = gathered
    tables = {s.table for s in page.sentences}
    assert {"persistence", "beats"} <= tables
    assert {(s.era, s.horizon) for s in page.sentences if s.model == PRODUCT and s.versus == PERSISTENCE} >= {
        ("holdout", 1),
        ("development", 1),
        ("holdout", 3),
        ("development", 3),
    }
    check_sentences(inputs, page)
    beats = inputs.training(PRODUCT, 1).metrics["beats"]
    won = [SHORT[b] for b, entry in beats.items() if entry["beats"]]
    assert f"By that rule the served model beats: {', '.join(won) or 'none of the baselines'}." in page.text


def test_goals_are_judged_from_the_holdout_numbers(gathered):
    _, _, inputs, page, _ = gathered
    product, top_k, proxy, _ = page.goals
    paired = inputs.versus_persistence.paired
    rows = paired[
        (paired["horizon"] == 1)
        & paired["holdout"]
        & (paired["model"] == PRODUCT)
        & (paired["subset"] == "all")
    ].set_index("metric")
    better = sum(
        _expected(r["diff"], r["low"], r["high"], m != "log_loss").startswith("better")
        for m, r in rows.loc[["log_loss", "average_precision", "auc"]].iterrows()
    )
    assert product.status == {3: "met", 0: "not met"}.get(better, "partly met")
    topk = inputs.versus_persistence.topk
    held = topk[(topk["horizon"] == 1) & topk["holdout"] & (topk["model"] == PRODUCT)]
    assert top_k.numbers["caught"] == held["caught"].sum() and top_k.numbers["onsets"] == held["onsets"].sum()
    assert top_k.status == ("met" if held["caught"].sum() / held["onsets"].sum() >= 0.6 else "not met")
    assert proxy.status == "not measured"  # no proxy-only variant gathered here
    for goal in page.goals:
        assert f"{goal.goal}: **{goal.status}**" in page.text


def test_label_counts_add_up_to_the_panel(gathered):
    _, _, inputs, page, _ = gathered
    panel = inputs.panel
    table = label_table(panel, 2004).set_index("report year")
    labelled = panel[panel["label_evidence"].notna()].groupby("year").size()
    kinds = ["listed", "unlisted (stated)", "unlisted (inferred)", "special case"]
    assert table[kinds].sum(axis=1).to_dict() == labelled.to_dict()
    assert table[[f"evidence {r}" for r in (4, 3, 2, 1)]].sum(axis=1).to_dict() == labelled.to_dict()
    assert (table.loc[table.index < 2004, "binary target"] == "no").all()
    total = (
        f"| all | {int((panel['label_listed'] == 1).sum())} | "
        f"{int(((panel['label_listed'] == 0) & (panel['label_inferred'] != 1)).sum())} | "
        f"{int((panel['label_inferred'] == 1).sum())} | {int((panel['label_special_case'] == 1).sum())} |"
    )
    assert total in page.text


def test_direction_reads_the_interval_not_the_point():
    assert direction(0.02, 0.01, 0.03, True) == "better, interval excludes 0"
    assert direction(0.02, -0.01, 0.03, True) == "no clear difference"
    assert direction(-0.02, -0.03, -0.01, False) == "better, interval excludes 0"  # lower log loss
    assert direction(0.02, 0.01, 0.03, False) == "worse, interval excludes 0"
    assert direction(float("nan"), 0.0, 1.0, True) == "not measured"


def test_the_command_shown_has_no_absolute_path():
    shown = command_line(
        REPO / "params.real.yaml",
        REPO.parent / "shared" / "data" / "raw",
        ["paths.artifacts=/tmp/elsewhere", "training.top_k=20"],
    )
    assert shown == "nexus --params params.real.yaml --set training.top_k=20 results --raw ../shared/data/raw"


def test_missing_value_share_of_shap_counts_only_missing_cells():
    panel = pd.DataFrame(
        {
            "iso3": ["AAA", "BBB", "AAA"],
            "year": [2024, 2024, 2023],
            "a": [np.nan, 1.0, 1.0],
            "b": [2.0, np.nan, 2.0],
            "label_tier": [1.0, 1.0, 1.0],
            "label_listed": [0.0, 0.0, 0.0],
        }
    )
    shap_values = pd.DataFrame(
        {
            "iso3": ["AAA", "BBB", "AAA"],
            "year": [2024, 2024, 2023],
            "base_value": 0.0,
            "a": [-3.0, 1.0, 9.0],
            "b": [1.0, 0.5, 9.0],
        }
    )
    m = missing_shap(shap_values, panel, "t2wl_or_t3", 1, top=1)
    assert m.year == 2024 and m.rows == 2
    assert m.share == pytest.approx((3.0 + 0.5) / (3.0 + 1.0 + 1.0 + 0.5))
    assert m.flagged == ["AAA"]  # AAA's top driver (a) is missing; BBB's (a = 1.0) is not
    scores = pd.DataFrame({"iso3": ["AAA", "BBB", "AAA"], "year": [2024, 2024, 2023],
                           "not_ranked": ["no TIP placement, which this model reads", "", ""]})
    ranked = missing_shap(shap_values, panel, "t2wl_or_t3", 1, top=1, ranked_in=scores)
    assert ranked.rows == 1 and ranked.flagged == []  # only BBB is ranked in 2024
    assert ranked.share == pytest.approx(0.5 / 1.5)


def test_inferred_negatives_are_counted_where_backtest_rows_use_them():
    panel = pd.DataFrame(
        {"iso3": ["AAA", "AAA", "BBB"], "year": [2021, 2022, 2022], "label_inferred": [0.0, 1.0, 0.0]}
    )
    predictions = pd.DataFrame(
        {
            "iso3": ["AAA", "AAA", "BBB"],
            "year": [2021, 2022, 2021],
            "model": PRODUCT,
            "horizon": 1,
            "holdout": [False, True, False],
        }
    )
    usage = inferred_usage(predictions, panel).set_index("holdout")
    assert usage.loc[False, ["rows", "target_inferred", "current_inferred"]].tolist() == [2, 1, 0]
    assert usage.loc[True, ["rows", "target_inferred", "current_inferred"]].tolist() == [1, 0, 1]


@pytest.mark.slow
def test_variants_are_paired_on_identical_rows_and_judged(gathered, small_params, results_root):
    params, paths = small_params(results_root, TINY)
    inputs = _gather(params, paths, [PRODUCT, PROXY_ONLY, NO_SINGLE_VINTAGE])
    page = render(inputs)
    p = inputs.predictions
    for h in (1, 3):
        rows = {
            m: p[(p["model"] == m) & (p["horizon"] == h)]
            .sort_values(["origin", "iso3"])[["iso3", "origin", "y"]]
            .reset_index(drop=True)
            for m in (PRODUCT, PROXY_ONLY, PERSISTENCE)
        }
        assert rows[PRODUCT].equals(rows[PROXY_ONLY]) and rows[PRODUCT].equals(rows[PERSISTENCE])
    assert {t.model_name for t in inputs.trainings} == {
        "nexus-risk-xgb",
        "nexus-risk-xgb-h3",
        "nexus-risk-xgb-proxy-only",
        "nexus-risk-xgb-proxy-only-h3",
        "nexus-risk-xgb-no-single-vintage",
    }
    proxy_goal = page.goals[2]
    assert proxy_goal.status != "not measured"
    paired = inputs.versus_persistence.paired
    auc = paired[
        (paired["horizon"] == 3)
        & paired["holdout"]
        & (paired["model"] == PROXY_ONLY)
        & (paired["subset"] == "all")
        & (paired["metric"] == "auc")
    ]
    assert proxy_goal.numbers["auc_diff"] == pytest.approx(auc["diff"].iat[0])
    assert any(s.table == "product" and s.model == NO_SINGLE_VINTAGE for s in page.sentences)
    check_sentences(inputs, page)
    assert render(_gather(params, paths, [PRODUCT, PROXY_ONLY, NO_SINGLE_VINTAGE])).text == page.text
