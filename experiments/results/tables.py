"""Tables computed from the gathered numbers (pure; the tests call them too): coverage, labels,
inferred negatives, |SHAP| on missing values, and the skill, paired, tier-change, per-origin and
calibration-coverage tables the sections print."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import fixed, paired_cell, with_interval
from experiments.results.models import (
    ERA,
    MODEL_LABEL,
    PAIRED,
    PERSISTENCE,
    PRODUCT,
    PROXY_ONLY,
    SHORT,
    SHOWN,
)
from experiments.results.view import EvaluationView


def coverage_table(panel: pd.DataFrame, catalog: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per country-year: the panel's coverage and, per source, the share of its declared columns observed."""
    base = {c: info for c, info in catalog.items() if info["family"] != "label" and info["extra_lag"] == 0}
    out = panel[["iso3", "year", "coverage"]].copy()
    for source in sorted({info["source"] for info in base.values()}):
        cols = [c for c, info in base.items() if info["source"] == source]
        out[source] = panel[cols].notna().mean(axis=1).round(3)
    out["coverage"] = out["coverage"].round(3)
    return out.sort_values(["iso3", "year"]).reset_index(drop=True)


def label_table(panel: pd.DataFrame, first_report_year: int) -> pd.DataFrame:
    """Per report year with a label: listed, unlisted (stated or inferred), special cases, evidence ranks."""
    labelled = panel[panel["label_evidence"].notna()]
    flags = pd.DataFrame(
        {
            "report year": labelled["year"].astype(int),
            "listed": labelled["label_listed"] == 1,
            "unlisted (stated)": (labelled["label_listed"] == 0) & (labelled["label_inferred"] != 1),
            "unlisted (inferred)": labelled["label_inferred"] == 1,
            "special case": labelled["label_special_case"] == 1,
        }
    )
    for rank in (4, 3, 2, 1):
        flags[f"evidence {rank}"] = labelled["label_evidence"] == rank
    table = flags.groupby("report year").sum().astype(int).reset_index()
    table.insert(5, "binary target", np.where(table["report year"] >= first_report_year, "yes", "no"))
    return table


def inferred_usage(predictions: pd.DataFrame, panel: pd.DataFrame, model: str = PRODUCT) -> pd.DataFrame:
    """Per horizon and era: backtest rows whose target, or whose current status, is an inferred negative."""
    inferred = panel.loc[panel["label_inferred"] == 1, ["iso3", "year"]].assign(_inferred=True)
    rows = predictions[predictions["model"] == model][["iso3", "year", "horizon", "holdout"]]
    target = rows.assign(year=rows["year"] + rows["horizon"]).merge(inferred, on=["iso3", "year"], how="left")
    current = rows.merge(inferred, on=["iso3", "year"], how="left")
    out = rows.assign(
        target_inferred=target["_inferred"].fillna(False).astype(bool).to_numpy(),
        current_inferred=current["_inferred"].fillna(False).astype(bool).to_numpy(),
    )
    table = out.groupby(["horizon", "holdout"])[["target_inferred", "current_inferred"]].sum().astype(int)
    table["rows"] = out.groupby(["horizon", "holdout"]).size()
    return table.reset_index()


@dataclass(frozen=True)
class MissingShap:
    year: int
    share: float  # |SHAP| on missing values / all |SHAP|, latest scored year
    rows: int
    flagged: list[str]  # countries whose top-3 drivers include a missing value
    by_feature: pd.DataFrame  # feature, rows missing, share of |SHAP| on missing values


def missing_shap(
    shap_values: pd.DataFrame,
    panel: pd.DataFrame,
    target: str,
    horizon: int,
    top: int = 3,
    ranked_in: pd.DataFrame | None = None,
) -> MissingShap:
    """How much of the latest scored year's |SHAP| sits on values missing in the panel (NaN cells).

    `ranked_in`: the served scores; only their ranked rows count (the rows listed apart as
    insufficient data, e.g. territories the TIP report never ranks, get no rank or band).
    """
    from training.targets import add_targets

    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    latest = int(shap_values["year"].max())
    s = shap_values[shap_values["year"] == latest].sort_values("iso3", kind="stable")
    frame = add_targets(panel, target, horizon)  # the current placement columns too
    columns = list(dict.fromkeys(["current_listed", *features]))
    values = s[["iso3", "year"]].merge(frame[["iso3", "year", *columns]], on=["iso3", "year"], how="left")
    if ranked_in is not None:
        ranked = ranked_in.loc[ranked_in["not_ranked"].fillna("") == "", ["iso3", "year"]]
        kept = s[["iso3", "year"]].merge(ranked.assign(_ranked=True), on=["iso3", "year"], how="left")
        keep = kept["_ranked"].eq(True).to_numpy()
        s, values = s[keep], values[keep]
    missing = values[features].isna().to_numpy()
    strength = s[features].abs().to_numpy(float)
    total = strength.sum()
    share = float(strength[missing].sum() / total) if total > 0 else float("nan")
    order = np.argsort(-strength, axis=1, kind="stable")[:, :top]
    flagged_rows = np.take_along_axis(missing, order, axis=1).any(axis=1)
    on_missing = (strength * missing).sum(axis=0)
    by_feature = pd.DataFrame(
        {
            "feature": features,
            "rows missing": missing.sum(axis=0).astype(int),
            "share of |SHAP| on missing values": on_missing / total if total > 0 else np.nan,
        }
    )
    by_feature = by_feature[by_feature["rows missing"] > 0].sort_values(
        ["share of |SHAP| on missing values", "feature"], ascending=[False, True], kind="stable"
    )
    return MissingShap(
        latest, share, len(s), sorted(s.loc[flagged_rows, "iso3"].tolist()), by_feature.reset_index(drop=True)
    )


def skill_table(view: EvaluationView, h: int, holdout: bool) -> pd.DataFrame:
    rows = []
    for model in view.present(h, holdout):
        rows.append(
            {
                "model": MODEL_LABEL.get(model, model),
                **{
                    label: with_interval(*view.get(h, holdout, model, "all", m))
                    for m, label in SHOWN.items()
                },
            }
        )
    return pd.DataFrame(rows)


def paired_table(view: EvaluationView, h: int, holdout: bool, versus: str = PERSISTENCE) -> pd.DataFrame:
    rows = []
    for model in view.present(h, holdout):
        if model == versus:
            continue
        rows.append(
            {
                f"model − {SHORT[versus]}": MODEL_LABEL.get(model, model),
                **{
                    SHOWN[m]: paired_cell(*view.diff("persistence", h, holdout, model, "all", m))
                    for m in PAIRED
                },
            }
        )
    return pd.DataFrame(rows)


def change_table(view: EvaluationView, h: int, holdout: bool) -> pd.DataFrame:
    _, onsets = view.events(h, holdout, "onset")
    rows = []
    for model in view.present(h, holdout):
        caught = view.get(h, holdout, model, "onset", "top_k_caught")[0]
        random = view.get(h, holdout, model, "onset", "top_k_random")[0]
        rows.append(
            {
                "model": MODEL_LABEL.get(model, model),
                f"onsets in top {view.k}": f"{caught:.0f} / {onsets}" if np.isfinite(caught) else "–",
                "random list": fixed(random, 1),
                "lift": with_interval(*view.get(h, holdout, model, "onset", "top_k_lift"), digits=2),
                "onset AUC": with_interval(*view.get(h, holdout, model, "onset", "auc")),
                "exit AUC": with_interval(*view.get(h, holdout, model, "exit", "auc")),
                "onsets ≥ elevated": with_interval(
                    *view.get(h, holdout, model, "onset", "alarm_recall"), digits=2
                ),
                "alarms": fixed(view.get(h, holdout, model, "onset", "alarms")[0], 0),
            }
        )
    return pd.DataFrame(rows)


def per_origin_table(inputs: ResultsInputs, view: EvaluationView) -> pd.DataFrame:
    h = inputs.profile["horizon"]
    ev = inputs.versus_persistence
    t = ev.per_origin[
        (ev.per_origin["horizon"] == h)
        & (ev.per_origin["subset"] == "all")
        & (ev.per_origin["metric"] == "auc")
    ]
    models = [m for m in (PRODUCT, PERSISTENCE, PROXY_ONLY) if m in set(t["model"])]
    if not models:
        return pd.DataFrame()
    table = t[t["model"].isin(models)].pivot(index="origin", columns="model", values="value")[models]
    table.columns = [f"AUC {SHORT[m]}" for m in models]
    top = ev.topk[(ev.topk["horizon"] == h) & (ev.topk["model"] == PRODUCT)].set_index("origin")
    table["era"] = [ERA[bool(o >= inputs.profile["holdout_first_origin"])] for o in table.index]
    table[f"onsets in top {view.k}"] = [
        f"{top.at[o, 'caught']:.0f} / {int(top.at[o, 'onsets'])}" if o in top.index else "–"
        for o in table.index
    ]
    table["random"] = [f"{top.at[o, 'random']:.1f}" if o in top.index else "–" for o in table.index]
    return table.reset_index()[
        ["origin", "era", *table.columns[: len(models)], f"onsets in top {view.k}", "random"]
    ]


def coverage_cells(doc: dict) -> dict:
    def c(d, key):
        return float(d.get(key, np.nan)) if d else np.nan

    return {
        "all rows": c(doc.get("set"), "coverage"),
        "unlisted rows": c(doc.get("set_onsets"), "coverage"),
        "onsets": c(doc.get("set_onsets"), "coverage_yes"),
        "listed rows": c(doc.get("set_exits"), "coverage"),
        "exits": c(doc.get("set_exits"), "coverage_no"),
        "both outcomes in set": 1 - c(doc.get("set"), "singleton_share") - c(doc.get("set"), "empty_share"),
    }
