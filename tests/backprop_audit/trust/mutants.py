"""The mutant corpus: deliberately wrong variants of correct backpropagation formulas.

Each mutant is a Formula record (expected "erratum") with the kind of mistake textbooks make, and where
a simple transform undoes it, the diagnosis the engine must give (its kind and fix). The engine is
trusted only if search finds every one of them (verdict fails or error) and names the transform where
there is one. Used by tests/test_mutants.py (float64) and `backprop-audit soak --mutants` (both dtypes).

Notation (row convention unless the record says "column"): n.a[l], n.z[l] are (N, n_l), n.W[l] is
(in, out), n.b[l] is (out,), n.y is (N, n_L); in the column convention all of these are transposed and
n.b[l] is (out, 1). The correct forms are in the docstring of each group.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop_audit import Formula, Setting, Source
from backprop_audit.model.operations import sigmoid, sigmoid_prime, softmax


@dataclass(frozen=True)
class Mutant:
    formula: Formula
    mistake: str  # sign, factor, batch-mean, transpose, swapped-operands, derivative-of-a, activation-derivative,
    # layer-index, dropped-bias, broadcasting, wrong-axis, per-sample
    diagnosis: str | None = None  # the Diagnosis.kind expected (every mutant of the corpus gives one)
    fix: str | None = None  # the Diagnosis.fix expected (e.g. "x 1/N", or a repair's edits)


SOURCE = Source("mutants", "backprop_audit/trust/mutants.py", "a deliberately wrong variant of a correct formula")
IDENTITY_HALF = Setting(depth=(1, 2), width=(1, 4), batch=(1, 4), output=("identity",), loss=("half_sum_sq",))
IDENTITY_SUM = IDENTITY_HALF.restricted(loss=("sum_sq",))
IDENTITY_MEAN_HALF = IDENTITY_HALF.restricted(loss=("mean_half_sum_sq",))
IDENTITY_MEAN_SUM = IDENTITY_HALF.restricted(loss=("mean_sum_sq",))
SIGMOID_HALF = IDENTITY_HALF.restricted(hidden=("sigmoid",), output=("sigmoid",))
TANH_HALF = IDENTITY_HALF.restricted(hidden=("tanh",), output=("tanh",))
SOFTMAX_HALF = Setting(depth=(1, 2), width=(2, 4), batch=(1, 4), output=("softmax",), loss=("half_sum_sq",))
SOFTMAX_CE = Setting(depth=(1, 2), width=(2, 4), batch=(1, 4), output=("softmax",), loss=("softmax_ce",),
                     targets=("onehot",))
SIGMOID_BCE = Setting(depth=(1, 2), width=(1, 4), batch=(1, 4), output=("sigmoid",), loss=("sigmoid_bce",),
                      targets=("binary",))
DEEP_SIGMOID = Setting(depth=(2, 3), width=(1, 4), batch=(1, 4), hidden=("sigmoid",), output=("identity",),
                       loss=("half_sum_sq",))
DEEP_TANH = DEEP_SIGMOID.restricted(hidden=("tanh",))
DEEP_RELU = DEEP_SIGMOID.restricted(hidden=("relu",))
SQUARE_DEEP = DEEP_SIGMOID.restricted(square=True, width=(2, 4))

MUTANTS: list[Mutant] = []
DERIVATIVE_FORM = "g'(z) for the derivative written"  # the repair of a wrong derivative form
LOSS_DERIVATIVE_FORM = "the loss's dC/da[L] for the form written"  # the repair of a wrong output gradient


def mutant(id_, mistake, quantity, setting, compute, *, convention="row", diagnosis=None, fix=None, written="-"):
    formula = Formula(id=f"mutant-{id_}", title=f"mutant: {mistake}", source=SOURCE, written=written,
                      convention=convention, quantity=quantity, setting=setting, compute=compute,
                      expected="erratum", note=mistake)
    MUTANTS.append(Mutant(formula, mistake, diagnosis, fix))


def out(n):
    """a[L] - y: dC/dz[L] for an identity output and ½Σ(a - y)² (also dC/da[L])."""
    return n.a[n.L] - n.y


def delta_below(n, delta_L):
    """δ[L-1] = δ[L] W[L]ᵀ ⊙ g'(z[L-1]) in the row convention (the correct recursion)."""
    from backprop_audit.model.operations import derivative
    return (delta_L @ n.W[n.L].T) * derivative(n.activation[n.L - 1], n.z[n.L - 1])


# --- sign -----------------------------------------------------------------------------------------------
mutant("sign-output-delta", "sign", "dC/dz[L]", IDENTITY_HALF, lambda n: n.y - n.a[n.L], diagnosis="sign", fix="x -1")
mutant("sign-softmax-ce", "sign", "dC/dz[L]", SOFTMAX_CE, lambda n: (n.y - n.a[n.L]) / n.N, diagnosis="sign", fix="x -1")
mutant("sign-bce", "sign", "dC/dz[L]", SIGMOID_BCE, lambda n: (n.y - n.a[n.L]) / n.N, diagnosis="sign", fix="x -1")
mutant("sign-recursion", "sign", "dC/dz[L-1]", DEEP_SIGMOID, lambda n: -delta_below(n, out(n)), diagnosis="sign", fix="x -1")
mutant("sign-weight-gradient", "sign", "dC/dW[L]", IDENTITY_HALF, lambda n: -(n.a[n.L - 1].T @ out(n)),
       diagnosis="sign", fix="x -1")
mutant("sign-bias-gradient", "sign", "dC/db[L]", IDENTITY_HALF, lambda n: -out(n).sum(axis=0), diagnosis="sign", fix="x -1")

# --- factor 2 or 1/2 ------------------------------------------------------------------------------------
mutant("factor-2-half-sq", "factor 2", "dC/dz[L]", IDENTITY_HALF, lambda n: 2 * out(n), diagnosis="factor", fix="x 1/2")
mutant("factor-half-sum-sq", "factor 1/2", "dC/dz[L]", IDENTITY_SUM, out, diagnosis="factor", fix="x 2")
mutant("factor-2-weight-gradient", "factor 2", "dC/dW[L]", IDENTITY_HALF, lambda n: 2 * (n.a[n.L - 1].T @ out(n)),
       diagnosis="factor", fix="x 1/2")
mutant("factor-half-bias", "factor 1/2", "dC/db[L]", IDENTITY_HALF, lambda n: 0.5 * out(n).sum(axis=0),
       diagnosis="factor", fix="x 2")
mutant("factor-mean-sum-sq-missing-2", "factor 1/2", "dC/da[L]", IDENTITY_MEAN_SUM, lambda n: out(n) / n.N,
       diagnosis="factor", fix="x 2")
mutant("factor-2-activation-gradient", "factor 2", "dC/da[L]", SIGMOID_HALF, lambda n: 2 * out(n),
       diagnosis="factor", fix="x 1/2")

# --- 1/N missing or doubled -----------------------------------------------------------------------------
mutant("batch-mean-missing", "1/N missing", "dC/dz[L]", IDENTITY_MEAN_HALF, out, diagnosis="factor", fix="x 1/N")
mutant("batch-mean-missing-softmax-ce", "1/N missing", "dC/dz[L]", SOFTMAX_CE, lambda n: n.a[n.L] - n.y,
       diagnosis="factor", fix="x 1/N")
mutant("batch-mean-doubled-softmax-ce", "1/N doubled", "dC/dz[L]", SOFTMAX_CE, lambda n: (n.a[n.L] - n.y) / n.N**2,
       diagnosis="factor", fix="x N")
mutant("batch-mean-missing-weights", "1/N missing", "dC/dW[L]", IDENTITY_MEAN_HALF, lambda n: n.a[n.L - 1].T @ out(n),
       diagnosis="factor", fix="x 1/N")
mutant("batch-mean-missing-bias", "1/N missing", "dC/db[L]", IDENTITY_MEAN_HALF, lambda n: out(n).sum(axis=0),
       diagnosis="factor", fix="x 1/N")
mutant("batch-mean-spurious-bias", "1/N where the loss is a sum", "dC/db[L]", IDENTITY_HALF, lambda n: out(n).mean(axis=0),
       diagnosis="factor", fix="x N")
mutant("batch-mean-missing-bce", "1/N missing", "dC/dz[L]", SIGMOID_BCE, lambda n: n.a[n.L] - n.y,
       diagnosis="factor", fix="x 1/N")

# --- transpose and swapped operands ---------------------------------------------------------------------
mutant("transpose-weight-gradient-row", "transpose", "dC/dW[L]", IDENTITY_HALF, lambda n: out(n).T @ n.a[n.L - 1],
       diagnosis="transpose", fix="transpose")
mutant("transpose-weight-gradient-column", "transpose", "dC/dW[L]", IDENTITY_HALF,
       lambda n: n.a[n.L - 1] @ (n.a[n.L] - n.y).T, convention="column", diagnosis="transpose", fix="transpose")
mutant("swapped-operands-every-layer", "swapped operands", "dC/dW[l]", DEEP_TANH,
       lambda n, l: _row_deltas(n)[l].T @ n.a[l - 1], diagnosis="transpose", fix="transpose")
mutant("transpose-recursion-weight", "transpose (W for Wᵀ in the recursion)", "dC/dz[L-1]", SQUARE_DEEP,
       lambda n: (out(n) @ n.W[n.L]) * sigmoid_prime(n.z[n.L - 1]), diagnosis="repair", fix="transpose W[L]")
mutant("transpose-recursion-weight-column", "transpose (W for Wᵀ in the recursion)", "dC/dz[L-1]", SQUARE_DEEP,
       lambda n: (n.W[n.L] @ (n.a[n.L] - n.y)) * sigmoid_prime(n.z[n.L - 1]), convention="column",
       diagnosis="repair", fix="transpose W[L]")
mutant("swapped-operands-activation-gradient", "swapped operands", "dC/da[L-1]", SQUARE_DEEP,
       lambda n: n.W[n.L] @ out(n).T, diagnosis="transpose", fix="transpose")

# --- σ'(a) for σ'(z) ------------------------------------------------------------------------------------
mutant("derivative-of-a-output", "σ'(a) for σ'(z)", "dC/dz[L]", SIGMOID_HALF, lambda n: out(n) * sigmoid_prime(n.a[n.L]),
       diagnosis="derivative-of-a", fix="g'(z) for g'(a)")
mutant("derivative-of-a-hidden", "σ'(a) for σ'(z)", "dC/dz[L-1]", DEEP_SIGMOID,
       lambda n: (out(n) @ n.W[n.L].T) * sigmoid_prime(n.a[n.L - 1]), diagnosis="derivative-of-a", fix="g'(z) for g'(a)")
mutant("derivative-of-a-tanh", "tanh'(a) for tanh'(z)", "dC/dz[L-1]", DEEP_TANH,
       lambda n: (out(n) @ n.W[n.L].T) * (1 - np.tanh(n.a[n.L - 1]) ** 2), diagnosis="derivative-of-a",
       fix="g'(z) for g'(a)")

# --- a wrong activation derivative ----------------------------------------------------------------------
mutant("tanh-prime-as-1-minus-z-squared", "activation derivative: tanh' written 1 - z²", "dC/dz[L]", TANH_HALF,
       lambda n: out(n) * (1 - n.z[n.L] ** 2), diagnosis="repair", fix=DERIVATIVE_FORM)
mutant("sigmoid-prime-as-sigmoid", "activation derivative: σ' written σ(z)", "dC/dz[L]", SIGMOID_HALF,
       lambda n: out(n) * sigmoid(n.z[n.L]), diagnosis="repair", fix=DERIVATIVE_FORM)
mutant("sigmoid-prime-as-one-minus-sigmoid", "activation derivative: σ' written 1 - σ(z)", "dC/dz[L]", SIGMOID_HALF,
       lambda n: out(n) * (1 - n.a[n.L]), diagnosis="repair", fix=DERIVATIVE_FORM)
mutant("sigmoid-prime-of-z-as-z", "activation derivative: σ' written z(1 - z)", "dC/dz[L]", SIGMOID_HALF,
       lambda n: out(n) * n.z[n.L] * (1 - n.z[n.L]), diagnosis="repair",
       fix="regroup the product; " + DERIVATIVE_FORM)  # out ⊙ z ⊙ (1 - z) groups as (out ⊙ z) ⊙ (1 - z)
mutant("tanh-prime-without-square", "activation derivative: tanh' written 1 - tanh z", "dC/dz[L-1]", DEEP_TANH,
       lambda n: (out(n) @ n.W[n.L].T) * (1 - np.tanh(n.z[n.L - 1])), diagnosis="repair", fix=DERIVATIVE_FORM)
mutant("relu-prime-as-relu", "activation derivative: relu' written relu(z)", "dC/dz[L-1]", DEEP_RELU,
       lambda n: (out(n) @ n.W[n.L].T) * np.maximum(n.z[n.L - 1], 0), diagnosis="repair", fix=DERIVATIVE_FORM)

# --- off-by-one layer index -----------------------------------------------------------------------------
mutant("off-by-one-recursion-weight", "layer index: W[l] for W[l+1]", "dC/dz[L-1]", SQUARE_DEEP,
       lambda n: (out(n) @ n.W[n.L - 1].T) * sigmoid_prime(n.z[n.L - 1]), diagnosis="repair", fix="W[L-1] at layer +1")
mutant("off-by-one-weight-gradient-input", "layer index: a[l] for a[l-1]", "dC/dW[L]", SQUARE_DEEP,
       lambda n: n.a[n.L].T @ out(n), diagnosis="repair", fix="a[L] at layer -1 (one operand)")
mutant("off-by-one-derivative-layer", "layer index: g'(z[l+1]) for g'(z[l])", "dC/dz[L-1]", SQUARE_DEEP.restricted(output=("sigmoid",)),
       lambda n: (out(n) * sigmoid_prime(n.z[n.L]) @ n.W[n.L].T) * sigmoid_prime(n.z[n.L]), diagnosis="repair",
       fix="z[L] at layer -1 (one operand)")
# δ[L-1] W[L-1]ᵀ is dC/da[L-2]: the value is right, the label one layer off. Depth 3 only: at depth 2 it
# is dC/dx, which no oracle computes, and no edit of up to two steps turns δ[L-1] into δ[L].
mutant("off-by-one-activation-gradient", "layer index: δ[l] W[l] for δ[l+1] W[l+1]", "dC/da[L-1]",
       SQUARE_DEEP.restricted(depth=(3, 3)), lambda n: _row_deltas(n)[n.L - 1] @ n.W[n.L - 1].T,
       diagnosis="index", fix="layer l-1")

# --- dropped bias in a forward recomputation ------------------------------------------------------------
mutant("dropped-bias-output", "dropped bias: a[L] recomputed as σ(a[L-1] W)", "dC/dz[L]", SIGMOID_HALF,
       lambda n: (sigmoid(n.a[n.L - 1] @ n.W[n.L]) - n.y) * sigmoid_prime(n.z[n.L]), diagnosis="repair", fix="add the bias")
mutant("dropped-bias-loss", "dropped bias: C recomputed from a[L-1] W", "C", IDENTITY_HALF,
       lambda n: 0.5 * np.sum((n.a[n.L - 1] @ n.W[n.L] - n.y) ** 2), diagnosis="repair", fix="add the bias")
mutant("dropped-bias-derivative-column", "dropped bias: σ'(W a) for σ'(z)", "dC/dz[L]", SIGMOID_HALF,
       lambda n: (n.a[n.L] - n.y) * sigmoid_prime(n.W[n.L] @ n.a[n.L - 1]), convention="column", diagnosis="repair",
       fix="add the bias")

# --- broadcasting slips ((n,) against (n, 1)) -----------------------------------------------------------
mutant("broadcast-bias-gradient-flat", "broadcasting: db as (n,), the column convention wants (n, 1)", "dC/db[L]",
       IDENTITY_HALF, lambda n: (n.a[n.L] - n.y).sum(axis=1), convention="column", diagnosis="repair",
       fix="keep the reduced axis")
mutant("broadcast-bias-row-in-column", "broadcasting: b[:, 0] (n,) added to (n, N) columns", "dC/dz[L]", SIGMOID_HALF,
       lambda n: (sigmoid(n.W[n.L] @ n.a[n.L - 1] + n.b[n.L][:, 0]) - n.y) * sigmoid_prime(n.z[n.L]), convention="column",
       diagnosis="repair", fix="drop an index")
mutant("broadcast-flat-targets", "broadcasting: y flattened to (N,) against a (N, 1)", "dC/dz[L]",
       IDENTITY_HALF.restricted(width=(1, 1)), lambda n: n.a[n.L] - n.y.ravel(),
       diagnosis="precondition", fix="require N = 1 (a single sample)")

# --- a sum over the wrong axis --------------------------------------------------------------------------
mutant("wrong-axis-bias-gradient", "sum over the wrong axis: db = δ summed over units", "dC/db[L]", IDENTITY_HALF,
       lambda n: out(n).sum(axis=1), diagnosis="repair", fix="reduce over axis 0")
mutant("wrong-axis-softmax", "softmax normalised over the batch axis", "dC/dz[L]", SOFTMAX_CE,
       lambda n: (softmax(n.z[n.L], axis=0) - n.y) / n.N, diagnosis="repair",
       fix="reduce over axis 1; reduce over axis 1")  # the sum and the stabilising max
mutant("wrong-axis-mean", "mean over the outputs (1/K) for the mean over samples (1/N)", "dC/dz[L]", IDENTITY_MEAN_HALF,
       lambda n: out(n) / n.sizes[-1], diagnosis="factor", fix="x K/N")
mutant("wrong-axis-bias-column", "sum over the wrong axis, column convention", "dC/db[L]", IDENTITY_HALF,
       lambda n: (n.a[n.L] - n.y).sum(axis=0, keepdims=True), convention="column", diagnosis="repair",
       fix="reduce over axis 1")

mutant("wrong-axis-batch-mean", "mean over the wrong axis: db = mean of δ over units, not samples", "dC/db[L]",
       IDENTITY_MEAN_HALF, lambda n: (n.a[n.L] - n.y).mean(axis=1), diagnosis="repair", fix="reduce over axis 0")

# --- the new edit kinds of the repair: each mistake sits inside the formula -------------------------------
mutant("wrong-layer-operand-every-layer", "wrong-layer operand: δ[l] = δ[l+1] W[l]ᵀ ⊙ σ'(z[l]) at every layer",
       "dC/dz[l]", SQUARE_DEEP, lambda n, l: _deltas_by(n, weight=lambda k: n.W[k - 1])[l], diagnosis="repair",
       fix="W[l] at layer +1 (one operand)")
mutant("derivative-of-a-compounding", "σ'(a) for σ'(z) at every step of the recursion (compounds down)", "dC/dz[l]",
       DEEP_SIGMOID, lambda n, l: _deltas_by(n, prime=lambda k: sigmoid_prime(n.a[k]))[l], diagnosis="repair",
       fix="g'(z) for g'(a)")
mutant("softmax-jacobian-diagonal", "softmax Jacobian's diagonal only: δ = dC/da ⊙ a(1 - a)", "dC/dz[L]",
       SOFTMAX_HALF, lambda n: out(n) * softmax_diagonal(n.a[n.L]), diagnosis="repair",
       fix="the softmax Jacobian for its diagonal")
mutant("sigmoid-slope-at-input", "activation derivative: σ'(x) = x(1 - x) applied at the input z, not the output a",
       "dC/dz[L-1]", DEEP_SIGMOID, lambda n: (out(n) @ n.W[n.L].T) * slope_of_output(n.z[n.L - 1]), diagnosis="repair",
       fix=DERIVATIVE_FORM)

# --- hard labels assumed: right for one-hot y only ----------------------------------------------------------
# CS231n's `dscores[range(N), y] -= 1` with the class taken as argmax(y): (a - onehot(argmax y))/N equals
# (a - y)/N when every row of y is one-hot, not for soft labels (probability rows, also summing to 1: so
# "rows of y summing to 1" does not explain it). Soft labels are drawn ("prob" targets) beside one-hot ones.
SOFTMAX_CE_SOFT = SOFTMAX_CE.restricted(targets=("onehot", "prob"))
mutant("hard-label-softmax-ce", "soft labels where one-hot is needed: y read as its argmax class", "dC/dz[L]",
       SOFTMAX_CE_SOFT, lambda n: (n.a[n.L] - (np.arange(n.sizes[-1]) == n.y.argmax(axis=1)[:, None])) / n.N,
       diagnosis="precondition", fix="require rows of y one-hot (hard labels, not soft ones)")

# --- a gradient-descent step built from a wrong gradient (W'[l] = W - η·g: the mistake sits in g) -------------
SIGMOID_STEP = SIGMOID_HALF.restricted(eta=(0.1, 3.0))
mutant("step-missing-derivative", "a step whose gradient misses ⊙ σ'(z): W' = W - η·a[L-1]ᵀ(a - y)", "W'[L]",
       SIGMOID_STEP, lambda n: n.W[n.L] - n.eta * (n.a[n.L - 1].T @ out(n)), diagnosis="missing-derivative",
       fix="multiply dC/da by g'(z) first")
# a constant factor on one term of the step (repair.TERM_FACTORS): no factor of the whole W - η·g undoes it
mutant("step-unhalved-loss-derivative", "factor 2 on the step's gradient term: W' = W - 2η·a[L-1]ᵀ((a - y) ⊙ σ'(z)), "
       "the derivative of Σ(a - y)² in a step on ½Σ(a - y)²", "W'[L]", SIGMOID_STEP,
       lambda n: n.W[n.L] - 2 * n.eta * (n.a[n.L - 1].T @ (out(n) * sigmoid_prime(n.z[n.L]))), diagnosis="repair",
       fix="x 1/2 on a term")

# --- a per-sample formula given a batch -----------------------------------------------------------------
mutant("per-sample-bias-gradient", "per-sample: db = δ, no sum over the batch", "dC/db[L]", IDENTITY_HALF,
       lambda n: n.a[n.L] - n.y, convention="column", diagnosis="batch-reduction", fix="sum over samples")
mutant("per-sample-bias-gradient-mean", "per-sample: db = a - y for a mean loss, no mean over the batch", "dC/db[L]",
       IDENTITY_MEAN_HALF, lambda n: n.a[n.L] - n.y, convention="column", diagnosis="batch-reduction",
       fix="mean over samples")
mutant("per-sample-bias-gradient-row", "per-sample, row convention: db = δ (N, out) where b is (out,)", "dC/db[L]",
       IDENTITY_HALF, lambda n: n.a[n.L] - n.y, diagnosis="batch-reduction", fix="sum over samples")


def softmax_diagonal(a):
    """∂a_i/∂z_i = a_i(1 - a_i): the diagonal of softmax's Jacobian (the off-diagonal -a_i a_j left out)."""
    return a * (1 - a)


def slope_of_output(x):
    """σ'(z) written in terms of the sigmoid's output x = σ(z): x(1 - x)."""
    return x * (1 - x)


def _deltas_by(n, weight=None, prime=None) -> dict:
    """δ[l] for every layer, row convention, identity output and ½Σ(a - y)²: δ[l] = δ[l+1] weight(l+1)ᵀ ⊙
    prime(l); the correct recursion has weight(k) = W[k] and prime(k) = g'(z[k])."""
    from backprop_audit.model.operations import derivative
    weight = weight or (lambda k: n.W[k])
    prime = prime or (lambda k: derivative(n.activation[k], n.z[k]))
    delta = {n.L: out(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ weight(l + 1).T) * prime(l)
    return delta


def _row_deltas(n) -> dict:
    """Correct δ[l] for every layer, row convention, for the settings above (identity output, half_sum_sq)."""
    from backprop_audit.model.operations import derivative
    delta = {n.L: out(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ n.W[l + 1].T) * derivative(n.activation[l], n.z[l])
    return delta


# --- the losses and activations added to the operation table (each row's correct form is in
# manual/standard.py; here its textbook mistakes) ----------------------------------------------------------
MSE = IDENTITY_HALF.restricted(loss=("mse",))
MAE = IDENTITY_HALF.restricted(loss=("mae",))
HUBER = IDENTITY_HALF.restricted(loss=("huber",))
SOFTMAX_CE_SUM = SOFTMAX_CE.restricted(loss=("softmax_ce_sum",))
SIGMOID_BCE_SUM = SIGMOID_BCE.restricted(loss=("sigmoid_bce_sum",))
HINGE = Setting(depth=(1, 2), width=(2, 4), batch=(1, 4), output=("identity",), loss=("multiclass_hinge",),
                targets=("labels",))
DEEP_LEAKY = DEEP_SIGMOID.restricted(hidden=("leaky_relu",))
DEEP_ELU = DEEP_SIGMOID.restricted(hidden=("elu",))
DEEP_GELU = DEEP_SIGMOID.restricted(hidden=("gelu",))
DEEP_SOFTPLUS = DEEP_SIGMOID.restricted(hidden=("softplus",))
# C = ½Σ(a - y)² + (λ/2) Σ_l ‖W[l]‖² (model/regularizers.py): dC/dW[L] = a[L-1]ᵀ (a - y) + λ W[L]
REGULARIZED = IDENTITY_HALF.restricted(l2=(0.01, 2.0))


def _hinge_margins(n):
    """s_j - s_{y_i} + 1 for every sample i and class j (row convention, n.labels the classes)."""
    s = n.a[n.L]
    return s - s[np.arange(n.N), n.labels][:, None] + 1


def _hinge_scores_gradient(n, mean=True):
    """dL/ds of CS231n's SVM: 1[margin > 0] for j ≠ y_i, minus their count at y_i, over N (the correct form
    with mean=True)."""
    positive = (_hinge_margins(n) > 0).astype(n.a[n.L].dtype)
    positive[np.arange(n.N), n.labels] = 0
    grad = positive.copy()
    grad[np.arange(n.N), n.labels] -= positive.sum(axis=1)
    return grad / n.N if mean else grad


def _gaussian_cdf(z):
    from backprop_audit.model.operations import gaussian_cdf
    return gaussian_cdf(z)


mutant("mse-missing-1-over-K", "1/N missing (mse: the mean over N·K cells taken over N only)", "dC/da[L]", MSE,
       lambda n: 2 * out(n) / n.N, diagnosis="factor", fix="x 1/K")
mutant("mse-missing-2", "factor 1/2 (mse: the 2 of d(x²)/dx dropped)", "dC/da[L]", MSE,
       lambda n: out(n) / (n.N * n.sizes[-1]), diagnosis="factor", fix="x 2")
mutant("mae-derivative-as-squared", "loss derivative: mae's sign(a - y) written a - y", "dC/da[L]", MAE,
       lambda n: out(n) / (n.N * n.sizes[-1]), diagnosis="repair", fix=LOSS_DERIVATIVE_FORM)
mutant("mae-missing-mean", "1/N missing (mae: no 1/(N·K))", "dC/da[L]", MAE, lambda n: np.sign(out(n)),
       diagnosis="factor", fix="x 1/(NK)")
mutant("huber-unclipped", "loss derivative: huber's clip(a - y, -1, 1) written a - y", "dC/da[L]", HUBER,
       lambda n: out(n) / (n.N * n.sizes[-1]), diagnosis="repair", fix=LOSS_DERIVATIVE_FORM)
mutant("softmax-ce-sum-spurious-mean", "1/N where the loss is a sum (softmax_ce_sum)", "dC/dz[L]", SOFTMAX_CE_SUM,
       lambda n: (n.a[n.L] - n.y) / n.N, diagnosis="factor", fix="x N")
mutant("sigmoid-bce-sum-times-sigma-prime", "activation derivative: σ'(z) kept after the BCE cancelled it", "dC/dz[L]",
       SIGMOID_BCE_SUM, lambda n: (n.a[n.L] - n.y) * sigmoid_prime(n.z[n.L]), diagnosis="repair", fix="drop ⊙ g'")
mutant("hinge-loss-counts-own-class", "the hinge's sum over j = y_i too (its margin is always 1: C off by 1)", "C",
       HINGE, lambda n: np.sum(np.maximum(_hinge_margins(n), 0)) / n.N, diagnosis="offset", fix="- 1")
mutant("hinge-missing-mean", "1/N missing (the hinge's mean over the batch)", "dC/da[L]", HINGE,
       lambda n: _hinge_scores_gradient(n, mean=False), diagnosis="factor", fix="x 1/N")
mutant("hinge-sign", "sign", "dC/da[L]", HINGE, lambda n: -_hinge_scores_gradient(n), diagnosis="sign", fix="x -1")
mutant("leaky-relu-prime-as-relu-prime", "activation derivative: leaky_relu' written relu' (0 below 0)", "dC/dz[L-1]",
       DEEP_LEAKY, lambda n: (out(n) @ n.W[n.L].T) * (n.z[n.L - 1] > 0), diagnosis="repair",
       fix="g'(z) for the derivative written")
mutant("elu-prime-as-exp", "activation derivative: elu' written e^z on both sides of 0", "dC/dz[L-1]", DEEP_ELU,
       lambda n: (out(n) @ n.W[n.L].T) * np.exp(n.z[n.L - 1]), diagnosis="repair",
       fix="g'(z) for the derivative written")
mutant("softplus-prime-as-sigmoid-prime", "activation derivative: softplus' = σ(z) written σ'(z) = σ(z)(1 - σ(z))",
       "dC/dz[L-1]", DEEP_SOFTPLUS, lambda n: (out(n) @ n.W[n.L].T) * sigmoid_prime(n.z[n.L - 1]), diagnosis="repair",
       fix=DERIVATIVE_FORM)
mutant("l2-gradient-twice", "factor 2 on the L2 term: d/dW of λ‖W‖² where C has (λ/2)‖W‖²", "dC/dW[L]", REGULARIZED,
       lambda n: n.a[n.L - 1].T @ out(n) + 2 * n.l2 * n.W[n.L], diagnosis="regularizer", fix="λ·W for 2λ·W")
mutant("l2-gradient-missing", "the L2 term's gradient λW dropped (the data term alone)", "dC/dW[L]", REGULARIZED,
       lambda n: n.a[n.L - 1].T @ out(n), diagnosis="regularizer", fix="add λ·W")
mutant("l2-step-sign", "a weight-decay step with the L2 term's sign flipped: W' = W - η·(a[L-1]ᵀ(a - y) - λW)", "W'[L]",
       REGULARIZED.restricted(eta=(0.1, 3.0)), lambda n: n.W[n.L] - n.eta * (n.a[n.L - 1].T @ out(n) - n.l2 * n.W[n.L]),
       diagnosis="regularizer", fix="+λ·W for -λ·W")
mutant("gelu-prime-as-cdf", "activation derivative: gelu' written Φ(z), the z·φ(z) term dropped", "dC/dz[L-1]",
       DEEP_GELU, lambda n: (out(n) @ n.W[n.L].T) * _gaussian_cdf(n.z[n.L - 1]), diagnosis="repair",
       fix=DERIVATIVE_FORM)


# --- batch normalization and dropout (their correct backward passes are in manual/standard_layers.py) -------
def _layers():
    from backprop_audit.manual import standard_layers
    return standard_layers


def _bn_dx(n, *, mean_terms=True, unbiased=False, gamma_twice=False, no_gamma=False):
    """CS231n's simplified dx with one of its textbook mistakes: the batch-mean terms dropped, the variance
    unbiased (N - 1), γ counted twice (dxhat = dout ⊙ γ inside a line that also multiplies by γ) or dropped."""
    l, N = n.L - 1, n.N
    d = _layers().dout(n) * (n.gamma[l] if gamma_twice else 1)
    var = n.var[l] * N / (N - 1) if unbiased else n.var[l]
    xhat = n.zhat[l]
    inner = N * d - (np.sum(d, axis=0) + xhat * np.sum(d * xhat, axis=0) if mean_terms else 0)
    return (1.0 / N) * (1 if no_gamma else n.gamma[l]) * (var + n.eps) ** -0.5 * inner


def _dropout_delta(n, *, scale=True, mask=True):
    l = n.L - 1
    from backprop_audit.model.operations import derivative
    kept = (n.mask[l] if mask else 1) / ((1 - n.p) if scale else 1)
    return (out(n) @ n.W[n.L].T) * kept * derivative(n.activation[l], n.z[l])


BATCHNORM = Setting(depth=(2, 3), width=(1, 4), batch=(2, 6), batchnorm=True, output=("identity",), loss=("half_sum_sq",))
DROPOUT = Setting(depth=(2, 3), width=(1, 4), batch=(1, 4), dropout=(0.1, 0.7), output=("identity",), loss=("half_sum_sq",))
# No transform or edit of up to two steps undoes these but γ's (their diagnosis is "none": killed, not repaired)
mutant("batchnorm-dx-missing-mean-terms", "1/N mean terms missing (batch norm dx: -Σ dout and -x̂ Σ dout ⊙ x̂ dropped)",
       "dC/dz[L-1]", BATCHNORM, lambda n: _bn_dx(n, mean_terms=False), diagnosis="none", fix="")
mutant("batchnorm-dx-unbiased-variance", "unbiased variance (N - 1) where batch norm normalizes by the biased one",
       "dC/dz[L-1]", BATCHNORM, lambda n: _bn_dx(n, unbiased=True), diagnosis="none", fix="")
mutant("batchnorm-dx-gamma-twice", "γ counted twice (batch norm dx: dxhat = dout ⊙ γ inside a line that also multiplies by γ)",
       "dC/dz[L-1]", BATCHNORM, lambda n: _bn_dx(n, gamma_twice=True), diagnosis="factor", fix="x 1/γ")
mutant("batchnorm-dx-missing-gamma", "γ dropped (batch norm dx: dxhat = dout, the line's own γ left out)",
       "dC/dz[L-1]", BATCHNORM, lambda n: _bn_dx(n, no_gamma=True), diagnosis="factor", fix="x γ")
mutant("dropout-missing-scale", "inverted dropout's 1/(1 - p) forgotten in the backward pass", "dC/dz[L-1]", DROPOUT,
       lambda n: _dropout_delta(n, scale=False), diagnosis="factor", fix="x 1/(1 - p)")
mutant("dropout-missing-mask", "dropout's mask forgotten in the backward pass", "dC/dz[L-1]", DROPOUT,
       lambda n: _dropout_delta(n, mask=False), diagnosis="none", fix="")


# --- local Jacobians (model/quantity.py: per sample (out, in), stacked over the batch; with respect to W,
# W's (in, out) layout per sample in the row convention). Correct: da[l]/dz[l] = diag(g'(z[l])),
# dz[l]/da[l-1] = W[l]ᵀ (row), dz[l]/dW[l][n, k, i] = a[l-1][n, k], da[l+1]/da[l] = g'(z[l+1])[:, :, None] * W[l+1]ᵀ,
# da[l]/dW[l][n, k, i] = a[l-1][n, k] g'(z[l])[n, i], the softmax's diag(s) - s sᵀ (manual/standard.py).
JACOBIAN_ELEMENTWISE = Setting(depth=(1, 3), width=(1, 4), batch=(1, 4), output=("sigmoid", "tanh", "identity"),
                               loss=("half_sum_sq",))
JACOBIAN_SQUARE = Setting(depth=(2, 3), width=(2, 4), batch=(1, 4), square=True, hidden=("sigmoid",), output=("tanh",),
                          loss=("half_sum_sq",))
JACOBIAN_SOFTMAX = Setting(depth=(1, 2), width=(2, 4), batch=(1, 4), output=("softmax",), loss=("softmax_ce",),
                           targets=("onehot",))


def _prime(n, l):
    from backprop_audit.model.operations import derivative
    return derivative(n.activation[l], n.z[l])


def _diag(v):
    return v[:, :, None] * np.eye(v.shape[-1], dtype=v.dtype)


def _softmax_jacobian(s):
    return _diag(s) - s[:, :, None] * s[:, None, :]


mutant("jacobian-missing-diag", "Jacobian written as the vector of its diagonal, g'(z) for diag(g'(z))", "da[l]/dz[l]",
       JACOBIAN_ELEMENTWISE, lambda n, l: _prime(n, l), diagnosis="jacobian-layout", fix="diag(v) per sample")
mutant("jacobian-wrong-layer", "layer index: diag(g'(z[L-1])) for the output's", "da[L]/dz[L]", JACOBIAN_SQUARE,
       lambda n: _diag(_prime(n, n.L - 1)), diagnosis="index", fix="layer l-1")
mutant("jacobian-factor-2", "factor 2", "da[l]/dz[l]", JACOBIAN_ELEMENTWISE, lambda n, l: 2 * _diag(_prime(n, l)),
       diagnosis="factor", fix="x 1/2")
mutant("jacobian-softmax-sign", "sign", "da[L]/dz[L]", JACOBIAN_SOFTMAX, lambda n: -_softmax_jacobian(n.a[n.L]),
       diagnosis="sign", fix="x -1")
mutant("jacobian-linear-transposed", "transpose: W (in, out) for the Jacobian Wᵀ", "dz[l]/da[l-1]",
       JACOBIAN_ELEMENTWISE, lambda n, l: np.broadcast_to(n.W[l], (n.N,) + n.W[l].shape), diagnosis="transpose",
       fix="transpose")
mutant("jacobian-weight-compressed", "one row for every unit: a[l-1] for its repeat over the output units",
       "dz[l]/dW[l]", JACOBIAN_ELEMENTWISE, lambda n, l: n.a[l - 1], diagnosis="jacobian-layout",
       fix="repeat over the output units")
mutant("jacobian-weight-transposed", "transpose: (out, in) for W's (in, out) layout", "dz[l]/dW[l]",
       JACOBIAN_ELEMENTWISE, lambda n, l: np.broadcast_to(n.a[l - 1][:, None, :], (n.N, n.sizes[l], n.sizes[l - 1])),
       diagnosis="transpose", fix="transpose")
mutant("jacobian-layer-transposed", "transpose: (diag(g') Wᵀ)ᵀ", "da[l+1]/da[l]", JACOBIAN_ELEMENTWISE,
       lambda n, l: np.swapaxes(_prime(n, l + 1)[:, :, None] * n.W[l + 1].T, 1, 2), diagnosis="transpose",
       fix="transpose")
mutant("jacobian-softmax-layer-transposed", "transpose: W ∇f for ∇f Wᵀ", "da[L]/da[L-1]", JACOBIAN_SOFTMAX,
       lambda n: n.W[n.L] @ _softmax_jacobian(n.a[n.L]), diagnosis="transpose", fix="transpose")
mutant("jacobian-layer-weight-factor", "factor 1/2", "da[l]/dW[l]", JACOBIAN_ELEMENTWISE,
       lambda n, l: 0.5 * n.a[l - 1][:, :, None] * _prime(n, l)[:, None, :], diagnosis="factor", fix="x 2")
mutant("jacobian-layer-missing-derivative", "the activation's g' left out of the layer's Jacobian (W alone)",
       "da[l+1]/da[l]", JACOBIAN_ELEMENTWISE, lambda n, l: np.broadcast_to(n.W[l + 1].T, (n.N,) + n.W[l + 1].T.shape),
       diagnosis="missing-derivative", fix="diag(g'(z)) in front")
mutant("jacobian-derivative-of-a", "σ'(a) for σ'(z) in the activation's Jacobian", "da[l]/dz[l]", JACOBIAN_SQUARE,
       lambda n, l: _diag(sigmoid_prime(n.a[l])) if n.activation[l] == "sigmoid" else _diag(1 - np.tanh(n.a[l]) ** 2),
       diagnosis="repair", fix="g'(z) for g'(a)")
mutant("jacobian-layer-weight-missing-derivative", "the activation's g' left out of ∂a_i/∂W_ki (a[l-1] alone)",
       "da[l]/dW[l]", JACOBIAN_SQUARE, lambda n, l: np.repeat(n.a[l - 1][:, :, None], n.sizes[l], axis=2),
       diagnosis="missing-derivative", fix="diag(g'(z)) in front")
