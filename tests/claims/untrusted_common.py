"""What the untrusted_*.py fixtures share: their setting, the record they make of a claim, and the correct
output error δ^L = a^L - y (half squared error, identity output) that their well-behaved claims compute.
A claims file may import a module beside it, as a user's would."""
from backprop_audit import Formula, Setting

SETTING = Setting(hidden=("tanh",), output=("identity",), loss=("half_sum_sq",), depth=(1, 2))


def claim(id, compute, source):
    return Formula(id=id, title=id, source=source, written="-", convention="column", quantity="dC/dz[L]",
                   setting=SETTING, compute=compute)


def output_error(v):
    return v.a[v.L] - v.y
