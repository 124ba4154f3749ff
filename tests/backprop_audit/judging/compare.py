"""The one comparison helper: a formula's value against an oracle's, entry by entry.

Order of checks (each failure says which formula, quantity, layer, entry, and the values):
1. the formula returned something array-like and finite;
2. its shape equals the quantity's shape in the formula's convention;
3. its dtype is the network's dtype (a float32 check that silently computed in float64 is no check);
4. every entry is within its tolerance (backprop_audit.judging.tolerance), against torch and against jax.
Never a projection (no norm of the difference, no sum): one wrong entry is a wrong formula.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Comparison:
    ok: bool
    ratio: float  # worst |manual - oracle| / tol over entries and both oracles (inf for shape/NaN errors)
    problem: str  # "" when ok; otherwise one line saying what and where
    kind: str  # "ok", "mismatch", "shape", "dtype", "nonfinite", "type"
    index: tuple | None = None


def ratios(value: np.ndarray, reference: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """|value - reference| / tol entry by entry, in float64 (of one network, or of a stack of them):
    exactly equal entries count 0, whatever tol is (0, inf or NaN); a NaN value gives NaN, never <= 1."""
    shape = np.shape(value)
    if np.shape(reference) != shape:
        shape = np.broadcast_shapes(shape, np.shape(reference))
    ratio = np.empty(shape)  # one array for every step (a stack's can be large):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.subtract(value, reference, out=ratio, dtype=np.float64)
        np.abs(ratio, out=ratio)
        np.divide(ratio, tol, out=ratio, where=ratio != 0)  # |value - reference| / tol where it is not 0
    return ratio


def worst_per_network(ratio: np.ndarray, real: np.ndarray | None = None) -> np.ndarray:
    """For a stack (network axis first), each network's worst ratio over its entries: over the `real`
    ones only when given (a padded stack's padding counts 0)."""
    if real is not None:
        ratio = np.where(real, ratio, 0.0)
    return ratio.reshape(len(ratio), -1).max(axis=1)


def worst_ratio(value: np.ndarray, reference: np.ndarray, tol: np.ndarray) -> tuple[float, tuple | None]:
    """max |value - reference| / tol (`ratios`) and the index where it is reached."""
    if value.size == 0:
        return 0.0, None
    ratio = ratios(value, reference, tol)
    flat = int(np.argmax(ratio))
    index = np.unravel_index(flat, ratio.shape) if ratio.ndim else ()
    return float(ratio.ravel()[flat]), tuple(int(i) for i in index)


def _fmt(x, precision: int = 10) -> str:
    return np.format_float_scientific(float(x), precision=precision, unique=False) if np.ndim(x) == 0 else str(x)


def _digits_that_differ(values) -> int:
    """10 significant digits, or as many more (up to 17, a float64's) as it takes for values that differ to print
    differently: a failure at 27 x tolerance printed manual and oracle alike (an outside tester)."""
    distinct = {float(v) for v in values}
    for precision in range(10, 17):
        if len({_fmt(v, precision) for v in distinct}) == len(distinct):
            return precision
    return 16


# A float32 network's claim that answers in float64 is most often NumPy's promotion of a float32 array with a
# float64 one (np.where(z > 0, 1.0, 0.01) is float64), which a float32 check then does not check: said so.
UPCAST_HINT = (" (NumPy made it float64: an array of float64 constants, such as np.where(z > 0, 1.0, 0.01), "
               "promotes the float32 result; cast it to the network's dtype, e.g. .astype(z.dtype))")


def compare_entrywise(label: str, value, oracles: dict[str, np.ndarray], tol: np.ndarray, dtype) -> Comparison:
    """Compare `value` (the formula's result) with each oracle's value; `label` names formula, quantity, layer."""
    if isinstance(value, (int, float, np.number)) or isinstance(value, np.ndarray):
        value = np.asarray(value)
    else:
        return Comparison(False, float("inf"), f"{label}: returned {type(value).__name__}, not an array", "type")
    shape = next(iter(oracles.values())).shape
    if value.shape != shape:
        return Comparison(False, float("inf"), f"{label}: shape {value.shape}, expected {shape}", "shape")
    if value.dtype != np.dtype(dtype):
        return Comparison(False, float("inf"), f"{label}: dtype {value.dtype}, expected {np.dtype(dtype)}"
                          + (UPCAST_HINT if value.dtype == np.float64 else ""), "dtype")
    if not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0]) if value.ndim else ()
        return Comparison(False, float("inf"), f"{label}: non-finite value {value[bad]} at index {bad}", "nonfinite", bad)
    worst, where, who = 0.0, None, None
    for name, reference in oracles.items():
        ratio, index = worst_ratio(value, reference, tol)
        if ratio > worst or who is None:
            worst, where, who = ratio, index, name
    if worst <= 1.0:
        return Comparison(True, worst, "", "ok", where)
    digits = _digits_that_differ([value[where]] + [r[where] for r in oracles.values()])
    values = ", ".join(f"{n} {_fmt(r[where], digits)}" for n, r in oracles.items())
    return Comparison(False, worst, f"{label} at index {where}: manual {_fmt(value[where], digits)}, {values}; "
                      f"|error| = {worst:.3g} x tolerance ({_fmt(tol[where])})", "mismatch", where)
