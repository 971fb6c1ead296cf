"""`planted_truth.json`: the planted effects, the placement dynamics, and what an oracle can know.

Tests judge the pipeline against these figures: the skill logistic regressions reach on the
world's latent state (`oracle_skill`) and the realised tier dynamics (`tier_dynamics`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from features.synthetic.files import MISSING_RSF_EDITIONS
from features.synthetic.latent import DRIVER_EFFECTS, DRIVERS, World, placed
from features.synthetic.tiers import (
    JUMP_DISTANCE,
    MOVE_SLOPE,
    MOVE_THRESHOLDS,
    PLACEMENT_LAG_YEARS,
    STANDING,
    SURPRISE_RATE,
    TIER_CUTS,
    TIER_LABELS,
)

# The panel feature through which each driver is observed (with measurement noise).
DRIVER_SIGNALS = {"procurement_capture": "procurement_single_bid_share",
                  "migration_pressure": "crossings_per_100k",
                  "judicial_weakness": "wjp_criminal_justice_corruption",
                  "press_repression": "press_freedom_score",
                  "administrative_corruption": "wgi_control_of_corruption"}
NOISE_SIGNALS = ("wgi_political_stability", "press_freedom_safety", "crossings_share_minors")
DERIVED_SIGNALS = {"cpi_score": ("governance_indicators", "judicial_metrics")}
ORACLE_ORIGINS = (2015, 2023)         # the backtest origins the oracle figures are computed on
ORACLE_HORIZONS = (1, 2, 3)


def _fit_logistic(X: np.ndarray, y: np.ndarray, ridge: float = 1e-3, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood logistic regression (Newton's method, a tiny ridge so separation cannot diverge)."""
    X = np.column_stack([np.ones(len(X)), X])
    penalty = np.full(X.shape[1], ridge)
    penalty[0] = 0.0
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-X @ beta))
        gradient = X.T @ (y - p) - penalty * beta
        hessian = (X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def _predict_logistic(beta: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (ties count half); None when one class is absent."""
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        return None
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


SIGNAL_LAGS = (1, 2)  # row t's published signals describe year t - 1, their lag-1 copies year t - 2


def oracle_skill(world: World) -> dict:
    """What the world's own latent state can tell about the tier h years ahead, per information set.

    Rows (i, t): country i placed at t and at t + h, t at least two years after the first year.
    Outcome: Watch List or Tier 3 at t + h. Three logistic regressions: "signals" on the five
    latent drivers at t − 1 and t − 2 (the noise-free content of row t's published signals);
    "tier" on the one-hot current tier (the 4-tier persistence rate model); "both" on the two
    together. Rolling origins as in the backtest: at origin T (ORACLE_ORIGINS, clipped to the
    world) each model is fitted on rows with t + h ≤ T and scores the rows of t = T; the figures
    pool every origin's scores.
    """
    ranked, years = placed(world), world.years
    first_row = max(SIGNAL_LAGS)
    out = {}
    for h in ORACLE_HORIZONS:
        i_all, j_all = np.nonzero(ranked[:, first_row:len(years) - h] & ranked[:, first_row + h:])
        j_all = j_all + first_row
        if len(j_all) == 0:
            continue
        tier_now = world.tier[i_all, j_all]
        y_all = (world.tier[i_all, j_all + h] >= 2).astype(float)
        signals = np.column_stack([world.drivers[d][i_all, j_all - lag]
                                   for lag in SIGNAL_LAGS for d in DRIVERS])
        onehot = np.column_stack([tier_now == k for k in range(1, len(TIER_LABELS))]).astype(float)
        designs = {"signals": signals, "tier": onehot, "both": np.column_stack([signals, onehot])}
        scores = {k: [] for k in designs}
        tested = []
        first_origin = max(ORACLE_ORIGINS[0], int(years[first_row]))
        for origin in range(first_origin, min(ORACLE_ORIGINS[1], int(years[-1]) - h) + 1):
            train = years[j_all] + h <= origin
            test = years[j_all] == origin
            if not test.any() or len(np.unique(y_all[train])) < 2:
                continue
            for name, X in designs.items():
                scores[name].append(_predict_logistic(_fit_logistic(X[train], y_all[train]), X[test]))
            tested.append(np.flatnonzero(test))
        if not tested:
            continue
        rows = np.concatenate(tested)
        y, candidate = y_all[rows], tier_now[rows] <= 1
        origins = [int(years[j_all[t[0]]]) for t in tested]
        figures = {"n_rows": int(len(rows)), "n_onsets": int(y[candidate].sum()), "origins": origins}
        for name, parts in scores.items():
            p = np.concatenate(parts)
            figures[name] = {"log_loss": round(_log_loss(y, p), 4), "auc": _rounded(_auc(y, p)),
                             "onset_auc": _rounded(_auc(y[candidate], p[candidate]))}
        # per-origin log loss, so a subset of origins (a holdout) can be pooled by n_rows
        figures["log_loss_by_origin"] = {
            str(o): {"n_rows": int(len(t))}
            | {name: round(_log_loss(y_all[t], scores[name][k]), 4) for name in scores}
            for k, (o, t) in enumerate(zip(origins, tested, strict=True))}
        out[str(h)] = figures
    return out


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _share(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 4) if flags.size else None


def tier_dynamics(world: World) -> dict:
    """Realised tier shares, churn, onset and exit rates, and how tier changes lag risk changes."""
    ranked = placed(world)
    pair = ranked[:, 1:] & ranked[:, :-1]
    before, after = world.tier[:, :-1][pair], world.tier[:, 1:][pair]
    unlisted, listed = before <= 1, before >= 2
    change = np.diff(world.tier, axis=1).astype(float)
    risk_change = np.diff(world.risk_logit, axis=1)
    lag_corr = {}
    for lag in (-1, 0, 1, 2, 3):  # tier change at t against risk change at t - lag (too few years: left out)
        j = np.arange(change.shape[1])
        ok = (j - lag >= 0) & (j - lag < change.shape[1])
        tier_part, risk_part = change[:, j[ok]], risk_change[:, j[ok] - lag]
        keep = pair[:, j[ok]]
        if keep.sum() > 2 and tier_part[keep].std() > 0:
            lag_corr[str(lag)] = round(float(np.corrcoef(tier_part[keep], risk_part[keep])[0, 1]), 4)
    shares = np.bincount(world.tier[ranked], minlength=len(TIER_LABELS)) / ranked.sum()
    return {
        "tier_shares": {label: round(float(x), 4) for label, x in zip(TIER_LABELS, shares, strict=True)},
        "churn": _share(before != after),
        "onset_rate": _share(after[unlisted] >= 2),
        "exit_rate": _share(after[listed] <= 1),
        "tier_change_vs_risk_change_correlation_by_lag": lag_corr,
    }


def planted_truth(world: World, seed: int) -> dict:
    return {
        "description": "Planted effects and placement dynamics of the synthetic world (nexus "
                       "features/synthetic/truth.py). oracle_skill: for each horizon h, logistic regressions "
                       "fitted on the world's latent state at rolling origins " + f"{ORACLE_ORIGINS[0]}"
                       f"-{ORACLE_ORIGINS[1]} (fit on rows t with t + h <= origin, score rows t = origin, "
                       "pool the scores); rows are country-years placed at t and t + h; outcome Watch List "
                       "or Tier 3 at t + h; 'signals' = the five latent drivers at t-1 and t-2 (what row "
                       "t's published signals measure, without measurement noise), 'tier' = one-hot "
                       "current tier (the 4-tier persistence rate model), 'both' = the two together; "
                       "onset_auc is among rows currently Tier 1 or Tier 2; log_loss_by_origin pools "
                       "to the headline when weighted by n_rows.",
        "seed": seed,
        "label": "Tier 2 Watch List or Tier 3 (tier placement >= 2)",
        "placement": {
            "rule": "the report of year t judges assessment(t) = risk_logit(t - lag) + political standing; "
                    "the tier moves toward the tier the assessment implies (cuts) only once it is past "
                    "the cut, with P(move) = logistic(slope * (distance past cut - threshold of that cut)), "
                    "straight to the implied tier beyond jump_distance; otherwise last year's tier stays",
            "lag_years": PLACEMENT_LAG_YEARS, "cuts": list(TIER_CUTS),
            "move_thresholds": list(MOVE_THRESHOLDS),
            "move_slope": MOVE_SLOPE, "jump_distance": JUMP_DISTANCE, "surprise_rate": SURPRISE_RATE,
            "standing": STANDING,
        },
        "driver_effects_on_logit": DRIVER_EFFECTS,
        "driver_signals": DRIVER_SIGNALS,
        "feature_effects": {DRIVER_SIGNALS[k]: v for k, v in DRIVER_EFFECTS.items()}
        | {f: 0.0 for f in NOISE_SIGNALS},
        "noise_signals": list(NOISE_SIGNALS),
        "derived_signals": {k: list(v) for k, v in DERIVED_SIGNALS.items()},
        "lags_years": {"press_freedom": 1, "corruption_perceptions": 1, "governance_indicators": 1,
                       "judicial_metrics": 1, "border_crossings": 1, "procurement_signals": 1,
                       "tier_placements": 0},
        "missing_press_freedom_editions": list(MISSING_RSF_EDITIONS),
        "late_entrants": {c: int(y) for c, y in zip(world.codes, world.entry_year, strict=True)
                          if y > world.years[0]},
        "base_rate": round(float((world.tier >= 2)[placed(world)].mean()), 4),
        "tier_dynamics": tier_dynamics(world),
        "oracle_skill": oracle_skill(world),
    }
