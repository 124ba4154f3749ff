"""Correct formulas for any network of the default distribution, used by the benchmark and the sweep.

The weight gradient is general backpropagation (backprop.py, row convention: X (N, n0), W (in, out),
z = a @ W + b), so a benchmark measures a real check: the formula holds on every network, whatever its
activations and loss, and nothing is skipped.
"""
from __future__ import annotations

from backprop_audit.model.formula import Formula, Setting, Source
from backprop_audit.trust.backprop import weight_gradient

DEFAULT_DISTRIBUTION = Setting(depth=(1, 4), width=(1, 16), batch=(1, 32))
SOURCE = Source("bench", "backprop_audit/trust/backprop.py", "backpropagation written out for every activation and loss")

WEIGHT_GRADIENT = Formula(
    id="bench-weight-gradient", title="dC/dW[l] = a[l-1]ᵀ δ[l], backprop written out", source=SOURCE,
    written=r"\partial C / \partial W^l = (a^{l-1})^\top \delta^l", convention="row", quantity="dC/dW[l]",
    setting=DEFAULT_DISTRIBUTION, compute=weight_gradient)

WRONG_WEIGHT_GRADIENT = Formula(
    id="bench-weight-gradient-doubled", title="twice the weight gradient (wrong)", source=SOURCE,
    written=r"2 (a^{l-1})^\top \delta^l", convention="row", quantity="dC/dW[l]",
    setting=DEFAULT_DISTRIBUTION, compute=lambda n, l: 2 * weight_gradient(n, l), expected="erratum")
