"""Which sources are not independent of the label or the corruption index, from declared lineage.

A source is *dependent* when it is the label's source or the corruption perceptions index,
when its declared lineage names either, or when it shares any input with either's lineage
(a source that is itself one of the index's inputs, such as V-Dem, counts: the index re-reads
it). The "independent sources only" variant drops every dependent source, so its skill cannot
come from re-reading the index, or the label, through a composite built from the same inputs.
Decided from what publishers document, never from correlations in the data.
"""

from __future__ import annotations

from collections.abc import Iterable

from features.registry import get_source

CORRUPTION_INDEX = "corruption_perceptions"


def declared_lineage(name: str) -> set[str]:
    """A registered source's declared inputs; a name that is not registered has none we know of."""
    try:
        return set(get_source(name).lineage)
    except KeyError:
        return set()


def dependent_sources(
    sources: Iterable[str], label_source: str, reference: Iterable[str] = (CORRUPTION_INDEX,)
) -> set[str]:
    """The subset of `sources` whose name or lineage meets the label's or the reference indices' lineage."""
    anchors = {label_source, *reference}
    shared: set[str] = set(anchors)
    for name in anchors:
        shared |= declared_lineage(name)
    return {s for s in sources if ({s} | declared_lineage(s)) & shared}


def dependence(source: str, label_source: str, reference: Iterable[str] = (CORRUPTION_INDEX,)) -> str:
    """Why `source` is not independent (empty when it is), for people reading a results page."""
    anchors = [label_source, *reference]
    own = declared_lineage(source)
    for anchor in anchors:
        if source == anchor:
            return "is the label's source" if anchor == label_source else "is the corruption index"
        if anchor in own:
            return f"is built from {anchor}"
        if source in declared_lineage(anchor):
            return f"is an input of {anchor}"
    for anchor in anchors:
        shared = sorted(own & declared_lineage(anchor))
        if shared:
            more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
            return f"shares inputs with {anchor} ({', '.join(shared[:3])}{more})"
    return ""


def independent_sources(sources: Iterable[str], label_source: str) -> list[str]:
    """`sources` without the dependent ones, in their given order."""
    sources = list(sources)
    dependent = dependent_sources(sources, label_source)
    return [s for s in sources if s not in dependent]
