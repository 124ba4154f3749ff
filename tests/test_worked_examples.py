"""The documents' worked numeric examples (manual/worked_examples.py), recomputed and asserted.

Derivatives are computed twice, with torch.autograd and with jax.grad, in float64, and each printed
number is asserted against both. Counts and shapes are checked by running what is counted. An
example recorded as an erratum must show the printed number to be wrong; one recorded as holding
must reproduce it. The quotes of these examples and of every catalog record, and the listings run by
manual/doc_003_listings.py, are checked to be verbatim in the documents.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.autograd import forward_ad

from backprop_audit.manual import catalog
from backprop_audit.manual import doc_003_listings as listings
from backprop_audit.manual import worked_examples as we

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def document_text(name: str) -> str:
    path = SEEDS / name
    if not path.exists():
        pytest.skip(f"source document {path} is not present in this checkout")
    return path.read_text(encoding="utf-8")


def whitespace_normalised(text: str) -> str:
    return " ".join(text.split())


PARAPHRASE = "(paraphrase) "  # manual/standard.py cites sources outside ../shared/seeds and marks its quotes so
# (record id, document, quote) of every worked example and every catalog record quoting a seed document.
QUOTES = ([(e.id, e.document, e.quote) for e in we.EXAMPLES]
          + [(f.id, f.source.document, f.source.quote) for f in catalog() if not f.source.quote.startswith(PARAPHRASE)])


def test_only_records_citing_outside_the_seeds_paraphrase():
    """A quote is verbatim from a seed document, or marked a paraphrase and cites a source with its address:
    no seed record escapes the verbatim check by the marking."""
    from backprop_audit.manual import standard, standard_layers

    paraphrased = standard.FORMULAS + standard_layers.FORMULAS
    seed_documents = {f.source.document for f in catalog() if f not in paraphrased}
    assert all(name.endswith(".txt") and "_" in name for name in seed_documents), seed_documents
    for f in catalog():
        marked = f.source.quote.startswith(PARAPHRASE)
        assert marked == (f in paraphrased), f"{f.id}: a paraphrase outside manual/standard*.py, or the reverse"
        if marked:
            # a citation (authors or title, and an address or a year), not a seed file name
            assert " " in f.source.document and f.source.document not in seed_documents and f.source.where, f.id
            assert len(f.source.quote) > len(PARAPHRASE) + 20, f.id


@pytest.mark.parametrize("record_id, document, quote", QUOTES, ids=[q[0] for q in QUOTES])
def test_quote_is_verbatim(record_id, document, quote):
    """The quote is the document's own text (a line break in the document may be a space in the quote)."""
    assert whitespace_normalised(quote) in whitespace_normalised(document_text(document)), (
        f"{record_id}: quote not found in {document}: {quote!r}")


def test_listings_are_the_documents_text():
    text = document_text(listings.DOC)
    for name in ("SETUP_AS_PRINTED", "UPDATE_MINI_BATCH_AS_PRINTED", "BACKPROP_AS_PRINTED"):
        assert getattr(listings, name) in text, f"doc_003_listings.{name} is not the document's text"


# --- the computational graph e = (a+b)(b+1): every printed derivative, by both oracles ----------------

def torch_derivative(example: we.GraphExample, node: str, of: str) -> float:
    value = example.evaluate(example.inputs)[of]
    free = torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(example.as_function_of(node, of)(free), free)
    return grad.item()


def jax_derivative(example: we.GraphExample, node: str, of: str) -> float:
    value = example.evaluate(example.inputs)[of]
    # jitted, as in every jax computation of this module: eagerly, each primitive is compiled on its own
    return float(jax.jit(jax.grad(example.as_function_of(node, of)))(jnp.float64(value)))


GRAPHS = [e for e in we.EXAMPLES if isinstance(e, we.GraphExample)]


@pytest.mark.parametrize("example", GRAPHS, ids=[e.id for e in GRAPHS])
def test_graph_derivatives_match_the_printed_numbers(example):
    derivatives = {k: v for k, v in example.printed.items() if k.startswith("d")}
    assert derivatives, f"{example.id} prints no derivative"
    found = {}
    for key, printed in derivatives.items():
        node, of = key[1:].split("/d")
        by_torch, by_jax = torch_derivative(example, node, of), jax_derivative(example, node, of)
        assert by_torch == pytest.approx(by_jax, abs=1e-12), f"{example.id} {key}: torch {by_torch}, jax {by_jax}"
        found[key] = by_torch
    wrong = {k: (found[k], derivatives[k]) for k in derivatives if found[k] != pytest.approx(derivatives[k], abs=1e-12)}
    if example.expected == "holds":
        assert not wrong, f"{example.id}: (computed, printed) differ: {wrong}"
    else:
        assert wrong, f"{example.id} is recorded as an erratum but every printed derivative is right"


@pytest.mark.parametrize("example", GRAPHS, ids=[e.id for e in GRAPHS])
def test_graph_values_match_the_implied_numbers(example):
    for backend, evaluate in ((lambda v: torch.tensor(v, dtype=torch.float64), example.evaluate),
                              (jnp.float64, jax.jit(example.evaluate))):
        values = evaluate({k: backend(v) for k, v in example.inputs.items()})
        for node, implied in example.implied.items():
            assert float(values[node]) == implied, f"{example.id}: {node} = {float(values[node])}, implied {implied}"


def test_graph_chain_sums_reproduce_the_printed_totals():
    """The document's own arithmetic: de/da = de/dc·dc/da and de/db = de/dc·dc/db + de/dd·dd/db."""
    p = we.E_GRAPH.printed
    assert p["de/dc"] * p["dc/da"] == p["de/da"] == 2
    assert p["de/dc"] * p["dc/db"] + p["de/dd"] * p["dd/db"] == p["de/db"] == 5


# --- forward mode needs n passes, reverse mode 2: counted in both frameworks ----------------------------

class Counted:
    """f, counting its calls (each call is one pass through the expression)."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, v):
        self.calls += 1
        return self.f(v)


def torch_forward_mode(f, x, tangent):
    """The directional derivative of f at x along `tangent`, by one forward-mode pass (core autograd's dual
    numbers; torch.func.jvp computes the same but imports torch._dynamo on its first call, ~1.4 s a worker)."""
    with forward_ad.dual_level():
        return forward_ad.unpack_dual(f(forward_ad.make_dual(x, tangent))).tangent


def torch_gradients(f, x):
    forward, reverse = Counted(f), Counted(f)
    tangents = torch.eye(len(x), dtype=torch.float64)
    by_forward = torch.stack([torch_forward_mode(forward, x, t) for t in tangents])
    xr = x.clone().requires_grad_(True)
    backward_passes = 1
    (by_reverse,) = torch.autograd.grad(reverse(xr), xr)
    return by_forward.numpy(), forward.calls, by_reverse.numpy(), reverse.calls + backward_passes


def jax_gradients(f, x):
    forward, reverse = Counted(f), Counted(f)
    # each jitted once: the calls counted are the traces, one per pass through the expression
    by_forward = jax.jit(lambda x: jnp.stack([jax.jvp(forward, (x,), (t,))[1]
                                              for t in jnp.eye(len(x), dtype=jnp.float64)]))(x)

    def reverse_mode(x):
        value, pullback = jax.vjp(reverse, x)
        return pullback(jnp.ones_like(value))[0]

    by_reverse = jax.jit(reverse_mode)(x)
    backward_passes = 1
    return np.asarray(by_forward), forward.calls, np.asarray(by_reverse), reverse.calls + backward_passes


@pytest.mark.parametrize("n", [3, 7])
def test_pass_counts_forward_n_reverse_2(n):
    f = we.PASSES.probe
    x = np.linspace(-1.3, 0.9, n)
    reference = jax.jit(jax.grad(f))(jnp.asarray(x))
    for name, gradients in (("torch", torch_gradients(f, torch.tensor(x))), ("jax", jax_gradients(f, jnp.asarray(x)))):
        by_forward, forward_passes, by_reverse, reverse_passes = gradients
        np.testing.assert_allclose(by_forward, reference, rtol=1e-12, err_msg=f"{name} forward mode")
        np.testing.assert_allclose(by_reverse, reference, rtol=1e-12, err_msg=f"{name} reverse mode")
        assert (forward_passes, reverse_passes) == (n, 2), f"{name}: {forward_passes} forward, {reverse_passes} reverse passes"


def test_printed_pass_counts_and_speedup():
    n, p = we.PASSES.inputs, we.PASSES.printed
    # The counting rule checked above at small n (forward n, reverse 2), applied at the document's n.
    assert (p["forward passes"], p["reverse passes"]) == (n, 2)
    assert p["forward passes"] / p["reverse passes"] == p["speedup"] == 500_000
    assert we.PASSES.expected == "holds"


# --- counts and shapes ---------------------------------------------------------------------------------

def test_mini_batch_count():
    ex = we.MINI_BATCHES
    data = list(range(ex.examples))
    nielsen = [data[k:k + ex.batch_size] for k in range(0, ex.examples, ex.batch_size)]  # network.py's SGD
    loader = torch.utils.data.DataLoader(data, batch_size=ex.batch_size)
    dropping = torch.utils.data.DataLoader(data, batch_size=ex.batch_size, drop_last=True)
    assert len(nielsen) == len(loader) == 1563 and len(nielsen[-1]) == 32
    assert sum(len(b) for b in nielsen) == ex.examples
    assert len(dropping) == ex.examples // ex.batch_size
    # Every example in a batch needs 1,563 batches; 1,562 holds only by dropping 32 examples.
    assert ex.expected == "erratum" and ex.printed["mini-batches"] != len(nielsen)
    assert ex.printed["mini-batches"] == len(dropping)


def test_setup_shapes_and_gradient_shapes():
    ex = we.SETUP_SHAPES
    net = listings.INTENDED([1, 2, 1])  # runs the printed setup lines
    weights = tuple(w.shape for w in net.weights)
    biases = tuple(b.shape for b in net.biases)
    assert weights == ex.printed["weight shapes"] and biases == ex.printed["bias shapes"]
    x, y = np.array([[0.3]]), np.array([[0.2]])

    def cost(module, Ws, bs):  # C = ½‖a - y‖², sigmoid layers, written once for both frameworks
        a, target = module.asarray(x), module.asarray(y)
        for W, b in zip(Ws, bs):
            a = 1 / (1 + module.exp(-(W @ a + b)))
        return 0.5 * ((a - target) ** 2).sum()

    Wt = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bt = [torch.tensor(b, requires_grad=True) for b in net.biases]
    torch_grads = torch.autograd.grad(cost(torch, Wt, bt), Wt)
    jax_grads = jax.jit(jax.grad(lambda Ws: cost(jnp, Ws, [jnp.asarray(b) for b in net.biases])))(
        [jnp.asarray(w) for w in net.weights])
    assert tuple(tuple(g.shape) for g in torch_grads) == weights
    assert tuple(tuple(g.shape) for g in jax_grads) == weights
    # The printed backprop returns the same gradient for this net.
    _, nabla_w = net.backprop(x, y)
    for mine, t, j in zip(nabla_w, torch_grads, jax_grads):
        np.testing.assert_allclose(mine, t.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(mine, np.asarray(j), rtol=1e-12, atol=1e-15)


def test_zip_output_is_not_what_python3_prints():
    ex = we.ZIP_OUTPUT
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(ex.code, {})  # noqa: S102 - the document's snippet, as printed
    printed_by_python = out.getvalue().strip()
    assert printed_by_python.startswith("<zip object at "), printed_by_python
    assert ex.expected == "erratum" and printed_by_python != ex.printed["output"]
    # The pairs the document shows are right: they are list(res).
    namespace = {}
    exec(ex.code.replace("print(res)", "pairs = list(res)"), namespace)  # noqa: S102
    assert namespace["pairs"] == eval(ex.printed["output"])  # noqa: S307 - a literal list printed in the document


# --- document 001: the sum of a = [1,2,3,4] -------------------------------------------------------------

def test_printed_sum_loop_never_ends_and_the_intended_one_gives_10():
    ex = we.SUM_OF_1_2_3_4
    a = list(ex.sequence)
    total, j, iterations, finished = ex.literal(a, 10_000)
    assert not finished and j == 0 and total == 10_000 * a[0]  # stuck on a[0]: j never moves
    assert ex.expected == "erratum"
    total, j, iterations, finished = ex.intended(a, 10_000)
    assert finished and iterations == len(a) and total == 10


def test_sum_derivative_is_one_for_every_term():
    a = np.array(we.SUM_OF_1_2_3_4.sequence, dtype=np.float64)
    loop = lambda v: we.SUM_OF_1_2_3_4.intended(v, 100)[0]  # the loop itself, differentiated
    at = torch.tensor(a, requires_grad=True)
    (by_torch,) = torch.autograd.grad(loop(at), at)
    by_jax = jax.jit(jax.grad(loop))(jnp.asarray(a))
    np.testing.assert_array_equal(by_torch.numpy(), np.ones(4))
    np.testing.assert_array_equal(np.asarray(by_jax), np.ones(4))
