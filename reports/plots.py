"""The report's plots: error / tolerance over all examples, on a log scale, with the line at 1.

A formula that holds sits far below 1 (the distance is its margin); an erratum's failing examples sit
at or above it. Each plot is an SVG element written out as text, for report.html to hold inline: no
plotting library, no image to encode, nothing fetched (an inline <svg> is neither a script nor an image
source, so the page's Content-Security-Policy needs no img-src). Text in the SVG is escaped; every plot
carries a <title> and an aria-label saying what it shows, with its counts. Passing examples are drawn in
PASSED, failing ones in FAILED (solid fills and strokes, so tests can count them in the markup).
Imports NumPy (the histogram's bins), never matplotlib, Pillow, torch or jax.

Sizes are in the SVG's own units (its viewBox): the page shows a histogram at that size on a desktop and
scales it down to a phone's width (text 13 units: ~9.5 px on a 390 px screen); the summary figure keeps
its size and scrolls. Text widths are estimated (CHAR_WIDTH), never measured: labels are placed with room
to spare.
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

from backprop_audit.verdicts.vocabulary import Verdict

FLOOR = 1e-6  # ratios below this (exact agreement included) are drawn in the lowest bin
CEILING = 1e300  # and above this (finite, but an axis to ten times it would overflow a float) in the highest
PASSED, FAILED, LINE = "#3b7dd8", "#d8453b", "#222222"
GREY = "#555555"
CHAR_WIDTH = 0.6  # a character's width in a sans-serif font, at most, as a share of the font size
HISTOGRAM_WIDTH = 440
HISTOGRAM_FONT = 13
SUMMARY_WIDTH, SUMMARY_ROW = 800, 32  # the summary: one row of dots per formula
SUMMARY_FONT = 11
DOT = 3.4  # a summary dot's diameter
SVG_NS = "http://www.w3.org/2000/svg"


def _clamp(ratios) -> list[float]:
    return [min(max(r, FLOOR), CEILING) for r in ratios if r is not None and math.isfinite(r)]


def drawn_count(ratios) -> int:
    """How many of these ratios a plot draws (one that raised or gave no number, None or inf, is not)."""
    return len(_clamp(ratios))


def _n(value: float) -> str:
    """A coordinate, to a tenth of a unit (finer than any screen shows them)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tenths(value: int) -> str:
    """A length given in tenths of a unit, as a path's number: 13 -> "1.3", -5 -> "-.5", 20 -> "2"."""
    whole, tenth = divmod(abs(value), 10)
    text = (str(whole) if whole else "") + (f".{tenth}" if tenth else "") or "0"
    return ("-" if value < 0 else "") + text


def _dots(points) -> str:
    """Path data drawing a dot at each (x, y): a zero-length line each, which round caps make a dot.
    Points that round to the same tenth of a unit are one dot (a path's stroke is painted once, so a
    second one on top changes nothing), in x order, each moved to from the one before (short numbers)."""
    parts, x0, y0 = [], 0, 0
    for x, y in sorted({(round(x * 10), round(y * 10)) for x, y in points}):
        dx, dy = _tenths(x - x0), _tenths(y - y0)
        parts.append(f"{'m' if parts else 'M'}{dx}{'' if dy.startswith('-') else ' '}{dy}h0")
        x0, y0 = x, y
    return "".join(parts)


def _log_bins(low: float, high: float) -> list[float]:
    decades = math.ceil(math.log10(high)) - math.floor(math.log10(low))
    per_decade = 4 if decades <= 10 else 2
    start = math.floor(math.log10(low))
    count = decades * per_decade
    return [10 ** (start + i / per_decade) for i in range(count + 1)]


class _LogAxis:
    """x positions of a log axis from `low` to `high` drawn between `left` and `right`."""

    def __init__(self, low: float, high: float, left: float, right: float):
        self.low, self.high = math.log10(low), math.log10(high)
        self.left, self.right = left, right

    def __call__(self, value: float) -> float:
        return self.left + (math.log10(value) - self.low) / (self.high - self.low) * (self.right - self.left)

    def ticks(self, room: float) -> list[float]:
        """Powers of ten inside the axis, every k-th decade: as many as labels `room` units wide fit."""
        first, last = math.ceil(self.low), math.floor(self.high)
        fit = max(int((self.right - self.left) // room), 2)
        # steps that divide 6 or that 6 divides: 1 and the floor's 1e-06 are ticks whenever both are inside
        step = next((k for k in (1, 2, 3, 6, 12, 30, 60, 120) if (last - first) // k + 1 <= fit), 300)
        return [10.0 ** e for e in range(step * math.ceil(first / step), last + 1, step)]


def _label(value: float) -> str:
    return f"{value:g}"  # plain "1e-06": short, and what report.json's numbers look like


def _text(x: float, y: float, text: str, anchor: str = "start", **attributes) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attributes.items())
    middle = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return f'<text x="{_n(x)}" y="{_n(y)}"{middle}{extra}>{escape(text)}</text>'


def _x_ticks(axis: _LogAxis, y: float, font: int, down: bool = True) -> str:
    """Tick marks at height y (pointing into the plot) and their labels, below (down) or above it."""
    ticks = axis.ticks(room=font * CHAR_WIDTH * 5 + 6)  # "1e+06" and a gap
    marks = "".join(f"M{_n(axis(t))} {_n(y)}v{-4 if down else 4}" for t in ticks)
    # below the axis, clear of the lowest y tick label ("0", centred on the axis line at the left)
    labels = "".join(_text(axis(t), y + font + 7 if down else y - 5, _label(t)) for t in ticks)
    return f'<path d="{marks}" stroke="{LINE}" stroke-width="1"/><g text-anchor="middle">{labels}</g>'


def _tolerance_line(axis: _LogAxis, top: float, bottom: float, font: int) -> str:
    """The dashed line at 1 and its label, inside the plot at its top."""
    x = axis(1.0)
    return (f'<path d="M{_n(x)} {_n(top)}V{_n(bottom)}" stroke="{LINE}" stroke-width="1.2" stroke-dasharray="5 3"/>'
            + _text(x + 4, top + font + 1, "tolerance"))


def _svg(width: float, height: float, label: str, font: int, body: str, css_class: str) -> str:
    return (f'<svg xmlns="{SVG_NS}" class="{css_class}" viewBox="0 0 {_n(width)} {_n(height)}" '
            f'width="{_n(width)}" height="{_n(height)}" font-family="system-ui, sans-serif" font-size="{font}" '
            f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>{body}</svg>')


def _nice_step(largest: int, ticks: int = 5) -> int:
    """1, 2, 5, 10, 20, ...: the first step that labels 0 to `largest` with at most `ticks` ticks."""
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if largest // step + 1 <= ticks:
                return step
        power *= 10


def _histogram_label(name: str, passed: list, failed: list, no_value: int) -> str:
    values = passed + failed
    label = f"Histogram of error / tolerance, log scale{' for ' + name if name else ''}: "
    if not values:
        label += "no example gave a number"
    else:
        label += (f"{len(passed)} examples agree (below the tolerance, 1), {len(failed)} fail; "
                  f"the largest is {max(values):.2g}")
    if no_value:
        label += f"; {no_value} failing example(s) raised or gave no value (not drawn)"
    return label + "."


def ratio_histogram(ratios, failing_ratios=(), name: str = "") -> str:
    """SVG: histogram of error / tolerance, passing examples in PASSED, failing ones in FAILED (stacked);
    `name` (a formula's id) goes into the plot's title."""
    passed, failed = _clamp(ratios), _clamp(failing_ratios)
    no_value = sum(r is None for r in failing_ratios)
    values = passed + failed
    high = max(values + [10.0]) * 10
    font = HISTOGRAM_FONT
    width = HISTOGRAM_WIDTH
    lines = 1 + bool(no_value)  # the legend's line, and the note on examples with no value
    left, right = 50, width - 20
    top = 8 + lines * (font + 6)
    bottom = top + 140
    height = bottom + 2 * font + 22
    axis = _LogAxis(FLOOR / 2, high, left, right)
    parts = [f'<rect x="{left}" y="{_n(top)}" width="{right - left}" height="{_n(bottom - top)}" fill="#fff" '
             f'stroke="{LINE}" stroke-width="1"/>']
    if values:
        bins = _log_bins(FLOOR, high)
        passed_counts = np.histogram(passed, bins=bins)[0] if passed else np.zeros(len(bins) - 1, int)
        failed_counts = np.histogram(failed, bins=bins)[0] if failed else np.zeros(len(bins) - 1, int)
        largest = int((passed_counts + failed_counts).max())
        step = _nice_step(largest)
        scale = (bottom - top) * 0.8 / largest  # the tallest bar at 80%: room above for the labels
        bars = []
        for i, (p, f) in enumerate(zip(passed_counts, failed_counts)):
            x0, x1 = axis(bins[i]), axis(bins[i + 1])
            base = bottom
            for count, colour in ((p, PASSED), (f, FAILED)):
                if count:
                    h = count * scale
                    bars.append(f'<rect x="{_n(x0)}" y="{_n(base - h)}" width="{_n(x1 - x0)}" height="{_n(h)}" '
                                f'fill="{colour}"/>')
                    base -= h
        parts.append(f'<g class="bars" shape-rendering="crispEdges">{"".join(bars)}</g>')
        y_ticks = range(0, int((bottom - top) / scale) + 1, step)
        parts.append(f'<path d="{"".join(f"M{left} {_n(bottom - t * scale)}h4" for t in y_ticks)}" '
                     f'stroke="{LINE}" stroke-width="1"/>')
        labels = "".join(_text(left - 4, bottom - t * scale + font * 0.35, str(t)) for t in y_ticks)
        parts.append(f'<g text-anchor="end">{labels}</g>')
        legend, x = [], left
        for count, colour, word in ((len(passed), PASSED, "agree"), (len(failed), FAILED, "fail")):
            if count:
                text = f"{word} ({count})"
                legend.append(f'<rect x="{_n(x)}" y="{_n(top - font - 3)}" width="{font - 2}" height="{font - 2}" '
                              f'fill="{colour}"/>' + _text(x + font + 2, top - 5, text))
                x += font + 14 + len(text) * font * CHAR_WIDTH
        parts += legend
        if any(v <= FLOOR for v in values):  # the lowest bin holds exact agreement too: say so
            parts.append(_text(right, top - 5, f"≤{FLOOR:g} incl. exact", "end", fill=GREY,
                               font_size=font - 1))
    else:
        parts.append(_text((left + right) / 2, (top + bottom) / 2, "no example gave a number", "middle"))
    if no_value:
        parts.append(_text(left, 8 + font, f"{no_value} failing example(s) raised or gave no value (not drawn)"))
    parts.append(_tolerance_line(axis, top, bottom, font))
    parts.append(_x_ticks(axis, bottom, font))
    parts.append(_text((left + right) / 2, height - 6, "error / tolerance (worst entry of each example)", "middle"))
    parts.append(_text(0, 0, "examples", "middle", transform=f"translate({font} {_n((top + bottom) / 2)}) rotate(-90)"))
    label = _histogram_label(name, passed, failed, no_value)
    return _svg(width, height, label, font, "".join(parts), "plot histogram")


def _jitter(i: int) -> float:
    """A dot's offset from its row's centre line, in rows: the same spread for every run."""
    return 0.25 * (((i * 7919) % 97) / 97 - 0.5)


def summary_figure(formulas: list[dict]) -> str:
    """SVG: one row per formula, every example's error / tolerance as a dot; the line at 1."""
    rows = max(len(formulas), 1)
    font = SUMMARY_FONT
    width = SUMMARY_WIDTH
    high = 10.0
    for f in formulas:
        high = max([high] + _clamp(f.get("failing_ratios") or []) + _clamp(f.get("ratios") or []))
    high *= 10
    longest = max((len(f["id"]) for f in formulas), default=0)
    left = min(12 + longest * font * CHAR_WIDTH, width / 2)
    right = width - 24
    top = 2 * font + 10  # the tick labels above the plot, so the top rows have a scale too
    bottom = top + SUMMARY_ROW * rows
    height = bottom + 3 * font + 18
    axis = _LogAxis(FLOOR / 2, high, left, right)
    parts = [f'<rect x="{_n(left)}" y="{top}" width="{_n(right - left)}" height="{bottom - top}" fill="#fff" '
             f'stroke="{LINE}" stroke-width="1"/>']
    agree = fail = 0
    names = []
    for row, f in enumerate(formulas):
        centre = top + SUMMARY_ROW * (row + 0.5)
        names.append(_text(left - 6, centre + font * 0.35, f["id"]))
        for values, colour in ((_clamp(f.get("ratios") or []), PASSED), (_clamp(f.get("failing_ratios") or []), FAILED)):
            if not values:
                continue
            # one path per row and colour, not an element a dot (~19,000 dots in the catalog's report)
            dots = _dots((axis(v), centre - _jitter(i) * SUMMARY_ROW) for i, v in enumerate(values))
            parts.append(f'<path class="dots" d="{dots}" fill="none" stroke="{colour}" stroke-opacity="0.6" '
                         f'stroke-width="{DOT}" stroke-linecap="round"/>')
            if colour == PASSED:
                agree += len(values)
            else:
                fail += len(values)
        if f["verdict"] == Verdict.ERROR and not _clamp(f.get("failing_ratios") or []):
            parts.append(_text(axis(high / 3), centre + font * 0.35, "no value", "end", fill=FAILED))
    parts.append(f'<g text-anchor="end">{"".join(names)}</g>')
    parts.append(_tolerance_line(axis, top, bottom, font))
    parts.append(_x_ticks(axis, top, font, down=False))
    parts.append(_x_ticks(axis, bottom, font))
    parts.append(_text(width / 2, height - 8, f"error / tolerance per example (blue: agrees with torch and jax, "
                                              f"red: fails; exact agreement drawn at {FLOOR:g})", "middle"))
    label = (f"Error / tolerance of the examples of {len(formulas)} formulas, one row each in catalog order, "
             f"log scale: the {agree} that agree (below the tolerance, 1) and the {fail} failing examples the "
             "searches kept.")
    return _svg(width, height, label, font, "".join(parts), "plot summary")
