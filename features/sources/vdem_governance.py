"""V-Dem v14 corruption and democracy indices: political, executive and legislative corruption.

`v2x_corr` and `v2x_execorr` are 0–1 indices with higher = MORE corrupt (V-Dem's direction);
`v2lgcrrpt` is a latent score with higher = less corrupt, missing where there is no legislature
(2.5% of rows from 2015 on). `v2x_polyarchy` and `v2x_libdem` (electoral and liberal
democracy, 0–1) give the regime the corruption is read in. `v2x_pubcorr` is in the file but
not read: democracy_indices holds it (inverted). Reading, codes, calendar: _vdem.py.
"""

from __future__ import annotations

from features.sources import _vdem

MEASURES = {
    "v2x_corr": ("vdem_political_corruption", _vdem.INDEX, "political corruption index, higher = more corrupt"),
    "v2x_execorr": ("vdem_executive_corruption", _vdem.INDEX, "executive corruption index, higher = more corrupt"),
    "v2lgcrrpt": ("vdem_legislative_corruption", _vdem.LATENT, "legislative corruption, higher = less corrupt"),
    "v2x_polyarchy": ("vdem_electoral_democracy", _vdem.INDEX, "electoral democracy index"),
    "v2x_libdem": ("vdem_liberal_democracy", _vdem.INDEX, "liberal democracy index"),
}


# v2x_corr averages four parts, one of them vdem_judicial's v2jucorrdc (V-Dem codebook)
build = _vdem.register("vdem_governance", "governance", MEASURES, __doc__,
                       lineage=(*_vdem.LINEAGE, "vdem_judicial"))
