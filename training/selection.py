"""Which panel columns a model reads: exclusions, the current placement, and independent sources only.

"Independent" is decided from declared lineage (the rule lives in features/lineage.py), not
from correlations: a source is dropped when it, or anything it is built from, is the label's
source, the corruption index, or one of their inputs. A model on what remains cannot be
re-reading the index (or the label) through a composite built from the same surveys.
"""

from __future__ import annotations

from nexus.config import TrainingParams


def panel_sources(catalog: dict) -> tuple[set[str], list[str]]:
    """(every source in this panel, its label sources), from the feature catalog."""
    labels = [info["source"] for info in catalog.values() if info["family"] == "label"]
    return {info["source"] for info in catalog.values()}, list(dict.fromkeys(labels))


def check_exclusions(names: list[str]) -> None:
    """Every excluded name must be a registered family, source or column: a typo must not be a no-op."""
    import re

    from features.registry import FAMILIES, list_sources
    from nexus.errors import ConfigError

    sources = list_sources()
    known = set(FAMILIES) | {s.name for s in sources} | {c for s in sources for c in s.columns}
    for name in names:
        if re.sub(r"_lag\d+$", "", name) not in known:
            raise ConfigError("params", "training.exclude_features",
                              f"{name!r} is no family, source or column; "
                              f"families: {', '.join(FAMILIES[:-2])}; "
                              f"sources: {', '.join(s.name for s in sources)}")


def select_features(catalog: dict, params: TrainingParams) -> list[str]:
    """Feature columns after exclusions by name, source or family; label history only if asked."""
    check_exclusions(params.exclude_features)
    from training.targets import leaking_sources

    excluded = set(params.exclude_features)
    sources, labels = panel_sources(catalog)
    if params.independent_sources_only:
        from features.lineage import dependent_sources

        excluded |= dependent_sources(sources, *labels)
    # an edition target's own source and those sharing its inputs are never features; GSI's response
    # reads the TIP report, so its model reads no placement either
    leaks = leaking_sources(params.target, sources)
    excluded |= leaks
    chosen = [c for c, info in catalog.items()  # label-construct columns (registry) measure the label itself
              if info["family"] != "label" and not info.get("label_construct")
              and not excluded & {c, info["source"], info["family"]}]
    if params.include_label_history and not leaks & set(labels):
        from training.targets import PLACEMENT_FEATURES

        chosen += list(PLACEMENT_FEATURES)
    return chosen
