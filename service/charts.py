"""Inline SVG charts for the reviewer page, drawn from stored values (no image files, no JS).

Each chart is a string of SVG markup with a <title> and role="img", so a screen reader
announces what it shows; the numbers behind it are in the page's tables as well.
"""

from __future__ import annotations

import math
from html import escape

RAISES = "#b3261e"   # contribution that raises the risk
LOWERS = "#1d5fa8"   # contribution that lowers it
INK = "#1f2328"
MUTED = "#59636e"
GRID = "#d0d7de"


def _probability(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def fmt_value(value: float | None) -> str:
    """A feature value as a reviewer reads it: three significant digits, 'missing' for NaN."""
    if value is None:
        return "missing"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def waterfall_svg(base: float, contributions: list[dict], max_rows: int = 10, width: int = 760) -> str:
    """SHAP waterfall: from the base value, each feature's push on the log-odds, to the score.

    The largest contributions get a row each; the rest are summed into one row.
    """
    shown = contributions[:max_rows]
    rest = contributions[max_rows:]
    rows = [(f"{c['feature']} = {fmt_value(c['value'])}", c["shap"]) for c in shown]
    if rest:
        rows.append((f"{len(rest)} other features", sum(c["shap"] for c in rest)))
    final = base + sum(c["shap"] for c in contributions)
    label_w, value_w, row_h, top = 300, 70, 26, 34
    plot_w = width - label_w - value_w - 10
    cum, points = base, [base]
    for _, v in rows:
        cum += v
        points.append(cum)
    lo, hi = min(points), max(points)
    pad = (hi - lo) * 0.06 or 0.5
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    height = top + row_h * (len(rows) + 2) + 30
    out = [f'<svg class="chart waterfall" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-labelledby="wf-title" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="wf-title">SHAP waterfall: from the base log-odds {base:+.2f} (probability '
           f'{_probability(base):.2f}) to {final:+.2f} (probability {_probability(final):.2f})</title>']
    for tick in _ticks(lo, hi):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 8}" y2="{height - 26}" '
                   f'stroke="{GRID}"/><text x="{x(tick):.1f}" y="{height - 10}" text-anchor="middle" '
                   f'class="tick">{tick:g}</text>')
    out.append(f'<text x="{label_w}" y="16" class="axis-note">log-odds of a Tier 2 Watch List / Tier 3 '
               f'placement; red raises the risk, blue lowers it</text>')
    y = top
    out.append(_marker_row(y, row_h, "base value (average country-year)", base, x, label_w))
    cum = base
    for label, v in rows:
        y += row_h
        start, end = cum, cum + v
        cum = end
        color = RAISES if v >= 0 else LOWERS
        x0, x1 = sorted((x(start), x(end)))
        out.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" class="label">'
                   f'{escape(_clip(label, 44))}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1.5):.1f}" height="{row_h - 8}" '
                   f'fill="{color}" rx="2"/>')
        out.append(f'<text x="{width - value_w + 4}" y="{y + row_h / 2 + 4:.1f}" class="value" '
                   f'fill="{color}">{v:+.3f}</text>')
    y += row_h
    final_label = f"this country-year: probability {_probability(final):.3f}"
    out.append(_marker_row(y, row_h, final_label, final, x, label_w))
    out.append("</svg>")
    return "\n".join(out)


def _marker_row(y: float, row_h: int, label: str, value: float, x, label_w: int) -> str:
    return (f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" class="label strong">'
            f'{escape(label)}</text>'
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{y + 2}" y2="{y + row_h - 2}" stroke="{INK}" '
            f'stroke-width="3"/><text x="{x(value) + 6:.1f}" y="{y + row_h / 2 + 4:.1f}" class="value">'
            f'{value:+.2f}</text>')


def family_bars_svg(families: dict[str, float], width: int = 460) -> str:
    """SHAP values summed by signal family, as bars either side of zero."""
    items = sorted(families.items(), key=lambda kv: -abs(kv[1]))
    label_w, value_w, row_h, top = 100, 64, 30, 6
    plot_w = width - label_w - value_w
    span = max((abs(v) for _, v in items), default=1.0) or 1.0
    zero = label_w + plot_w / 2
    height = top + row_h * len(items) + 10
    out = [f'<svg class="chart families" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-labelledby="fam-title" xmlns="http://www.w3.org/2000/svg">',
           '<title id="fam-title">SHAP values summed by signal family: ' +
           escape(", ".join(f"{k} {v:+.2f}" for k, v in items)) + "</title>",
           f'<line x1="{zero}" x2="{zero}" y1="{top}" y2="{height - 10}" stroke="{MUTED}"/>']
    for n, (family, v) in enumerate(items):
        y = top + n * row_h
        w = abs(v) / span * (plot_w / 2 - 4)
        x0 = zero if v >= 0 else zero - w
        color = RAISES if v >= 0 else LOWERS
        out.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4}" text-anchor="end" class="label">'
                   f'{escape(family)}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(w, 1.5):.1f}" height="{row_h - 10}" '
                   f'fill="{color}" rx="2"/>')
        out.append(f'<text x="{width - value_w + 6}" y="{y + row_h / 2 + 4}" class="value" '
                   f'fill="{color}">{v:+.3f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def trend_svg(points: list[dict], current_year: int, bands: dict[str, float], width: int = 760) -> str:
    """Probability over the years, with the band cut-points; the year on the page is ringed."""
    left, right, top, bottom, height = 44, 16, 12, 30, 220
    plot_w, plot_h = width - left - right, height - top - bottom
    years = [p["year"] for p in points]
    y0, y1 = min(years), max(years)

    def x(year: int) -> float:
        return left + (year - y0) / max(y1 - y0, 1) * plot_w

    def y(p: float) -> float:
        return top + (1 - p) * plot_h

    out = [f'<svg class="chart trend" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="trend-title">Risk probability {y0}–{y1}: ' +
           escape(", ".join(f"{p['year']} {p['probability']:.2f}" for p in points)) + "</title>"]
    for p in (0.0, 0.5, 1.0):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{y(p) + 4:.1f}" text-anchor="end" class="tick">{p:.1f}</text>')
    for name, cut in bands.items():
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(cut):.1f}" y2="{y(cut):.1f}" '
                   f'stroke="{MUTED}" stroke-dasharray="4 4"/><text x="{width - right - 4}" '
                   f'y="{y(cut) - 4:.1f}" text-anchor="end" class="tick">{escape(name)} ≥ {cut:g}</text>')
    step = 5 if y1 - y0 > 12 else 1
    for year in range(y0, y1 + 1):
        if (year - y0) % step == 0 or year == y1:
            out.append(f'<text x="{x(year):.1f}" y="{height - 10}" text-anchor="middle" '
                       f'class="tick">{year}</text>')
    path = " ".join(f"{x(p['year']):.1f},{y(p['probability']):.1f}" for p in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="{INK}" stroke-width="2"/>')
    for p in points:
        fill = "#ffffff" if p.get("in_training") else INK
        out.append(f'<circle cx="{x(p["year"]):.1f}" cy="{y(p["probability"]):.1f}" r="3.5" fill="{fill}" '
                   f'stroke="{INK}" stroke-width="1.5"/>')
        if p["year"] == current_year:
            out.append(f'<circle cx="{x(p["year"]):.1f}" cy="{y(p["probability"]):.1f}" r="8" fill="none" '
                       f'stroke="{RAISES}" stroke-width="2.5"/>')
    out.append("</svg>")
    return "\n".join(out)


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    raw = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
