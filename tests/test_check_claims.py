"""Loading claims files (backprop_audit.commands.claims): every problem is named with its file, line and claim,
and never costs the claims around it. No oracle runs here."""
import sys
from pathlib import Path

import pytest

import backprop_audit
from backprop_audit import Formula, RecordError, Setting, Source
from backprop_audit.commands.claims import load_claims

CLAIMS = Path(__file__).parent / "claims"  # malformed claims files, test assets
WORKED_EXAMPLE = Path(backprop_audit.__file__).parent / "examples" / "nielsen_book.py"


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of `path` that contains `text`."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def messages(loaded):
    return [str(p) for p in loaded.problems]


def test_the_worked_example_loads_cleanly():
    loaded = load_claims([WORKED_EXAMPLE])
    assert loaded.problems == []
    assert [c.id for c in loaded.claims][:5] == ["nielsen-BP1", "nielsen-BP1-as-first-copied", "nielsen-BP2",
                                                 "nielsen-BP3", "nielsen-BP4"]
    assert all(isinstance(c, Formula) for c in loaded.claims)


def test_a_bad_record_costs_only_itself_and_names_its_line():
    bad = CLAIMS / "bad_records.py"
    loaded = load_claims([WORKED_EXAMPLE, bad])
    ids = [c.id for c in loaded.claims]
    assert "bad-records-valid" in ids and ids.count("bad-records-valid") == 1 and ids.count("nielsen-BP1") == 1
    by_claim = {p.claim: p for p in loaded.problems}
    expected = {
        "bad-records-unknown-quantity": "unknown quantity 'dC/dw[L]'",
        "bad-records-unknown-activation": "setting.output has unknown or no values ['softplus']; "
                                          f"known: {', '.join(KNOWN['output'])}",
        "bad-records-unknown-loss": f"setting.loss has unknown or no values ['cross_entropy']; known: {', '.join(KNOWN['loss'])}",
    }
    for claim, message in expected.items():
        problem = by_claim[claim]
        assert problem.file == str(bad) and message in problem.message
        assert problem.line == line_of(bad, f'claim("{claim}"')
    assert "is a str, not a Formula" in by_claim["#5 of CLAIMS"].message
    duplicate_across = by_claim["nielsen-BP1"]
    assert duplicate_across.line == line_of(bad, 'claim("nielsen-BP1")')
    assert f"already defined in {WORKED_EXAMPLE}, line {line_of(WORKED_EXAMPLE, 'Formula(')}" \
        in duplicate_across.message
    duplicate_within = [p for p in loaded.problems if p.claim == "bad-records-valid"]
    assert len(duplicate_within) == 1 and "duplicate id" in duplicate_within[0].message
    assert len(loaded.problems) == 6


# The names users write (issue 16), each list in the operation table's order: the error for any other name lists them.
KNOWN = {
    "hidden": ("sigmoid", "tanh", "relu", "identity", "softplus", "leaky_relu", "elu", "gelu"),
    "output": ("sigmoid", "tanh", "identity", "softmax"),
    "loss": ("sum_sq", "half_sum_sq", "mean_sum_sq", "mean_half_sum_sq", "softmax_ce", "sigmoid_bce", "mse", "mae",
             "huber", "softmax_ce_sum", "sigmoid_bce_sum", "multiclass_hinge"),
    "targets": ("real", "onehot", "prob", "binary", "labels"),
}


@pytest.mark.parametrize("field, unknown", [("hidden", "swish"), ("output", "leaky_relu"), ("loss", "svm"),
                                            ("targets", "classes")])
def test_a_name_outside_the_lists_gets_an_error_listing_the_known_names(field, unknown):
    setting = Setting(output=("identity",), loss=("mse",)).restricted(**{field: (unknown,)})
    with pytest.raises(RecordError) as raised:
        Formula(id="unknown-name", title="-", source=Source("-", "-", "-"), written="-", convention="row",
                quantity="C", setting=setting, compute=lambda v: 0.0)
    assert str(raised.value) == (f"formula 'unknown-name': setting.{field} has unknown or no values [{unknown!r}]; "
                                 f"known: {', '.join(KNOWN[field])}")


def test_formula_checks_are_strict_again_after_loading():
    load_claims([CLAIMS / "bad_records.py"])
    from backprop_audit.manual.doc_003 import FORMULAS
    with pytest.raises(RecordError, match="unknown quantity"):
        Formula(**{**FORMULAS[0].__dict__, "quantity": "dC/dw[L]"})


def test_missing_syntax_and_import_errors_name_file_and_line(tmp_path):
    missing = tmp_path / "nope.py"
    loaded = load_claims([missing, CLAIMS / "bad_syntax.py", CLAIMS / "bad_import.py"])
    assert loaded.claims == []
    text = messages(loaded)
    assert text[0] == f"{missing}: no such file"
    assert text[1].startswith(f"{CLAIMS / 'bad_syntax.py'}, line {line_of(CLAIMS / 'bad_syntax.py', 'def output_error')}: syntax error")
    assert text[2].startswith(f"{CLAIMS / 'bad_import.py'}, line {line_of(CLAIMS / 'bad_import.py', 'import backprop_that')}: cannot import")
    assert "backprop_that_does_not_exist" in text[2]


def test_a_file_without_claims_or_with_a_dangling_correction(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    dangling = tmp_path / "dangling.py"
    dangling.write_text(
        "from backprop_audit.manual.doc_003 import FORMULAS\n"
        "import dataclasses\n"
        "BY_ID = {f.id: f for f in FORMULAS}\n"
        "CLAIMS = [dataclasses.replace(BY_ID['003-output-error-sigmoid'], id='fixed', corrects='no-such-claim'),\n"
        "          BY_ID['003-delta-recursion']]\n")
    loaded = load_claims([empty, dangling])
    assert [c.id for c in loaded.claims] == ["003-delta-recursion"]
    assert messages(loaded) == [f"{empty}: defines no CLAIMS (write CLAIMS = [Formula(...), ...])",
                                f"{dangling}, line 4: claim fixed: corrects unknown id 'no-such-claim'"]


def test_an_unknown_or_wrong_typed_field_costs_only_its_claim_and_names_the_field_and_its_line():
    bad = CLAIMS / "bad_fields.py"
    loaded = load_claims([bad])
    assert [c.id for c in loaded.claims] == ["bad-fields-valid"]
    expected = {
        "bad-fields-unknown-formula-field": "unexpected keyword argument 'qantity'",
        "bad-fields-unknown-setting-field": "unexpected keyword argument 'dept'",
        "bad-fields-depth-not-a-pair": "setting.depth must be (low, high), two whole numbers with 1 <= low <= high, got 3",
        "bad-fields-fractional-width": "setting.width must be (low, high), two whole numbers with 1 <= low <= high, "
                                       "got (1.5, 3.0)",
        "bad-fields-hidden-not-a-tuple": "setting.hidden must be a name or a tuple of names",
    }
    by_claim = {p.claim: p for p in loaded.problems}
    assert set(by_claim) == set(expected)
    for claim, message in expected.items():
        problem = by_claim[claim]
        assert problem.file == str(bad) and message in problem.message, problem
        assert problem.line == line_of(bad, f'claim("{claim}"'), problem  # the entry's line, not the helper's


def test_loading_patches_nothing(tmp_path):
    """The loader chooses how records are checked through formula.records_checked_by, not by patching."""
    post_init = Formula.__post_init__
    spy = tmp_path / "spy.py"
    spy.write_text("from backprop_audit import Formula\nSEEN = Formula.__post_init__\nCLAIMS = []\n")
    load_claims([spy])
    module = next(m for name, m in sys.modules.items() if name.startswith("backprop_audit_claims_spy_"))
    assert module.SEEN is post_init and Formula.__post_init__ is post_init


@pytest.mark.parametrize("quantity, compute, says", [
    ("dC/dW[l]", lambda v: 0.0, "quantity dC/dW[l] is checked by calling compute(view, l), and compute takes (v)"),
    ("dC/dW[L]", lambda v, l: 0.0, "quantity dC/dW[L] is checked by calling compute(view), and compute takes (v, l)"),
])
def test_a_compute_of_the_wrong_arguments_is_an_input_error_not_a_run_time_one(quantity, compute, says):
    """Found only when called, it was an error verdict raised at a line of the engine, not of the claim."""
    with pytest.raises(RecordError) as raised:
        Formula(id="arity", title="-", source=Source("-", "-", "-"), written="-", convention="row",
                quantity=quantity, setting=Setting(), compute=compute)
    assert str(raised.value) == f"formula 'arity': {says}"
    Formula(id="defaults", title="-", source=Source("-", "-", "-"), written="-", convention="row",  # a default is fine
            quantity="dC/dW[L]", setting=Setting(), compute=lambda v, l=None: 0.0)


def test_a_loss_that_fits_no_output_names_the_pair():
    with pytest.raises(RecordError, match=r"setting.loss \['softmax_ce'\] can sit on any activation in setting.output "
                                          r"\['identity'\] \(softmax_ce needs output softmax\)"):
        Formula(id="pair", title="-", source=Source("-", "-", "-"), written="-", convention="row", quantity="C",
                setting=Setting(output=("identity",), loss=("softmax_ce",)), compute=lambda v: 0.0)


def test_a_claims_file_not_named_py_is_read_as_python(tmp_path):
    """importlib finds no loader for another suffix: the worker raised AttributeError at its own line."""
    claims = tmp_path / "claims.txt"
    claims.write_text(WORKED_EXAMPLE.read_text()
                      .replace("from user_network import", "from backprop_audit.examples.user_network import"))
    not_python = tmp_path / "notes.txt"
    not_python.write_text("this is not python(\n")
    loaded = load_claims([claims, not_python])
    assert len(loaded.claims) == len(load_claims([WORKED_EXAMPLE]).claims) > 0
    assert messages(loaded) == [f"{not_python}, line 1: syntax error: '(' was never closed"]


def test_a_view_names_what_it_has_when_asked_for_what_it_has_not():
    from backprop_audit.model.convention import view_of
    from backprop_audit.model.network import smallest

    with pytest.raises(AttributeError, match=r"the network view has no 'lam'; it has convention, L, N, sizes, x, y, W, "
                                             r"b, z, a, activation, loss, l2, .* X, Y$"):
        view_of(smallest(), "row").lam


def test_a_file_given_twice_is_read_once():
    """Read twice, each of its claims was reported as a duplicate of itself, at its own line."""
    twice = load_claims([WORKED_EXAMPLE, WORKED_EXAMPLE.parent / ".." / "examples" / WORKED_EXAMPLE.name])
    assert messages(twice) == [] and [c.id for c in twice.claims] == [c.id for c in load_claims([WORKED_EXAMPLE]).claims]
