"""Server-rendered SVG charts of diversity (no script, no build chain). Every value is a
relative change against a reference, so one axis holds every metric: 0 is the human data,
the red line the alarm threshold. Labels are escaped; numbers are formatted here."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from workers.metrics.collapse import METRICS

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 40
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
WATCHED = [k for k, m in METRICS.items() if m.alarm]


def _scale(values: Sequence[float], drop: float) -> tuple[float, float]:
    lo = min([-drop - 0.1, *values])
    hi = max([0.1, *values])
    return max(lo, -1.0), min(hi, 2.0)


def _y(v: float, lo: float, hi: float) -> float:
    v = min(max(v, lo), hi)
    return TOP + (hi - v) / (hi - lo) * (HEIGHT - TOP - BOTTOM)


def _frame(title: str, lo: float, hi: float, drop: float) -> list[str]:
    plot_right = WIDTH - RIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
    ]
    for tick in _ticks(lo, hi):
        y = _y(tick, lo, hi)
        out.append(
            f'<line x1="{LEFT}" x2="{plot_right}" y1="{y:.1f}" y2="{y:.1f}" class="grid-line"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:+.0%}</text>'
        )
    y0, ya = _y(0, lo, hi), _y(-drop, lo, hi)
    out.append(
        f'<line x1="{LEFT}" x2="{plot_right}" y1="{y0:.1f}" y2="{y0:.1f}" class="reference" '
        'data-line="human"/>'
        f'<text x="{LEFT + 4}" y="{y0 - 4:.1f}" class="tick">human data</text>'
        f'<line x1="{LEFT}" x2="{plot_right}" y1="{ya:.1f}" y2="{ya:.1f}" class="threshold" '
        'data-line="alarm"/>'
        f'<text x="{LEFT + 4}" y="{ya - 4:.1f}" class="tick alarm-text">alarm {-drop:+.0%}</text>'
    )
    return out


def _ticks(lo: float, hi: float) -> list[float]:
    step = 0.25 if hi - lo > 0.8 else 0.1
    start = int(lo / step) * step
    out, t = [], start
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            out.append(round(t, 2))
        t += step
    return out


def _legend(names: Sequence[str]) -> list[str]:
    x = WIDTH - RIGHT + 4
    out = []
    for i, name in enumerate(names):
        y = TOP + 8 + 16 * i
        out.append(
            f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{y + 1}" class="tick">{escape(METRICS[name].label)}</text>'
        )
    return out


def over_time(snapshots: Sequence[dict], drop: float) -> SafeString | None:
    """One line per watched metric: its change against the human data as candidates landed."""
    points = [(s["n"], s["metrics"].get("change", {})) for s in snapshots if s["metrics"].get("change")]
    if len(points) < 2:
        return None
    values = [c[m] for _, c in points for m in WATCHED if m in c]
    lo, hi = _scale(values, drop)
    xs = [n for n, _ in points]
    x0, x1 = min(xs), max(xs)

    def x(n: int) -> float:
        return LEFT + (n - x0) / ((x1 - x0) or 1) * (WIDTH - LEFT - RIGHT)

    out = _frame("Diversity against the human data as candidates landed", lo, hi, drop)
    for i, name in enumerate(WATCHED):
        line = " ".join(f"{x(n):.1f},{_y(c[name], lo, hi):.1f}" for n, c in points if name in c)
        if line:
            out.append(
                f'<polyline points="{line}" fill="none" stroke="{COLORS[i % len(COLORS)]}" stroke-width="2" '
                f'data-metric="{name}"/>'
            )
    out.append(
        f'<text x="{LEFT}" y="{HEIGHT - 10}" class="tick">{x0:,} candidates</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end" class="tick">{x1:,}</text>'
    )
    out += _legend(WATCHED)
    return mark_safe("".join(out) + "</svg>")  # noqa: S308 - every label above is escaped


def by_depth(depths: Sequence[dict], drop: float) -> SafeString | None:
    """Grouped bars: per generation depth, each watched metric against the human data."""
    if not depths:
        return None
    values = [d["versus_human"]["change"].get(m, 0.0) for d in depths for m in WATCHED]
    lo, hi = _scale(values, drop)
    out = _frame("Diversity by generation depth against the human data", lo, hi, drop)
    span = (WIDTH - LEFT - RIGHT) / len(depths)
    bar = span * 0.8 / len(WATCHED)
    y0 = _y(0, lo, hi)
    for j, d in enumerate(depths):
        left = LEFT + j * span + span * 0.1
        for i, name in enumerate(WATCHED):
            v = d["versus_human"]["change"].get(name)
            if v is None:
                continue
            y = _y(v, lo, hi)
            top, height = min(y, y0), abs(y - y0)
            out.append(
                f'<rect x="{left + i * bar:.1f}" y="{top:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{max(height, 1):.1f}" '
                f'fill="{COLORS[i % len(COLORS)]}" data-depth="{d["depth"]}" data-metric="{name}">'
                f"<title>{escape(METRICS[name].label)} at depth {d['depth']}: {v:+.1%}</title></rect>"
            )
        out.append(
            f'<text x="{LEFT + (j + 0.5) * span:.1f}" y="{HEIGHT - 22}" text-anchor="middle" class="tick">'
            f"depth {d['depth']} (n={d['versus_human']['n']})</text>"
        )
    out += _legend(WATCHED)
    return mark_safe("".join(out) + "</svg>")  # noqa: S308 - every label above is escaped
