"""An array as report data: in full when it is small, bounded when it is not.

A counterexample shows the network and the compared values. The catalog's minimal counterexamples hold
a handful of entries each and are written in full, as nested lists. A claim is untrusted code, though:
one that returns a 3000×3000 array of the wrong shape made report.json 153 MB, report.html 90 MB and the
run 2.9 GB of memory when every entry was written out. So an array of more than FULL_ENTRIES entries is
written as a summary a reader can still act on:

    {"shape": [3000, 3000], "dtype": "float64", "entries": 9000000,
     "window": {"start": [0, 0], "values": [[...8 entries...], ...8 rows...]},
     "min": 0.5, "max": 0.5, "nonfinite": 0,
     "digest": "blake2b-128:5f3a..."}

- window: a block of at most WINDOW entries along each of the last two axes (one along any axis before
  them) around the entry the report points at (the compared entry, the first NaN), or at the origin
  when there is none or it lies outside the array (a wrong shape); start is its first entry's index;
- min, max: over the finite entries (null when there is none); nonfinite: how many are NaN or ±inf;
- digest: blake2b with a 16-byte digest of the values as little-endian float64 in C order, so two
  runs' arrays can be told equal or different without writing either:
  hashlib.blake2b(np.ascontiguousarray(a, "<f8").tobytes(), digest_size=16).hexdigest().
Its contract is "bounded_array" in report.schema.json; reports/format.py renders it.
"""
from __future__ import annotations

import hashlib

import numpy as np

FULL_ENTRIES = 256  # arrays of up to this many entries are written in full (the catalog's have at most a few)
WINDOW = 8  # entries shown along each of the last two axes of a bounded array


def array_data(x, around=None):
    """`x` for report.json: nested lists when small, else the bounded summary with its window around
    the index `around` (in x's own shape; None or out of range: the origin)."""
    given = np.asarray(x)
    a = given.astype(np.float64, copy=False)
    return _nested(a) if a.size <= FULL_ENTRIES else _bounded(a, around, given.dtype)


def _nested(a: np.ndarray):
    """Nested lists; NaN and infinities (a formula's broken output) as the strings "nan", "inf", "-inf",
    since JSON has no such numbers."""
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.vectorize(lambda v: float(v) if np.isfinite(v) else str(v), otypes=[object])(a).tolist()


def _centre(shape: tuple, around) -> tuple:
    inside = around is not None and len(around) == len(shape) and all(0 <= i < n for i, n in zip(around, shape))
    return tuple(int(i) for i in around) if inside else (0,) * len(shape)


def _window(shape: tuple, centre: tuple) -> tuple:
    """The slices of the window: WINDOW entries around the centre on the last two axes (shifted to fit
    inside the array), the centre's own entry on any axis before them."""
    slices = []
    for axis, (n, i) in enumerate(zip(shape, centre)):
        if axis < len(shape) - 2:
            slices.append(slice(i, i + 1))
        else:
            start = max(0, min(i - WINDOW // 2, n - WINDOW))
            slices.append(slice(start, min(start + WINDOW, n)))
    return tuple(slices)


def _digest(a: np.ndarray) -> str:
    data = np.ascontiguousarray(a, dtype="<f8")
    return "blake2b-128:" + hashlib.blake2b(data.data, digest_size=16).hexdigest()


def _bounded(a: np.ndarray, around, dtype) -> dict:
    finite = np.isfinite(a)
    window = _window(a.shape, _centre(a.shape, around))
    has_finite = bool(finite.any())
    return {
        "shape": list(a.shape),
        "dtype": str(dtype),
        "entries": int(a.size),
        "window": {"start": [s.start for s in window], "values": _nested(a[window])},
        "min": float(np.min(a, where=finite, initial=np.inf)) if has_finite else None,
        "max": float(np.max(a, where=finite, initial=-np.inf)) if has_finite else None,
        "nonfinite": int(a.size - np.count_nonzero(finite)),
        "digest": _digest(a),
    }
