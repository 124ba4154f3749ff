"""Quantity: the one parser of "C", "dC/dW[l]", "dC/dz[L-1]"... and what is asked of a parsed quantity."""
import pytest

from backprop_audit.model.quantity import Quantity, QuantityError, layer_names, quantity_names

TEXTS = ["C", "dC/dW[l]", "dC/db[2]", "dC/dz[L-1]", "dC/da[L]", "dC/dW[L-12]", "dC/dz[10]"]


@pytest.mark.parametrize("text", TEXTS)
def test_str_gives_back_the_text_parsed(text):
    assert str(Quantity.parse(text)) == text


@pytest.mark.parametrize("text, kind, layer", [("C", "C", None), ("dC/dW[l]", "W", "l"), ("dC/db[2]", "b", 2),
                                               ("dC/dz[L-1]", "z", "L-1"), ("dC/da[L]", "a", "L")])
def test_parse_reads_kind_and_layer(text, kind, layer):
    q = Quantity.parse(text)
    assert (q.kind, q.layer) == (kind, layer)
    assert q == Quantity(kind, layer) and hash(q) == hash(Quantity(kind, layer))


@pytest.mark.parametrize("text, says", [
    ("dC/dw[L]", "unknown kind 'w'"),
    ("dC/dx[2]", "unknown kind 'x'"),
    ("dC/dW[0]", "unknown layer '0'"),
    ("dC/dW[L-0]", "unknown layer 'L-0'"),
    ("dC/dW[L+1]", "unknown layer 'L+1'"),
    ("dC/dW[k]", "unknown layer 'k'"),
    ("dC/dW[02]", "unknown layer '02'"),
    ("dC/dW", "neither C nor dC/d<kind>[<layer>]"),
    ("c", "neither C nor dC/d<kind>[<layer>]"),
    ("", "neither C nor dC/d<kind>[<layer>]"),
    ("dC/dW[2] ", "neither C nor dC/d<kind>[<layer>]"),
    (2, "not int"),
])
def test_bad_text_is_refused_with_a_message_naming_what_is_wrong(text, says):
    with pytest.raises(QuantityError) as raised:
        Quantity.parse(text)
    assert str(raised.value).startswith(f"{text!r}: ") and says in str(raised.value)


@pytest.mark.parametrize("text, depth, concrete", [
    ("C", 3, ["C"]),
    ("dC/dW[l]", 3, ["dC/dW[1]", "dC/dW[2]", "dC/dW[3]"]),
    ("dC/db[2]", 3, ["dC/db[2]"]),
    ("dC/dz[L-1]", 3, ["dC/dz[2]"]),
    ("dC/da[L]", 3, ["dC/da[3]"]),
    ("dC/da[L]", 1, ["dC/da[1]"]),
])
def test_on_gives_the_concrete_quantities_on_a_network_of_a_depth(text, depth, concrete):
    q = Quantity.parse(text)
    assert [str(c) for c in q.on(depth)] == concrete
    assert all(c.concrete and c.exists_on(depth) for c in q.on(depth))
    assert [c.layer for c in q.on(depth)] == ([None] if q.is_cost else q.layers(depth))


def test_at_places_a_claim_at_a_layer_and_leaves_C_alone():
    assert Quantity.parse("dC/dz[l]").at(2) == Quantity.parse("dC/dz[2]")
    assert Quantity.parse("C").at(2) == Quantity.parse("C")
    assert Quantity.of("W", 2) is Quantity.of("W", 2)


@pytest.mark.parametrize("text, depth", [("C", 1), ("dC/dW[l]", 1), ("dC/da[L]", 1), ("dC/dz[L-1]", 2),
                                         ("dC/dW[L-3]", 4), ("dC/db[3]", 3)])
def test_min_depth_is_the_shallowest_network_with_the_quantity(text, depth):
    q = Quantity.parse(text)
    assert q.min_depth() == depth
    assert all(c.exists_on(depth) for c in q.on(depth))
    if depth > 1:
        assert not all(c.exists_on(depth - 1) for c in q.on(depth - 1))


def test_neighbour_and_other_kinds_keep_the_rest():
    q = Quantity.parse("dC/dz[2]")
    assert str(q.neighbour(1)) == "dC/dz[3]" and str(q.neighbour(-1)) == "dC/dz[1]"
    assert not q.neighbour(-2).exists_on(5) and not q.neighbour(2).exists_on(3)
    assert str(q.with_kind("a")) == "dC/da[2]" and q.kind_text == "dC/dz"


@pytest.mark.parametrize("text", ["C", "dC/dW[l]", "dC/dz[L-1]"])
def test_neighbour_and_other_kinds_are_refused_without_a_concrete_layer(text):
    q = Quantity.parse(text)
    with pytest.raises(QuantityError, match="no layer" if q.is_cost else "not a concrete layer"):
        q.neighbour(1)
    with pytest.raises(QuantityError):
        q.with_kind("a")


def test_stack_layers_are_shifted_by_the_identity_layers_in_front():
    q = Quantity.parse("dC/dW[1]")
    assert str(q.in_stack(2)) == "dC/dW[3]" and q.in_stack(2).out_of_stack(2) == q
    assert Quantity.parse("C").in_stack(2) == Quantity.parse("C")


def test_quantity_names_are_every_oracle_key_of_a_depth():
    assert quantity_names(2) == ["C", "dC/dW[1]", "dC/db[1]", "dC/dz[1]", "dC/da[1]",
                                 "dC/dW[2]", "dC/db[2]", "dC/dz[2]", "dC/da[2]"]
    assert tuple(layer_names(2)) == tuple(quantity_names(2)[5:])
    assert layer_names(2).z == "dC/dz[2]"


@pytest.mark.parametrize("kind, layer", [("x", 1), ("C", 2), ("W", None), ("W", "L-"), ("z", "L1")])
def test_a_quantity_built_directly_is_checked_too(kind, layer):
    with pytest.raises(QuantityError):
        Quantity(kind, layer)
