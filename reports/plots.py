"""The report's plots: error / tolerance over all examples, on a log scale, with the line at 1.

A formula that holds sits far below 1 (the distance is its margin); an erratum's failing examples sit
at or above it. Figures are drawn with matplotlib's Agg canvas directly (no pyplot: no global state,
no display) and returned as PNG bytes; `data_uri` makes them inline images for report.html.
The PNGs are mapped onto a fixed 16-colour palette (the plot's own colours, their blends with white and
a few greys) and stored with 4 bits a pixel: a quarter of the size of matplotlib's RGBA PNG, the same
picture, and the plot colours stay exact (tests look for them). Imports matplotlib and Pillow (which
matplotlib itself requires), never torch or jax.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np

from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from backprop_audit.verdicts.vocabulary import Verdict

FLOOR = 1e-6  # ratios below this (exact agreement included) are drawn in the lowest bin
PASSED, FAILED, LINE = "#3b7dd8", "#d8453b", "#222222"
DPI = 100
HISTOGRAM_SIZE = (5.0, 2.1)  # inches: 500 x 210 px, narrow enough to stay legible scaled to a phone
HISTOGRAM_PIXELS = tuple(round(inches * DPI) for inches in HISTOGRAM_SIZE)


def _clamp(ratios) -> list[float]:
    return [max(r, FLOOR) for r in ratios if r is not None and math.isfinite(r)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _palette() -> Image.Image:
    """White, greys for text and lines, each plot colour solid and blended with white (antialiased
    edges, the summary's semi-transparent dots): 13 of the 16 entries a 4-bit PNG can hold."""
    colours = [(255, 255, 255)] + [(g, g, g) for g in (0x22, 0x55, 0x80, 0xAA, 0xD4, 0xEE)]
    for colour in (PASSED, FAILED):
        colours += [tuple(round(255 - (255 - c) * share) for c in _rgb(colour)) for share in (1.0, 0.6, 0.3)]
    palette = Image.new("P", (1, 1))
    palette.putpalette([value for colour in colours for value in colour])
    return palette


PALETTE = _palette()


def drawn_count(ratios) -> int:
    """How many of these ratios a plot draws (one that raised or gave no number, None or inf, is not)."""
    return len(_clamp(ratios))


def _png(figure: Figure) -> bytes:
    rendered = io.BytesIO()
    FigureCanvasAgg(figure).print_png(rendered, metadata={"Software": None})
    image = Image.open(rendered).convert("RGB").quantize(palette=PALETTE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True, bits=4)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _log_bins(low: float, high: float) -> list[float]:
    decades = math.ceil(math.log10(high)) - math.floor(math.log10(low))
    per_decade = 4 if decades <= 10 else 2
    start = math.floor(math.log10(low))
    count = decades * per_decade
    return [10 ** (start + i / per_decade) for i in range(count + 1)]


def _plain_power(value, _position) -> str:
    return f"{value:g}"


def _mark_one(axes, label_floor: bool) -> None:
    axes.set_xscale("log")
    # plain "1e-06" labels and no minor ticks: the default log labels are mathtext (10^k), whose parsing
    # and layout, with a tick object per minor tick (hundreds over 20 decades), were most of a report's
    # time (0.3-0.7 s a histogram, one per formula)
    axes.xaxis.set_major_formatter(FuncFormatter(_plain_power))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.axvline(1.0, color=LINE, linewidth=1.2, linestyle="--")
    axes.text(1.0, 1.0, " tolerance", transform=axes.get_xaxis_transform(), va="top", fontsize=8)
    if label_floor:
        axes.text(FLOOR, 1.0, f"≤{FLOOR:g} incl. exact ", transform=axes.get_xaxis_transform(),
                  va="top", ha="left", fontsize=7, color="#555555")


def ratio_histogram(ratios, failing_ratios=()) -> bytes:
    """PNG: histogram of error / tolerance, passing examples in blue, failing ones in red."""
    passed, failed = _clamp(ratios), _clamp(failing_ratios)
    no_value = sum(r is None for r in failing_ratios)
    figure = Figure(figsize=HISTOGRAM_SIZE, dpi=DPI)
    axes = figure.add_subplot()
    values = passed + failed
    high = max(values + [10.0]) * 10
    bins = _log_bins(FLOOR, high)
    if values:
        # the stacked histogram as two filled step outlines (one patch per colour, not one per bin)
        edges = np.asarray(bins)
        below = np.zeros(len(bins) - 1)
        for v, colour, name in ((passed, PASSED, "agree"), (failed, FAILED, "fail")):
            if v:
                counts = below + np.histogram(v, bins=edges)[0]
                axes.stairs(counts, edges, baseline=below, fill=True, color=colour, label=f"{name} ({len(v)})")
                below = counts
        axes.set_ylim(0, max(below.max(), 1) * 1.05)
        axes.legend(fontsize=7, loc="best", frameon=False)
    else:
        axes.text(0.5, 0.5, "no example gave a number", transform=axes.transAxes, ha="center")
    axes.set_xlim(FLOOR / 2, high)
    _mark_one(axes, label_floor=any(r <= FLOOR for r in values))
    axes.set_xlabel("error / tolerance (worst entry of each example)", fontsize=8)
    axes.set_ylabel("examples", fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if no_value:
        axes.set_title(f"{no_value} failing example(s) raised or gave no value (not drawn)", fontsize=8)
    axes.tick_params(labelsize=7)
    # fixed margins, measured once with tight_layout for this size and these font sizes (tight_layout
    # measures every label's extent: a third of a histogram's time)
    figure.subplots_adjust(left=0.11, right=0.98, bottom=0.24, top=0.86 if no_value else 0.95)
    return _png(figure)


def summary_figure(formulas: list[dict]) -> bytes:
    """PNG: one row per formula, every example's error / tolerance as a dot; the line at 1."""
    rows = len(formulas)
    figure = Figure(figsize=(8.0, 1.0 + 0.32 * max(rows, 1)), dpi=DPI)
    axes = figure.add_subplot()
    high = 10.0
    for f in formulas:
        high = max([high] + _clamp(f.get("failing_ratios") or []) + _clamp(f.get("ratios") or []))
    high *= 10
    for row, f in enumerate(formulas):
        y = rows - 1 - row
        for values, colour in ((_clamp(f.get("ratios") or []), PASSED), (_clamp(f.get("failing_ratios") or []), FAILED)):
            jitter = [y + 0.25 * (((i * 7919) % 97) / 97 - 0.5) for i in range(len(values))]
            axes.scatter(values, jitter, s=6, color=colour, alpha=0.6, linewidths=0)
        if f["verdict"] == Verdict.ERROR and not _clamp(f.get("failing_ratios") or []):
            axes.text(high / 3, y, "no value", va="center", ha="right", fontsize=7, color=FAILED)
    axes.set_yticks(range(rows), [f["id"] for f in reversed(formulas)], fontsize=7, parse_math=False)
    axes.set_ylim(-0.7, rows - 0.3)
    axes.set_xlim(FLOOR / 2, high)
    _mark_one(axes, label_floor=False)
    axes.set_xlabel(f"error / tolerance per example (blue: agrees with torch and jax, red: fails; "
                    f"exact agreement drawn at {FLOOR:g})", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    return _png(figure)
