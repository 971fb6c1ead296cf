"""Feature sources; this import list is the table of contents of the registry."""

from features.sources import (  # noqa: F401
    border_crossings,
    corruption_perceptions,
    governance_indicators,
    judicial_metrics,
    population,
    press_freedom,
    procurement_signals,
    tier_placements,
)
