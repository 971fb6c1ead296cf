"""V-Dem v14 media indicators: harassment of journalists, media censorship, freedom of expression.

`v2meharjrn` and `v2mecenefm` are latent expert scores (higher = less harassment, less
censorship); `v2x_freexp` is a 0–1 index. `v2x_freexp_altinf` is in the file too but not read
here: democracy_indices already holds it (`vdem_free_expression`). Reading, country codes and
calendar: features/sources/_vdem.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.registry import register_source
from features.sources import _vdem

MEASURES = {
    "v2meharjrn": ("vdem_journalist_harassment", _vdem.LATENT, "harassment of journalists, higher = less"),
    "v2mecenefm": ("vdem_media_censorship", _vdem.LATENT, "government censorship of the media, higher = less"),
    "v2x_freexp": ("vdem_freedom_of_expression", _vdem.INDEX, "freedom of expression index"),
}


@register_source(
    name="vdem_media",
    family="press",
    publisher=_vdem.PUBLISHER,
    raw_globs={"table": _vdem.GLOB},
    downloads=(_vdem.DOWNLOAD,),
    columns=_vdem.columns(MEASURES),
    available_after_years=1,
    lineage=_vdem.LINEAGE,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    return _vdem.read(files, MEASURES)
