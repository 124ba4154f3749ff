"""Fixture for tests/test_check_isolation.py: claims that edit their inputs in place, before correct
claims on the same networks (here and in untrusted_later.py). Each call of a formula gets a view of its
own (fresh copies), so an edit reaches no other call, claim or oracle: the correct claims hold."""
from backprop_audit import Formula, Setting, Source

SOURCE = Source("fixture", "untrusted_edits_inputs.py", "claims that edit their inputs")
SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(2, 3))


def claim(id, compute, quantity="dC/dz[L]", convention="row"):
    return Formula(id=id, title=id, source=SOURCE, written="-", convention=convention, quantity=quantity,
                   setting=SETTING, compute=compute)


def halves_the_input(v):
    """Correct (δ^L = a^L - y), but it halves X in place first; in the row convention a[0] is X."""
    X = v.a[0]
    X /= 2
    return v.a[v.L] - v.y


def deltas(v, l):
    """δ^l by backpropagation from δ^L = a^L - y (row convention: z = a W + b, tanh hidden)."""
    delta = v.a[v.L] - v.y
    for k in range(v.L, l, -1):
        delta = (delta @ v.W[k].T) * (1 - v.a[k - 1] ** 2)
    return delta


def deltas_then_zeroes_the_output(v, l):
    """Correct δ^l, then it zeroes a^L in place: had the calls for the other layers shared one view,
    they would start from a^L = 0."""
    delta = deltas(v, l)
    v.a[v.L][...] = 0
    return delta


def first_layer_weight_gradient(v):
    """dC/dW[1] = a[0]ᵀ δ^1 in the row convention: it reads X, which the first claim halved in its view."""
    return v.a[0].T @ deltas(v, 1)


CLAIMS = [
    claim("edits-halves-its-input", halves_the_input),
    claim("edits-zeroes-the-output-between-layers", deltas_then_zeroes_the_output, quantity="dC/dz[l]"),
    claim("edits-correct-after", first_layer_weight_gradient, quantity="dC/dW[1]"),
]
