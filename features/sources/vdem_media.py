"""V-Dem v14 media indicators: harassment of journalists, media censorship, freedom of expression.

`v2meharjrn` and `v2mecenefm` are latent expert scores (higher = less harassment, less
censorship); `v2x_freexp` is a 0–1 index. `v2x_freexp_altinf` is in the file too but not read
here: democracy_indices already holds it (`vdem_free_expression`). Reading, country codes and
calendar: features/sources/_vdem.py.
"""

from __future__ import annotations

from features.sources import _vdem

MEASURES = {
    "v2meharjrn": ("vdem_journalist_harassment", _vdem.LATENT, "harassment of journalists, higher = less"),
    "v2mecenefm": ("vdem_media_censorship", _vdem.LATENT, "government censorship of the media, higher = less"),
    "v2x_freexp": ("vdem_freedom_of_expression", _vdem.INDEX, "freedom of expression index"),
}


build = _vdem.register("vdem_media", "press", MEASURES, __doc__)
