# A user's own test file, as the README shows it: one right and one wrong formula. It is not collected
# here (not test_*.py); tests/test_pytest_plugin.py copies it into a project of its own and runs pytest
# there, which must give 1 passed, 1 failed, the failure saying "x 1/N".
from backprop_audit import Formula, Setting, Source, assert_holds

LINEAR = Setting(depth=(1, 1), hidden=("identity",), output=("identity",), loss=("mean_half_sum_sq",))

def weight_gradient(id, compute):  # dC/dW of one linear layer, mean half squared error, column convention
    return Formula(id=id, title="dC/dW", source=Source("my notes", "eq. 3", "dC/dW = (a - y) x^T / N"),
                   written=r"(a - y) x^T / N", convention="column", quantity="dC/dW[1]", setting=LINEAR, compute=compute)

def test_weight_gradient():
    assert_holds(weight_gradient("mean", lambda v: (v.a[1] - v.y) @ v.x.T / v.N))

def test_weight_gradient_without_the_mean():
    assert_holds(weight_gradient("sum", lambda v: (v.a[1] - v.y) @ v.x.T))
