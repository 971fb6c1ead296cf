"""Backtest pictures: ROC curves, reliability, and skill per origin, one PNG each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(predictions: pd.DataFrame, path: Path) -> Path:
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for model, g in predictions.groupby("model", sort=False):
        fpr, tpr, _ = roc_curve(g["y"], g["p"])
        ax.plot(fpr, tpr, label=f"{model} (AUC {roc_auc_score(g['y'], g['p']):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title="Backtest ROC, pooled over origins")
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_reliability(predictions: pd.DataFrame, path: Path, bins: int = 10) -> Path:
    """Observed share against predicted probability per bin; XGBoost before and after calibration."""
    from training.calibration import expected_calibration_error

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    edges = np.linspace(0, 1, bins + 1)
    curves = [(m, g["p"], g["y"]) for m, g in predictions.groupby("model", sort=False)]
    raw = predictions[(predictions["model"] == "xgboost") & predictions["p_raw"].ne(predictions["p"])] \
        if "p_raw" in predictions else predictions.iloc[:0]
    if len(raw):
        curves.insert(1, ("xgboost (uncalibrated)", raw["p_raw"], raw["y"]))
    for label, p, y in curves:
        b = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        t = pd.DataFrame({"p": p.to_numpy(), "y": y.to_numpy(), "b": b}).groupby("b").mean()
        ece = expected_calibration_error(y, p, bins)
        ax.plot(t["p"], t["y"], marker="o", ls="--" if "uncalibrated" in label else "-",
                label=f"{label} (ECE {ece:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="predicted probability", ylabel="observed share", title="Reliability (backtest)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_per_origin(per_origin: pd.DataFrame, metric: str, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for model, g in per_origin.groupby("model", sort=False):
        ax.plot(g["origin"], g[metric], marker="o", label=model)
    ax.set(xlabel="origin year (forecast made with data known then)", ylabel=metric,
           title=f"Backtest {metric} by origin")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
