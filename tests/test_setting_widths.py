"""Setting(input_width=..., output_width=...): the input's and the output's widths apart from the hidden
layers' `width`, so a single-output claim (a scalar db[L]) can have hidden layers wider than 1."""
import numpy as np
import pytest

from backprop_audit import Formula, RecordError, Setting, Source
from backprop_audit.searching.search import draw
from backprop_audit.searching.strategies import networks
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.entry import report_entry

SOURCE = Source("test", "tests/test_setting_widths.py", "a single output unit")
SINGLE_OUTPUT = Setting(depth=(2, 3), width=(2, 5), input_width=(3, 4), output_width=(1, 1),
                        output=("sigmoid",), loss=("half_sum_sq",))


def claim(compute, expected="holds"):
    return Formula(id="scalar-db", title="scalar db", source=SOURCE, written="-", convention="row",
                   quantity="dC/db[L]", setting=SINGLE_OUTPUT, compute=compute, expected=expected)


def test_the_input_and_output_widths_are_drawn_apart_from_the_hidden_ones():
    drawn = draw(networks(SINGLE_OUTPUT), 40, seed=1)
    assert all(net.widths[-1] == 1 and net.widths[0] in (3, 4) for net in drawn)
    assert all(2 <= w <= 5 for net in drawn for w in net.widths[1:-1])
    assert any(max(net.widths[1:-1]) > 1 for net in drawn)


def test_their_bytes_come_after_every_other_field():
    """A setting without input_width/output_width decodes its byte string as before (no byte added), and one
    with them keeps every other field where it was: the default draw, and the catalog's, are unchanged."""
    from backprop_audit.searching.strategies import SCALES, _layout

    plain, wider = (_layout(s, 1, SCALES, SCALES) for s in (Setting(), Setting(input_width=(1, 9), output_width=(1, 9))))
    assert plain.input_width is None and plain.output_width is None
    assert [f.start for f in plain.widths + plain.scale + plain.places] == \
        [f.start for f in wider.widths + wider.scale + wider.places]
    assert plain.seed.start == wider.seed.start and wider.input_width.start >= plain.size == wider.output_width.start - 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_scalar_output_bias_gradient_holds_and_a_wrong_one_fails(dtype, memory):
    delta = lambda n: (n.a[n.L] - n.y) * n.a[n.L] * (1 - n.a[n.L])
    right = report_entry(audit(claim(lambda n: delta(n).sum(axis=0)), examples=30, dtypes=(dtype,), memory=memory))
    assert right["verdict"] == "holds" and right["examples"] == 30
    wrong = report_entry(audit(claim(lambda n: delta(n).mean(axis=0), "erratum"), examples=30, dtypes=(dtype,),
                               memory=memory))
    assert wrong["verdict"] == "fails"
    assert wrong["counterexample"]["network"]["widths"][-1] == 1


@pytest.mark.parametrize("changes, message", [
    (dict(output_width=(0, 1)), "output_width must be (low, high)"),
    (dict(input_width=3), "input_width must be (low, high)"),
    (dict(output_width=(1, 1), square=True), "cannot be set with square=True"),
])
def test_a_malformed_width_is_named(changes, message):
    with pytest.raises(RecordError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Formula(id="bad", title="bad", source=SOURCE, written="-", convention="row", quantity="dC/db[L]",
                setting=Setting(**changes), compute=lambda n: n.b[n.L])


def test_one_name_is_a_tuple_of_that_name_and_the_claim_is_checked_the_same(memory):
    """Setting(loss="half_sum_sq") is what a user writes for one loss: the tuple of that name (a str read as a
    sequence would be one name per letter), the same draw and verdicts; a list is the tuple of its names."""
    named = Setting(depth=(2, 3), width=(2, 5), input_width=(3, 4), output_width=(1, 1), output="sigmoid",
                    loss=["half_sum_sq"])
    assert named == SINGLE_OUTPUT and named.output == ("sigmoid",) and named.loss == ("half_sum_sq",)
    fingerprints = lambda setting: [net.fingerprint() for net in draw(networks(setting), 20, seed=1)]
    assert fingerprints(named) == fingerprints(SINGLE_OUTPUT)
    delta = lambda n: (n.a[n.L] - n.y) * n.a[n.L] * (1 - n.a[n.L])
    for compute, verdict in ((lambda n: delta(n).sum(axis=0), "holds"), (lambda n: delta(n).mean(axis=0), "fails")):
        record = Formula(id="scalar-db", title="scalar db", source=SOURCE, written="-", convention="row",
                         quantity="dC/db[L]", setting=named, compute=compute)
        assert report_entry(audit(record, examples=20, dtypes=("float64",), memory=memory))["verdict"] == verdict
    with pytest.raises(RecordError, match=r"setting.hidden must be a name or a tuple of names, like 'sigmoid'"):
        Formula(id="bad", title="bad", source=SOURCE, written="-", convention="row", quantity="dC/db[L]",
                setting=Setting(hidden=3), compute=lambda n: n.a[n.L])
