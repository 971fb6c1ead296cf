"""Inline SVG charts for the reviewer page, drawn from stored values (no image files, no JS).

Each chart is a string of SVG markup with a <title> and role="img", so a screen reader
announces what it shows; the numbers behind it are in the page's tables as well.

The charts have no viewBox: they are as wide as their box, x positions are percentages and
y positions pixels, so the text is drawn at its CSS size (12–13 px) on a phone and on a wall
screen alike instead of shrinking with the chart. A marker is a nested <svg> placed at (x%, y)
holding its shape in pixels, so circles stay round whatever the width.
"""

from __future__ import annotations

import math
from html import escape

RAISES = "#b3261e"   # contribution that raises the risk
LOWERS = "#1d5fa8"   # contribution that lowers it
INK = "#1f2328"
MUTED = "#59636e"
GRID = "#d0d7de"
BAND = "#9cc3e6"     # the interval band
PLACEMENT_COLORS = {"Tier 1": ("#ffffff", INK), "Tier 2": ("#e6e9ed", INK),
                    "Tier 2 Watch List": ("#f2b36f", INK), "Tier 3": (RAISES, "#ffffff"),
                    "special case": ("#6e7781", "#ffffff"), "not ranked": ("#ffffff", MUTED)}
PLACEMENT_CODES = {"Tier 1": "1", "Tier 2": "2", "Tier 2 Watch List": "W", "Tier 3": "3", "special case": "S",
                   "not ranked": "–"}


def _probability(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def fmt_value(value: float | None) -> str:
    """A feature value as a reviewer reads it: three significant digits, 'missing' for NaN."""
    if value is None:
        return "missing"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _open(kind: str, height: int, title: str) -> list[str]:
    return [f'<svg class="chart {kind}" width="100%" height="{height}" role="img" '
            f'aria-labelledby="{kind}-title" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{kind}-title">{escape(title)}</title>']


def _at(x: float, y: float, shape: str) -> str:
    """`shape` (pixel coordinates around 0,0) placed at x% across, y px down."""
    return f'<svg x="{x:.2f}%" y="{y:.1f}" overflow="visible">{shape}</svg>'


def waterfall_svg(base: float, contributions: list[dict], max_rows: int = 10) -> str:
    """SHAP waterfall: from the base value, each feature's push on the log-odds, to the score.

    The largest contributions get a row each (its name above its bar); the rest are summed into one row.
    """
    shown, rest = contributions[:max_rows], contributions[max_rows:]
    rows = [(f"{c.get('name') or c['feature']} = {c.get('shown') or fmt_value(c['value'])}", c["shap"])
            for c in shown]
    if rest:
        rows.append((f"{len(rest)} other features", sum(c["shap"] for c in rest)))
    final = base + sum(c["shap"] for c in contributions)
    row_h, top = 36, 4
    cum, points = base, [base]
    for _, v in rows:
        cum += v
        points.append(cum)
    lo, hi = min(points), max(points)
    pad = (hi - lo) * 0.04 or 0.5
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:  # percent across
        return 2 + (v - lo) / (hi - lo) * 96

    height = top + row_h * (len(rows) + 2) + 26
    out = _open("waterfall", height, f"SHAP waterfall: from the base log-odds {base:+.2f} (probability "
                                     f"{_probability(base):.2f}) to {final:+.2f} (probability "
                                     f"{_probability(final):.2f})")
    for tick in _ticks(lo, hi):
        at = f"{x(tick):.2f}%"
        out.append(f'<line x1="{at}" x2="{at}" y1="{top}" y2="{height - 22}" stroke="{GRID}"/>'
                   f'<text x="{at}" y="{height - 6}" text-anchor="middle" class="tick">{tick:g}</text>')
    y = top
    out.append(_marker_row(y, row_h, "base value (average country-year)", base, x))
    cum = base
    for label, v in rows:
        y += row_h
        start, end = cum, cum + v
        cum = end
        color = RAISES if v >= 0 else LOWERS
        x0, x1 = sorted((x(start), x(end)))
        out.append(f'<text x="0" y="{y + 13}" class="label">{escape(_clip(label, 40))}</text>'
                   f'<text x="100%" y="{y + 13}" text-anchor="end" class="value" fill="{color}">'
                   f'{v:+.3f}</text>')
        out.append(f'<rect x="{x0:.2f}%" y="{y + 18}" width="{max(x1 - x0, 0.4):.2f}%" height="12" '
                   f'fill="{color}" rx="2"/>')
    y += row_h
    out.append(_marker_row(y, row_h, f"this country-year: probability {_probability(final):.3f}", final, x))
    out.append("</svg>")
    return "\n".join(out)


def _marker_row(y: float, row_h: int, label: str, value: float, x) -> str:
    return (f'<text x="0" y="{y + 13}" class="label strong">{escape(label)}</text>'
            f'<text x="100%" y="{y + 13}" text-anchor="end" class="value">{value:+.2f}</text>'
            f'<line x1="{x(value):.2f}%" x2="{x(value):.2f}%" y1="{y + 16}" y2="{y + row_h - 2}" '
            f'stroke="{INK}" stroke-width="3"/>')


def family_bars_svg(families: dict[str, float]) -> str:
    """SHAP values summed by signal family, as bars either side of zero."""
    items = sorted(families.items(), key=lambda kv: -abs(kv[1]))
    row_h, top = 30, 4
    span = max((abs(v) for _, v in items), default=1.0) or 1.0
    left, right = 36.0, 82.0  # the bars' share of the width (labels left, values right)
    zero = (left + right) / 2
    height = top + row_h * len(items) + 6
    out = _open("families", height, "SHAP values summed by signal family: " +
                ", ".join(f"{k} {v:+.2f}" for k, v in items))
    out.append(f'<line x1="{zero}%" x2="{zero}%" y1="{top}" y2="{height - 4}" stroke="{MUTED}"/>')
    for n, (family, v) in enumerate(items):
        y = top + n * row_h
        w = abs(v) / span * (right - left) / 2
        x0 = zero if v >= 0 else zero - w
        color = RAISES if v >= 0 else LOWERS
        out.append(f'<text x="0" y="{y + row_h / 2 + 4}" class="label">{escape(family)}</text>')
        out.append(f'<rect x="{x0:.2f}%" y="{y + 7}" width="{max(w, 0.3):.2f}%" height="{row_h - 14}" '
                   f'fill="{color}" rx="2"/>')
        out.append(f'<text x="100%" y="{y + row_h / 2 + 4}" text-anchor="end" class="value" '
                   f'fill="{color}">{v:+.3f}</text>')
    out.append("</svg>")
    return "\n".join(out)


MARKERS = {  # how each kind of trend point is drawn (also the legend's swatches)
    "forecast": f'<circle r="5" fill="{INK}" stroke="{INK}" stroke-width="1.5"/>',
    "current": f'<rect x="-5" y="-5" width="10" height="10" fill="{RAISES}" stroke="{INK}" '
               'stroke-width="1.5"/>',
    "fitted": f'<circle r="4.5" fill="#ffffff" stroke="{INK}" stroke-width="1.5"/>',
}


def trend_svg(points: list[dict], current_year: int, bands: dict[str, float]) -> str:
    """Per year the point is about: the probability (backtest forecast, the served model's forecast, or a
    fitted value), its interval as a band, the band cut-points, and a strip of the actual placements.

    `points` come from `service.trend.trend_points`; the year on the page is ringed.
    """
    top, plot_h = 18, 170
    strip_y, height = top + plot_h + 18, top + plot_h + 66
    years = [p["target_year"] for p in points]
    y0, y1 = min(years), max(years)
    step = 92 / max(y1 - y0, 1)

    def x(year: int) -> float:  # 4% each side: the ring around a point at either end stays inside
        return 4 + (year - y0) * step

    def y(p: float) -> float:
        return top + (1 - p) * plot_h

    out = _open("trend", height, f"Risk probability and actual placement, {y0}–{y1}: " + "; ".join(
        f"{p['target_year']} {p['probability']:.2f} ({p['kind']}), placed {p['placement']}" for p in points))
    for p in points:  # the interval band, one step per year
        if p["low"] is not None and p["high"] is not None:
            out.append(f'<rect x="{x(p["target_year"]) - step / 2:.2f}%" y="{y(p["high"]):.1f}" '
                       f'width="{step:.2f}%" height="{max(y(p["low"]) - y(p["high"]), 1):.1f}" fill="{BAND}" '
                       f'fill-opacity="0.45"/>')
    for p in (0.0, 0.5, 1.0):
        out.append(f'<line x1="0" x2="100%" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="{GRID}"/>'
                   f'<text x="0" y="{y(p) - 3:.1f}" class="tick">{p:.1f}</text>')
    for name, cut in bands.items():
        out.append(f'<line x1="0" x2="100%" y1="{y(cut):.1f}" y2="{y(cut):.1f}" stroke="{MUTED}" '
                   f'stroke-dasharray="4 4"/><text x="100%" y="{y(cut) - 3:.1f}" text-anchor="end" '
                   f'class="tick">{escape(name)} ≥ {cut:g}</text>')
    for a, b in zip(points, points[1:], strict=False):
        out.append(f'<line x1="{x(a["target_year"]):.2f}%" y1="{y(a["probability"]):.1f}" '
                   f'x2="{x(b["target_year"]):.2f}%" y2="{y(b["probability"]):.1f}" stroke="{MUTED}" '
                   f'stroke-width="1.5"/>')
    for p in points:
        px, py = x(p["target_year"]), y(p["probability"])
        out.append(_at(px, py, MARKERS[p["kind"]]))
        if p["year"] == current_year:
            out.append(_at(px, py, f'<circle r="10" fill="none" stroke="{RAISES}" stroke-width="2.5"/>'))
    out.append(f'<text x="0" y="{strip_y - 2}" class="tick">placed</text>')
    for p in points:
        fill, ink = PLACEMENT_COLORS.get(p["placement"], ("#ffffff", MUTED))
        code = PLACEMENT_CODES.get(p["placement"], "?")
        dash = ' stroke-dasharray="2 2"' if p["placement"] not in PLACEMENT_CODES or code == "–" else ""
        out.append(_at(x(p["target_year"]), strip_y + 2,
                       f'<rect x="-6.5" y="0" width="13" height="18" rx="2" fill="{fill}" '
                       f'stroke="{MUTED}"{dash}/>'
                       f'<text x="0" y="13.5" text-anchor="middle" class="code" fill="{ink}">{code}</text>'))
    every = 5 if y1 - y0 > 12 else 2 if y1 - y0 > 6 else 1
    for year in range(y0, y1 + 1):
        if (year - y0) % every == 0 or year == y1:
            anchor = "start" if year == y0 else "end" if year == y1 else "middle"
            out.append(f'<text x="{x(year):.2f}%" y="{height - 6}" text-anchor="{anchor}" '
                       f'class="tick">{year}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    raw = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
