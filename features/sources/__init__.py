"""Feature sources; this import list is the table of contents of the registry."""

from features.sources import (  # noqa: F401
    border_crossings,
    corruption_perceptions,
    court_cases,
    democracy_indices,
    gdp_per_capita,
    governance_indicators,
    income_group,
    judicial_metrics,
    migrant_stock,
    net_migration,
    organized_crime,
    population,
    press_freedom,
    press_freedom_old_method,
    press_incidents,
    procurement_bids,
    procurement_signals,
    tier_placements,
    tourism_arrivals,
    trafficking_detections,
)
