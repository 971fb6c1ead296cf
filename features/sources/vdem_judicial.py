"""V-Dem v14 judicial indicators: judicial corruption, court independence, judicial constraints.

`v2jucorrdc`, `v2juhcind` and `v2juncind` are V-Dem's latent expert scores (higher = cleaner,
more independent); `v2x_jucon` and `v2x_rule` are 0–1 indices (higher = stronger constraints,
more rule of law). Reading, country codes and calendar: features/sources/_vdem.py.
"""

from __future__ import annotations

from features.sources import _vdem

MEASURES = {
    "v2jucorrdc": ("vdem_judicial_corruption", _vdem.LATENT, "judicial corruption decision, higher = less corrupt"),
    "v2juhcind": ("vdem_high_court_independence", _vdem.LATENT, "high court independence"),
    "v2juncind": ("vdem_lower_court_independence", _vdem.LATENT, "lower court independence"),
    "v2x_jucon": ("vdem_judicial_constraints", _vdem.INDEX, "judicial constraints on the executive"),
    "v2x_rule": ("vdem_rule_of_law", _vdem.INDEX, "rule of law index"),
}


build = _vdem.register("vdem_judicial", "judicial", MEASURES, __doc__)
