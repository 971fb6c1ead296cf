"""What the page reports: the variants it trains, the order and names it shows models by, the
metrics it pairs, and the goals the issues set. Data only, so every other module can read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HORIZONS = (1, 2, 3)
PRODUCT, PROXY_ONLY, INDEPENDENT, NO_SINGLE_VINTAGE = (
    "product",
    "proxy_only",
    "independent",
    "no_single_vintage",
)
PERSISTENCE = "persistence"
# Sources stored as one vintage and coded retrospectively (V-Dem, WGI): the ablation bounds what that costs.
SINGLE_VINTAGE = ("democracy_indices", "governance_indicators")
# Goals the issues set (issue 9: top-30 share; issue 9 item 3: missing-value share of |SHAP|).
GOAL_TOP_K_SHARE = 0.60
GOAL_MISSING_SHAP = 0.05


@dataclass(frozen=True)
class Variant:
    """A model the page reports: dotted overrides of the params, its registry-name suffix, its horizons."""

    name: str
    overrides: Mapping[str, object]
    suffix: str
    every_horizon: bool  # False: the served horizon (training.horizon_years) only


VARIANTS = (
    Variant(PRODUCT, {}, "", True),
    Variant(PROXY_ONLY, {"training.include_label_history": False}, "-proxy-only", True),
    Variant(
        INDEPENDENT,
        {"training.include_label_history": False, "training.independent_sources_only": True},
        "-independent",
        True,
    ),
    Variant(NO_SINGLE_VINTAGE, {}, "-no-single-vintage", False),  # exclusions: SINGLE_VINTAGE in the panel
)
BASELINE_ORDER = (PERSISTENCE, "same_as_now", "cpi_logistic", "base_rate")
MODEL_ORDER = (PRODUCT, PERSISTENCE, "same_as_now", PROXY_ONLY, INDEPENDENT, "cpi_logistic", "base_rate")
MODEL_LABEL = {
    PRODUCT: "product model (placement + proxy signals)",
    PERSISTENCE: "persistence (4-tier rate)",
    "same_as_now": "same as now",
    PROXY_ONLY: "proxy signals only",
    INDEPENDENT: "independent sources only (proxy)",
    "cpi_logistic": "corruption index only (logistic)",
    "base_rate": "base rate",
    NO_SINGLE_VINTAGE: "product without the single-vintage sources",
}
SHORT = {
    PRODUCT: "product",
    PERSISTENCE: "persistence",
    "same_as_now": "same-as-now",
    PROXY_ONLY: "proxy-only",
    INDEPENDENT: "independent",
    "cpi_logistic": "CPI-only",
    "base_rate": "base rate",
    NO_SINGLE_VINTAGE: "without single-vintage",
}
SHOWN = {"log_loss": "log loss", "average_precision": "AP", "auc": "AUC", "brier": "Brier"}
PAIRED = ("log_loss", "average_precision", "auc")
SUBSET_METRIC = {("all", m): label for m, label in SHOWN.items()} | {
    ("onset", "auc"): "onset AUC",
    ("exit", "auc"): "exit AUC",
    ("onset", "top_k_caught"): "onsets in the top k",
}
ERA = {True: "holdout", False: "development"}
