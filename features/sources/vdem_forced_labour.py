"""V-Dem v14 freedom from forced labour (overall, men, women): the label's own subject.

Forced labour is what the TIP report grades governments on, so these columns share the label's
construct (`label_construct`): they are in the panel, for other targets and the measurement
map, but never a default feature (training.selection leaves them out). An expert rating of the
same phenomenon the tiers grade would let a model re-read the label. `v2xcl_slave` is a 0–1
index, `v2clslavem` / `v2clslavef` latent scores (higher = freer). Reading, calendar: _vdem.py.
"""

from __future__ import annotations

from features.sources import _vdem

MEASURES = {
    "v2xcl_slave": ("vdem_forced_labour_freedom", _vdem.INDEX, "freedom from forced labour index"),
    "v2clslavem": ("vdem_forced_labour_freedom_men", _vdem.LATENT, "freedom from forced labour for men"),
    "v2clslavef": ("vdem_forced_labour_freedom_women", _vdem.LATENT, "freedom from forced labour for women"),
}


build = _vdem.register("vdem_forced_labour", "governance", MEASURES, __doc__,
                       label_construct=tuple(col for col, _, _ in MEASURES.values()))
