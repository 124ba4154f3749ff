"""The operation table (backprop_audit.model.operations): every row has every form, and each row's torch and
jax forms agree with its NumPy forms, values and autodiff derivatives, to 1e-12 relative in float64 on a
grid that reaches saturation (|z| up to 40). Then the proof that adding an activation is one row: softplus,
with a backpropagation formula that holds on it and two wrong ones that fail (searched, audit()); and for
every row added since (leaky_relu, elu, gelu, mse, mae, huber, softmax_ce_sum, sigmoid_bce_sum,
multiclass_hinge), the same cheaply: general backpropagation holds and wrong forms fail, evaluate() on the
soak's ordinary, saturated and large-logit networks in float64 and float32."""
import dataclasses
import subprocess
import sys
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from backprop_audit import Formula, Setting, Source
from backprop_audit.judging import tolerance
from backprop_audit.model import operations
from backprop_audit.model.operations import ACTIVATION_ROWS, LOSS_ROWS, LossTerms, TARGET_KINDS
from backprop_audit.trust.backprop import output_delta
from backprop_audit.verdicts.audit import audit

# Relative, float64, entry by entry; relative to the scale the NumPy form's own rounding error lives on
# where that exceeds the value: 1 - tanh²(z) at z = 20 is 0 in NumPy and 2.4e-16 in torch (both rounding
# noise of a cancelling subtraction, the true value being 1.7e-17), so a derivative is held to 1e-12 of
# max(|value|, the row's magnitude fact), the scale the tolerance model itself uses for it.
AGREEMENT = 1e-12
GRID = np.unique(np.concatenate([np.linspace(-40, 40, 161), [-20.5, -1e-3, 1e-3, 20.5, 25.0, 33.0]]))


def missing_forms(row) -> list[str]:
    """What a row lacks, by the name a contributor would look for."""
    missing = []
    need = lambda present, what: missing.append(what) if not present else None
    need(callable(row.numpy), "numpy forward")
    need(callable(row.torch_form), "torch form")
    need(callable(row.jax_form), "jax form")
    if isinstance(row, operations.Activation):
        need(row.sits and set(row.sits) <= {"hidden", "output"}, "where it may sit (hidden / output)")
        if row.coupled:  # softmax: a Jacobian instead of an elementwise derivative
            need(callable(row.numpy_backward_coupled), "numpy derivative (the Jacobian's product)")
            need(callable(row.coupled_carried) and callable(row.coupled_magnitude), "tolerance facts (coupled)")
        else:
            need(callable(row.numpy_prime), "numpy derivative")
            need(callable(row.slope) and callable(row.magnitude), "tolerance facts (slope, magnitude of g')")
        need(row.kink is None or (row.kink == 0 and row.prime_at_kink is not None),
             "kink facts (the kink tests assume a kink at 0, with the subgradient taken there)")
    else:
        need(callable(row.numpy_gradient), "numpy derivative")
        need([row.factor, row.cross_entropy_scales, row.scales].count(None) == 2,
             "tolerance facts (factor, cross-entropy form or scales)")
        need(row.scales is None or not row.fused, "tolerance facts (scales are for a loss not fused with its output)")
        need(row.kink is None or callable(row.kink), "kink facts (the cells on the loss's kink)")
        need(row.cross_entropy_scales is None or callable(row.numpy_logit_gradient),
             "numpy derivative with respect to the logits")
        need(row.targets and set(row.targets) <= set(TARGET_KINDS), "strategy facts (target kinds)")
        need(row.output in (None,) + operations.OUTPUT_ACTIVATIONS, "strategy facts (output activation)")
        need(isinstance(row.batch_mean, bool), "strategy facts (batch mean)")
    return missing


ROWS = ACTIVATION_ROWS + LOSS_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_every_row_has_every_form(row):
    missing = missing_forms(row)
    assert not missing, f"operation {row.name!r} lacks: {', '.join(missing)}"


def test_the_coverage_check_names_the_row_and_the_missing_form():
    broken = dataclasses.replace(operations.activation("softplus"), jax_form=None, slope=None)
    assert missing_forms(broken) == ["jax form", "tolerance facts (slope, magnitude of g')"]
    broken = dataclasses.replace(operations.loss("softmax_ce"), targets=("classes",))
    assert missing_forms(broken) == ["strategy facts (target kinds)"]


def test_the_table_imports_neither_torch_nor_jax():
    """The report writer and the engine import the table without the frameworks: forms receive them."""
    code = ("import sys, backprop_audit.model.operations, backprop_audit.manual.forward; "
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_codes_are_positions_in_the_table_and_names_are_unique():
    assert operations.ACTIVATIONS == tuple(row.name for row in ACTIVATION_ROWS)
    assert len(set(operations.ACTIVATIONS)) == len(ACTIVATION_ROWS)
    assert len(set(operations.LOSSES)) == len(LOSS_ROWS)


def assert_close(row, what, got, want, scale=0.0):
    """got against the NumPy form `want`, entry by entry, relative to max(|want|, scale); the failure names
    the row, the form and the entry."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{row.name}: {what} has shape {got.shape}, the NumPy form {want.shape}"
    bound = np.maximum(np.abs(want), scale)
    bad = np.abs(got - want) > AGREEMENT * bound
    if bad.any():
        i = np.unravel_index(np.argmax(np.abs(got - want) / np.maximum(bound, 1e-300)), got.shape)
        raise AssertionError(f"{row.name}: {what} = {got[i]!r} against the NumPy form's {want[i]!r} at {i} "
                             f"(relative {abs(got[i] - want[i]) / abs(want[i]) if want[i] else np.inf:.3g})")


@pytest.fixture(scope="module", autouse=True)
def float64_jax():
    with jax.enable_x64(True):
        yield


def _torch_value_and_vjp(form, z, g):
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    value = form(zt)
    (gradient,) = torch.autograd.grad(value, zt, torch.tensor(g, dtype=torch.float64))
    return value.detach().numpy(), gradient.numpy()


def _jax_value_and_vjp(form, z, g):
    # one jit of the whole computation (as the oracles run the forms: compiled): run eagerly, every
    # primitive of every row would be compiled for its own shape (99 small XLA compiles in this module)
    def value_and_vjp(zj, gj):
        value, pullback = jax.vjp(form, zj)
        return value, pullback(gj)[0]

    value, gradient = jax.jit(value_and_vjp)(jnp.asarray(z), jnp.asarray(g))
    return np.asarray(value), np.asarray(gradient)


def _inputs(row):
    """z off the kink (the derivative's value there is a convention: test_the_kink_facts), rows of 4 units."""
    z = GRID if row.kink is None else GRID[GRID != row.kink]
    z = z[: len(z) // 4 * 4].reshape(-1, 4)
    g = np.random.default_rng(0).uniform(0.5, 1.5, z.shape)  # the vector of the vector-Jacobian product
    return z, g


@pytest.mark.parametrize("row", ACTIVATION_ROWS, ids=[row.name for row in ACTIVATION_ROWS])
def test_torch_and_jax_forms_agree_with_the_numpy_forms(row):
    z, g = _inputs(row)
    a = row.forward(z)
    want_value, want_gradient = a, row.backward(z, a, g)
    scale = row.output_magnitude(z, a, np.abs(a), np.abs(g))  # the scale of the derivative's rounding error
    # the value on the scale of z's own rounding carried through g (gelu's z·(1 + erf)/2 cancels for z < 0:
    # jax's erf and torch's differ by 4e-11 relative at z = -5, 5e-17 absolutely)
    value_scale = row.carried(z, a, np.abs(z))
    for framework, (value, gradient) in {
        "torch": _torch_value_and_vjp(lambda zt: row.torch_form(torch, zt), z, g),
        "jax": _jax_value_and_vjp(lambda zj: row.jax_form(jax, jnp, zj), z, g),
    }.items():
        assert_close(row, f"the {framework} form", value, want_value, value_scale)
        assert_close(row, f"the {framework} form's autodiff derivative", gradient, want_gradient, scale)


def test_the_kink_facts():
    for row in ACTIVATION_ROWS:
        if row.kink is None:
            continue
        at = np.array([row.kink])
        assert row.numpy_prime(at)[0] == row.prime_at_kink, row.name
        assert _torch_value_and_vjp(lambda zt: row.torch_form(torch, zt), at, np.ones(1))[1][0] == row.prime_at_kink
        # jax_grad.py's relu (jnp.maximum) takes 1/2 there: the oracles disagree on a kink, which is why
        # the strategies draw off it and evaluate.kinks classifies what is within rounding of it


def _loss_inputs(row):
    rng = np.random.default_rng(1)
    z = GRID[::3][:12].reshape(4, 3) * rng.permutation(np.repeat([1.0, -1.0], 6)).reshape(4, 3)
    z = np.concatenate([z, [[40.0, -40.0, 0.5], [-33.0, 25.0, 1.0]]])  # saturated rows
    if "real" in row.targets:
        y = rng.uniform(-1.5, 1.5, z.shape)
    elif set(row.targets) <= set(operations.CLASS_TARGETS):  # one class per sample
        y = np.eye(z.shape[1])[rng.integers(0, z.shape[1], z.shape[0])]
    else:
        y = rng.integers(0, 2, z.shape).astype(float)
    return z, y, operations.activation(row.output or "tanh")


def _off_the_loss_kink(row, z, y, output):
    """The loss inputs, asserted off a kinked loss's kink (its derivative there is each framework's choice)."""
    if row.kink is not None:
        a = output.forward(z)
        assert not row.kink(a, np.abs(a), y, 1e-9, 1e-300, None).any(), f"{row.name}: the test's inputs sit on the kink"


@pytest.mark.parametrize("row", LOSS_ROWS, ids=[row.name for row in LOSS_ROWS])
def test_torch_and_jax_loss_forms_agree_with_the_numpy_forms(row):
    z, y, output = _loss_inputs(row)
    _off_the_loss_kink(row, z, y, output)
    N = z.shape[0]
    a = output.forward(z)
    want_C, want_da = row.numpy(z, a, y, N), row.numpy_gradient(a, y, N)
    want_dz = row.numpy_logit_gradient(a, y, N) if row.numpy_logit_gradient else output.backward(z, a, want_da)
    # the scales the NumPy forms' rounding errors live on (a - y cancels), from the tolerance model's facts
    scale_C, scale_da, scale_dz = tolerance._output_scales(row.name, output.name, z, a, np.abs(a), np.abs(y), N,
                                                           z.shape[1], np.sum)

    def torch_C(zt, probe):
        return row.torch_form(torch, LossTerms(zt, output.torch_form(torch, zt) + probe, probe,
                                               torch.tensor(y), N, lambda x: x.sum()))

    zt = torch.tensor(z, requires_grad=True)
    probe = torch.zeros_like(zt, requires_grad=True)
    C = torch_C(zt, probe)
    dz, da = torch.autograd.grad(C, (zt, probe))

    def jax_C(zj, probe):
        return row.jax_form(jax, jnp, LossTerms(zj, output.jax_form(jax, jnp, zj) + probe, probe,
                                                jnp.asarray(y), N, jnp.sum))

    jax_value, (jax_dz, jax_da) = jax.jit(jax.value_and_grad(jax_C, argnums=(0, 1)))(jnp.asarray(z),
                                                                                      jnp.zeros_like(z))
    for framework, (value, gradient_z, gradient_a) in {"torch": (C.detach(), dz, da),
                                                       "jax": (jax_value, jax_dz, jax_da)}.items():
        assert_close(row, f"the {framework} form", value, want_C, scale_C)
        assert_close(row, f"the {framework} form's dC/da", gradient_a, want_da, scale_da)
        assert_close(row, f"the {framework} form's dC/dz", gradient_z, want_dz, scale_dz)
    if row.factor is not None:  # the tolerance model's factor is the gradient's
        assert_close(row, "factor(N)·(a - y)", row.factor(N) * (a - y), want_da)


# ---- the proof: softplus is one row ---------------------------------------------------------------------

SOFTPLUS = Setting(hidden=("softplus",), depth=(2, 3))
SOURCE = Source("test", "tests/test_operations.py", "backpropagation through softplus hidden layers")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def recursion(hidden_derivative):
    """δ[L] from the loss, then δ[l] = δ[l+1] W[l+1]ᵀ ⊙ hidden_derivative(z[l]) (row convention)."""
    def compute(n, l):
        delta = output_delta(n)
        for k in range(n.L - 1, l - 1, -1):
            delta = (delta @ n.W[k + 1].T) * hidden_derivative(n.z[k])
        return delta
    return compute


def softplus_claim(id_, hidden_derivative, expected):
    return Formula(id=id_, title=id_, source=SOURCE, written="-", convention="row", quantity="dC/dz[l]",
                   setting=SOFTPLUS, compute=recursion(hidden_derivative), expected=expected)


@pytest.mark.parametrize("dtype", ("float64", "float32"))
def test_backpropagation_through_softplus_holds_and_wrong_derivatives_fail(dtype, memory):
    # the verdicts are what this test asserts, so the wrong claims are not diagnosed; the three claims share a
    # setting, so the session's memory draws its networks once
    right = audit(softplus_claim("softplus-delta", _sigmoid, "holds"), examples=60, dtypes=(dtype,), memory=memory)
    assert right.verdict == "holds", right.verdict
    for id_, wrong in (("softplus-derivative-as-sigmoid-prime", lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
                       ("softplus-derivative-missing", lambda z: np.ones_like(z))):
        result = audit(softplus_claim(id_, wrong, "erratum"), examples=60, dtypes=(dtype,), diagnose_failures=False,
                       memory=memory)
        assert result.verdict == "fails", (id_, result.verdict)


def test_softplus_is_not_drawn_by_default():
    """The catalog's networks are drawn from the default setting: a new row must not change them."""
    assert "softplus" in operations.HIDDEN_ACTIVATIONS and "softplus" not in Setting().hidden


# ---- every new row: a correct backpropagation holds and wrong ones fail, float64 and float32, saturated too --
# Cheap: evaluate() on networks the soak's generator draws (ordinary, saturated and large-logit regimes, values
# continuous), not an audit's Hypothesis search; the mutant corpus (trust/mutants.py) searches each row's own
# textbook mistakes.

from backprop_audit.judging.evaluate import evaluate  # noqa: E402
from backprop_audit.trust import backprop, soak  # noqa: E402

NEW_ACTIVATIONS = ("softplus", "leaky_relu", "elu", "gelu")
NEW_LOSSES = ("mse", "mae", "huber", "softmax_ce_sum", "sigmoid_bce_sum", "multiclass_hinge")
REGIMES = ("ordinary", "saturated", "logits")
PER_REGIME = 6


def _row_setting(name):
    if name in NEW_ACTIVATIONS:
        return Setting(depth=(2, 3), width=(1, 5), batch=(1, 5), hidden=(name,), output=("identity", "sigmoid"),
                       loss=("half_sum_sq", "mean_sum_sq"))
    row = operations.loss(name)
    return Setting(depth=(1, 2), width=(1, 5), batch=(2, 5), hidden=("tanh", "sigmoid"),
                   output=(row.output,) if row.output else ("identity", "tanh", "sigmoid"), loss=(name,),
                   targets=row.targets)


def _claims(name):
    """(the correct formulas, the wrong ones) for the row: general backpropagation against its row's derivative
    left out, or replaced by the activation itself; or the loss's output delta doubled, and its 1/N dropped
    (a batch mean) or added (a sum)."""
    setting = _row_setting(name)
    claim = lambda id_, q, compute, expected: Formula(id=f"{name}-{id_}", title=id_, source=SOURCE, written="-",
                                                      convention="row", quantity=q, setting=setting, compute=compute,
                                                      expected=expected)
    right = [claim(f.id, f.quantity, f.compute, "holds") for f in soak.CORRECT[:5]] + [
        claim("delta-column", "dC/dz[l]", lambda n, l: backprop.column_deltas(n)[l], "holds")]
    right[-1] = dataclasses.replace(right[-1], convention="column")
    if name in NEW_ACTIVATIONS:
        g = operations.activation(name)
        wrong = [claim("derivative-missing", "dC/dz[l]", recursion(np.ones_like), "erratum"),
                 claim("derivative-as-the-activation", "dC/dz[l]", recursion(g.forward), "erratum")]
    else:
        scale = lambda n: n.N if operations.loss(name).batch_mean else 1 / n.N
        wrong = [claim("output-delta-doubled", "dC/dz[L]", lambda n: 2 * backprop.output_delta(n), "erratum"),
                 claim("batch-factor", "dC/da[L]", lambda n: backprop.output_activation_gradient(n) * scale(n), "erratum")]
    return right, wrong


@pytest.mark.parametrize("dtype", ("float64", "float32"))
@pytest.mark.parametrize("name", NEW_ACTIVATIONS + NEW_LOSSES)
def test_a_new_row_holds_and_its_wrong_forms_fail(name, dtype, memory):
    rng = np.random.default_rng(zlib.crc32(f"{name} {dtype}".encode()))  # (hash() differs per process)
    right, wrong = _claims(name)
    caught = {f.id: 0 for f in wrong}
    checked = 0
    for regime in REGIMES:
        for _ in range(PER_REGIME):
            net = soak.draw_network(rng, soak.REGIMES[regime], np.dtype(dtype), right[0].setting)
            answers = memory.oracle_answers(net)
            if not all(np.all(np.isfinite(v)) for qs in answers.values() for v in qs.values()):
                continue  # overflowed oracles: the soak skips them too
            checked += 1
            for formula in right:
                outcome = evaluate(formula, net, memory=memory)
                assert not outcome.failed, f"{formula.id} ({regime}, {dtype}): {outcome.message}"
            for formula in wrong:
                caught[formula.id] += evaluate(formula, net, memory=memory).failed
    assert checked >= PER_REGIME * len(REGIMES) // 2, checked
    assert all(caught.values()), f"wrong forms that held on all {checked} networks: {[k for k, v in caught.items() if not v]}"
