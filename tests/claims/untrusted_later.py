"""Fixture for tests/test_check_isolation.py: a correct claim in another file, checked after
untrusted_edits_inputs.py on the same networks: it holds whatever the claims before it did to their views."""
from backprop_audit import Formula, Setting, Source

SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(2, 3))


def first_layer_weight_gradient(v):
    delta = v.a[v.L] - v.y
    for k in range(v.L, 1, -1):
        delta = (delta @ v.W[k].T) * (1 - v.a[k - 1] ** 2)
    return v.a[0].T @ delta


CLAIMS = [Formula(id="later-file-correct", title="dC/dW[1], another file", source=Source("fixture", "untrusted_later.py", "-"),
                  written="-", convention="row", quantity="dC/dW[1]", setting=SETTING, compute=first_layer_weight_gradient)]
