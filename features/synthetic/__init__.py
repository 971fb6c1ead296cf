"""The embedded default: a seeded synthetic world written in the real publishers' file formats.

Fictional countries on ISO user-assigned codes (XAA…) so nobody mistakes a score for a
real one. A latent process drives every file: a shared governance factor and five
country-level drivers that evolve as AR(1) series. A latent risk depends on the drivers
through *planted effects of known size*; each driver surfaces in one proxy signal with
measurement noise, some signals are pure noise, and the corruption perceptions index is
built partly from two other indices, as real composite indices are.

The tier placement is a political label, so it does not track the risk instantly: signals
move first, placements follow (`place_tiers`). The report of year t judges the risk of year
t − 2 plus a political standing that no signal sees, and it keeps last year's tier unless
that assessment has moved well past a cut-point. A proxy file is published with lag 1, so
the newest signals at row t already show the risk on which the report of t + 1 will be based.
`planted_truth.json` records it all, with the skill an oracle gets from the latent signals,
the current tier and both (`oracle_skill`), so tests can judge the pipeline against them.

Countries enter late, editions go missing, and each publisher has its own lag, so the
builders meet the same problems as on real files.

Modules: `latent` (the latent state, `simulate`), `tiers` (placement dynamics), `files` (the
publishers' file formats), `events` (event tables at scale), `truth` (`planted_truth.json`),
`world` (`write_world`, which writes them all in the order that fixes the bytes).
"""

from features.synthetic.events import world_scale
from features.synthetic.world import write_world

__all__ = ["world_scale", "write_world"]
