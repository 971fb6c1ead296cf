"""The measurement map's page: a heatmap beside the declared lineage graph, and the markdown.

Kept apart from features/measurement_map.py (the numbers) so each stays readable; `write_page`
writes the figure and then the page, each to a temp file renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.measurement_map import MIN_N, STRONG, MeasurementMap
from nexus.manifest import atomic_path

PUBLIC_SECTOR_NOTE = ("democracy_indices holds V-Dem's public-sector corruption index (v2x_pubcorr, "
                      "inverted), another of v2x_corr's four parts, so partialling it out removes part of "
                      "the measure itself.")
OUTSIDE = "inputs outside nexus"
READABLE = 0o644  # a page for readers: the temp file's private 0600 would carry over the rename


def _layers(nodes: set[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Depth of each node: 0 when nothing in the graph feeds it, else one more than its deepest input."""
    parents = {n: [a for a, b in edges if b == n] for n in nodes}
    depth: dict[str, int] = {}

    def d(n: str, seen: frozenset = frozenset()) -> int:
        if n not in depth:
            depth[n] = 0 if not parents[n] or n in seen else 1 + max(d(p, seen | {n}) for p in parents[n])
        return depth[n]

    for n in nodes:
        d(n)
    return depth


def lineage_graph(m: MeasurementMap) -> tuple[list[tuple[str, str, int]], dict]:
    """Edges among the measures' sources and the inputs nexus holds; other inputs collapse into one node."""
    counted: dict[tuple[str, str], int] = {}
    for a, b in m.edges:
        a = a if a in m.panel_sources else OUTSIDE
        counted[(a, b)] = counted.get((a, b), 0) + 1
    labels = {}
    for s in {x.source for x in m.measures}:
        labels[s] = "\n".join(x.label for x in m.measures if x.source == s)
    return [(a, b, k) for (a, b), k in sorted(counted.items())], labels


def draw_figure(m: MeasurementMap, path: Path) -> None:
    """Heatmap of oriented r (n in each cell, declared lineage outlined) and the lineage graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [x.key for x in m.measures]
    names = [x.label for x in m.measures]
    fig, (ax, gx) = plt.subplots(1, 2, figsize=(17, 9), gridspec_kw={"width_ratios": [1.05, 1]})
    image = ax.imshow(m.r.loc[keys, keys].to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1)
    linked = {frozenset((p["a"], p["b"])) for p in m.pairs.to_dict("records")
              if p["edge"] or p["shared_inputs"] or p["shared_unobserved"]}
    for i, a in enumerate(keys):
        for j, b in enumerate(keys):
            r = m.r.loc[a, b]
            text = "—" if not np.isfinite(r) else f"{r:.2f}" if i == j else f"{r:.2f}\nn={int(m.n.loc[a, b])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if np.isfinite(r) and abs(r) > 0.6 else "black")
            if i != j and frozenset((a, b)) in linked:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6, ec="black"))
    ax.set_xticks(range(len(keys)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(keys)), names, fontsize=8)
    ax.set_title("Pearson r, oriented so higher = worse (outlined: declared shared input)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)

    edges, labels = lineage_graph(m)
    nodes = {a for a, _, _ in edges} | {b for _, b, _ in edges} | set(labels)
    depth = _layers(nodes, [(a, b) for a, b, _ in edges])
    where: dict[str, tuple[float, float]] = {}
    for level in sorted(set(depth.values())):
        row = sorted(n for n in nodes if depth[n] == level)
        for k, n in enumerate(row):
            where[n] = (level, 1 - (k + 1) / (len(row) + 1))
    kinds = {x.source: x.kind for x in m.measures}
    colours = {"trafficking": "#f4a582", "corruption": "#92c5de"}
    for a, b, k in edges:
        gx.annotate("", xy=where[b], xytext=where[a],
                    arrowprops={"arrowstyle": "-|>", "color": "0.4", "lw": 1, "shrinkA": 28, "shrinkB": 28})
        if k > 1:
            mid = ((where[a][0] + where[b][0]) / 2, (where[a][1] + where[b][1]) / 2)
            gx.text(*mid, str(k), fontsize=7, color="0.3", ha="center", bbox={"fc": "white", "ec": "none"})
    for n, (x, y) in where.items():
        text = f"{labels[n]}\n({n})" if n in labels else n
        gx.text(x, y, text, ha="center", va="center", fontsize=7, wrap=True,
                bbox={"boxstyle": "round", "fc": colours.get(kinds.get(n, ""), "0.92"), "ec": "0.5"})
    gx.set_xlim(-0.6, max(depth.values(), default=0) + 0.6)
    gx.set_ylim(0, 1)
    gx.axis("off")
    gx.set_title("Declared lineage: arrow = 'is built from' (number: how many outside inputs)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
        tmp.chmod(READABLE)
    plt.close(fig)


def _fmt(x: float, digits: int = 2) -> str:
    return "—" if not np.isfinite(x) else f"{x:.{digits}f}"


def pair_paragraph(p: dict, labels: dict[str, str]) -> str:
    """One strong pair in words: r and n, the declared relation, the partial r, the verdict."""
    a, b = labels[p["a"]], labels[p["b"]]
    text = [f"**{a} × {b}**: r = {_fmt(p['r'])} (Spearman {_fmt(p['spearman'])}), "
            f"n = {p['n']:,} country-years."]
    if p["edge"]:
        text.append(f"Declared lineage: {p['edge']}, so the agreement is shared input by construction; "
                    "no regression can take one index out of the other.")
    if p["shared_inputs"]:
        text.append(f"Shared inputs nexus holds: {', '.join(p['shared_inputs'])} "
                    f"({p['n_controls']} columns); after regressing both on them, "
                    f"partial r = {_fmt(p['partial_r'])} (n = {p['partial_n']:,}; "
                    f"r on those same rows {_fmt(p['r_same_rows'])}).")
    if p["shared_unobserved"]:
        more = len(p["shared_unobserved"])
        text.append(f"They also share {more} declared input{'s' if more > 1 else ''} nexus does not hold "
                    f"({', '.join(p['shared_unobserved'][:5])}{', …' if more > 5 else ''}), which no "
                    "partial correlation here can remove.")
    if not (p["edge"] or p["shared_inputs"] or p["shared_unobserved"]):
        text.append("No declared lineage links them: the agreement is shared signal as far as the "
                    "publishers document their inputs (an undocumented common input, or one reading the "
                    "other, would not show).")
    if "vdem_political" in (p["a"], p["b"]) and "democracy_indices" in p["shared_inputs"]:
        text.append(PUBLIC_SECTOR_NOTE)
    text.append(f"Verdict: **{p['verdict']}**.")
    return " ".join(text)


def render_markdown(m: MeasurementMap, figure_name: str, panel_key: str, command: str) -> str:
    """The page: the measures, the figure, every pair's numbers, one paragraph per strong pair."""
    labels = {x.key: x.label for x in m.measures}
    lines = ["# Measurement map: trafficking and corruption measures", "",
             f"Written by `{command}` from the panel `{panel_key}`; nothing here is tuned or chosen on.", "",
             "Each value is keyed by the year it describes (a value carried forward over several panel rows "
             "counts once). Every measure is oriented so that **higher = worse**, so a positive r is "
             "agreement; detections are left as published (they measure detection effort as much as "
             "prevalence). "
             f"A pair is **strong** when |r| ≥ {STRONG} on at least {MIN_N} pairwise-complete country-years. "
             "The partial r regresses both measures (least squares, with a constant) on every column of each "
             "declared shared input the panel holds (transitive lineage from the source registry) and "
             "correlates the residuals, on the country-years complete in all of them.", "",
             "| measure | source | column | direction | country-years | countries | years |",
             "| --- | --- | --- | --- | ---: | ---: | --- |"]
    for x in m.measures:
        v = m.table[["iso3", "year", x.key]].dropna()
        lines.append(f"| {x.label} | {x.source} | `{x.column}` | {x.meaning} | {len(v):,} | "
                     f"{v['iso3'].nunique()} | {v['year'].min()}–{v['year'].max()} |")
    if m.absent:
        lines += ["", "Not in this panel: " + ", ".join(f"{x.label} ({x.source})" for x in m.absent) + "."]
    strong = [p for p in m.pairs.to_dict("records") if p["verdict"] != "not strong"]
    lines += ["", "## The three strongest pairs", "",
              "| pair | r | n | partial r | partial n | r on the partial's rows | verdict |",
              "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {labels[p['a']]} × {labels[p['b']]} | {_fmt(p['r'])} | {p['n']:,} | "
              f"{_fmt(p['partial_r'])} | {p['partial_n'] or '—'} | {_fmt(p['r_same_rows'])} | "
              f"{p['verdict']} |" for p in strong[:3]]
    tally = pd.Series([p["verdict"] for p in strong], dtype="object").value_counts()
    lines += ["", f"{len(strong)} of {len(m.pairs)} pairs are strong: "
              + "; ".join(f"{k} {v}" for v, k in tally.items()) + "." if strong else "",
              "", f"![heatmap and lineage graph]({figure_name})", "", "## Strong pairs", ""]
    lines += [pair_paragraph(p, labels) + "\n" for p in strong] or ["No pair is strong.", ""]
    lines += ["## Every pair", "",
              "| pair | r | Spearman | n | declared relation | shared inputs held | partial r | partial n "
              "| r on those rows | verdict |",
              "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |"]
    for p in m.pairs.to_dict("records"):
        lines.append(f"| {labels[p['a']]} × {labels[p['b']]} | {_fmt(p['r'])} | {_fmt(p['spearman'])} | "
                     f"{p['n']:,} | {p['edge'] or '—'} | {', '.join(p['shared_inputs']) or '—'} | "
                     f"{_fmt(p['partial_r'])} | {p['partial_n'] or '—'} | {_fmt(p['r_same_rows'])} | "
                     f"{p['verdict']} |")
    lines += ["", "## Reading it", "",
              "- *Shared input*: the correlation falls below the strong line once the declared shared inputs "
              "are removed, or one index is declared to be built from the other.",
              "- *Shared signal*: the correlation survives, or no declared lineage links the two.",
              "- *Undecided*: it survives the inputs nexus holds, but the two share declared inputs nexus "
              "does not hold (expert surveys such as EIU, WEF EOS, PRS ICRG), so the survival is an upper "
              "bound.",
              "- Lineage is declared per source, not per column: the WGI's declared inputs are those of all "
              "six estimates, so an edge to control of corruption may be wider than the publisher's use of "
              "that input for this one estimate.",
              "- Partialling on a whole source (all six V-Dem democratic-spaces indices, all WJP factors) "
              "also removes general regime quality that is not strictly an input; a partial r near 0 says "
              "the pair adds nothing beyond those sources, not that the publishers copied each other.", ""]
    return "\n".join(lines)


def write_page(m: MeasurementMap, markdown_path: Path, panel_key: str,
               command: str) -> tuple[Path, Path]:
    """The PNG beside the markdown (same stem), then the markdown; each written whole or not at all."""
    markdown_path = Path(markdown_path)
    figure_path = markdown_path.with_suffix(".png")
    draw_figure(m, figure_path)
    with atomic_path(markdown_path) as tmp:
        tmp.write_text(render_markdown(m, figure_path.name, panel_key, command), encoding="utf-8")
        tmp.chmod(READABLE)
    return markdown_path, figure_path


def strongest(m: MeasurementMap, k: int = 3) -> pd.DataFrame:
    """The k pairs with the largest |r| (for the command's summary line)."""
    return m.pairs.head(k)
