"""Past float32's overflow (e^z overflows for z > 88.7): every NumPy form of the operation table that a formula's
view and the tolerance model are built from stays finite and equal to its float64 value, for every activation
and its derivative on float32 pre-activations up to ±1000. This is what kills the "softmax without its max shift"
mutant (e^z / Σ e^z is inf / inf = NaN for a logit past 88.7), which no catalog network draws (their logits stay
small); the last test shows the check failing on that mutant, so it has the power it claims."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_audit.model import operations
from backprop_audit.model.operations import ACTIVATION_ROWS

# logits past float32's exp overflow in both directions, a saturated mix, and a row whose largest logit is far
# above the others (the shift must be by the max, not by, say, the mean)
EXTREME = np.array([[100.0, 0.0, -100.0], [1000.0, 999.0, -1000.0], [-95.0, -90.0, -89.0], [89.0, 88.0, 0.5],
                    [300.0, -300.0, 0.0]])


def finite_and_equal_to_float64(form, z64: np.ndarray) -> bool:
    """form(z) in float32 is finite and equals form(z) in float64, cast, to float32's rounding (a relative 1e-6
    of the entry, or of the row's largest entry: entries far below it are rounding-level either way)."""
    with np.errstate(all="ignore"):
        got = np.asarray(form(z64.astype(np.float32)), np.float64)
        want = np.asarray(form(z64), np.float64)
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return False
    scale = np.maximum(np.abs(want), np.abs(want).max(axis=-1, keepdims=True) * 1e-6)
    return bool(np.all(np.abs(got - want) <= 1e-6 * scale + np.finfo(np.float32).tiny))


@pytest.mark.parametrize("row", ACTIVATION_ROWS, ids=lambda row: row.name)
def test_every_activation_and_its_derivative_stay_finite_past_float32_overflow(row):
    z = EXTREME if row.kink is None else np.where(EXTREME == row.kink, 1.0, EXTREME)  # off a kink: no derivative there
    assert finite_and_equal_to_float64(row.forward, z), row.name
    if row.numpy_prime is not None:
        assert finite_and_equal_to_float64(row.numpy_prime, z), f"{row.name}'"
    else:  # the coupled row's Jacobian applied to a gradient of ones and of a one-hot
        for g in (np.ones_like(z), np.eye(z.shape[-1])[np.zeros(len(z), int)]):
            backward = lambda zz: row.backward(zz, row.forward(zz), g.astype(zz.dtype))
            assert finite_and_equal_to_float64(backward, z), f"{row.name} backward"


def test_the_log_forms_of_the_losses_stay_finite_past_float32_overflow():
    assert finite_and_equal_to_float64(operations.log_softmax, EXTREME)
    assert finite_and_equal_to_float64(operations.log_sigmoid, EXTREME)


def test_the_check_fails_for_a_softmax_without_its_max_shift():
    def unshifted(z, axis=-1):
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)

    assert finite_and_equal_to_float64(operations.softmax, EXTREME)
    assert not finite_and_equal_to_float64(unshifted, EXTREME)
