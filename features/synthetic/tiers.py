"""How tier placements follow the latent risk: late, with inertia, and with political surprises.

The world's physics, not analyst parameters; `planted_truth.json` records every constant here.
"""

from __future__ import annotations

import numpy as np

TIER_LABELS = ("Tier 1", "Tier 2", "Tier 2 Watch List", "Tier 3")
# How placements follow the risk (`place_tiers`): the world's physics, not analyst parameters.
PLACEMENT_LAG_YEARS = 2               # the report of year t judges the risk of year t - 2
TIER_CUTS = (-2.6, 0.0, 1.4)          # assessment cut-points: Tier 1 | Tier 2 | Watch List | Tier 3
MOVE_THRESHOLDS = (1.0, -0.2, 0.3)    # per cut: how far past it the assessment must go before a move
MOVE_SLOPE = 4.0                      # P(move) = logistic(MOVE_SLOPE * (distance past cut - threshold))
JUMP_DISTANCE = 1.2                   # this far past the band the placement jumps to the implied tier
SURPRISE_RATE = 0.02                  # yearly chance of a one-step move that no signal explains
STANDING = {"permanent_sd": 0.25, "ar_rho": 0.6, "ar_sd": 0.5}  # political standing, seen by no signal
PLACEMENT_STREAM = 9                  # the placements draw from their own generator, [seed, 9]


def place_tiers(risk_logit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tier placements that follow the latent risk late and with inertia, as a political label does.

    The report of year t judges an assessment: the risk of year t − PLACEMENT_LAG_YEARS plus a
    political standing (a permanent country offset and an AR(1) swing) that no proxy signal
    carries. The assessment implies a tier through TIER_CUTS; the placement keeps last year's
    tier unless the assessment lies outside that tier's band, and then moves one step towards
    the implied tier with a probability that grows with the distance past the cut (straight to
    it beyond JUMP_DISTANCE). Tier 1 is sticky, the Watch List cut reacts readily. A few moves
    a year are political surprises. The first year is placed at its implied tier.
    """
    n, t = risk_logit.shape
    standing = np.empty((n, t))
    rho, sd = STANDING["ar_rho"], STANDING["ar_sd"]
    standing[:, 0] = rng.normal(0, sd, n)
    for j in range(1, t):
        standing[:, j] = rho * standing[:, j - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2), n)
    standing += rng.normal(0, STANDING["permanent_sd"], n)[:, None]
    judged = np.maximum(np.arange(t) - PLACEMENT_LAG_YEARS, 0)
    assessment = risk_logit[:, judged] + standing
    cuts, thresholds = np.asarray(TIER_CUTS), np.asarray(MOVE_THRESHOLDS)
    band_low, band_high = np.r_[-np.inf, cuts], np.r_[cuts, np.inf]
    tier = np.empty((n, t), dtype=np.int64)
    tier[:, 0] = np.digitize(assessment[:, 0], cuts)
    for j in range(1, t):
        last, a = tier[:, j - 1], assessment[:, j]
        implied = np.digitize(a, cuts)
        up = implied > last
        distance = np.where(up, a - band_high[last], band_low[last] - a)  # > 0 outside the band
        cut = np.clip(np.where(up, last, last - 1), 0, len(cuts) - 1)
        p_move = 1 / (1 + np.exp(-MOVE_SLOPE * (distance - thresholds[cut])))
        move = (implied != last) & (rng.random(n) < p_move)
        placed = np.where(distance > JUMP_DISTANCE, implied, last + np.sign(implied - last))
        surprise = ~move & (rng.random(n) < SURPRISE_RATE)
        nudged = np.clip(last + rng.choice([-1, 1], n), 0, len(TIER_LABELS) - 1)
        tier[:, j] = np.where(move, placed, np.where(surprise, nudged, last))
    return tier, assessment
