"""Feature sources; this import list and the *.yaml declarations beside it (_yaml_sources.py)
are the table of contents of the registry."""

from features.sources import (  # noqa: F401
    border_crossings,
    corruption_perceptions,
    court_cases,
    gdp_per_capita,
    global_slavery_index,
    governance_indicators,
    income_group,
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
    unhcr_refugees,
    vdem_forced_labour,
    vdem_governance,
    vdem_judicial,
    vdem_media,
)
