"""The repair: a formula traced into an expression over named leaves, and the smallest edit of that
expression that makes it hold. The trace must replay what compute does (on a network where the literal
product does not even conform), and the search must find the edit a reader would name, apply it at every
step of a recursion alike, and give up (None) on a formula that no edit of up to two steps repairs."""
import numpy as np

from backprop_audit import Formula, Setting, Source
from backprop_audit.judging.memory import RunMemory
from backprop_audit.model.convention import view_of
from backprop_audit.model.network import Layer, Network
from backprop_audit.model.operations import derivative
from backprop_audit.searching.search import search
from backprop_audit.verdicts import trace
from backprop_audit.verdicts.audit import audit
from backprop_audit.verdicts.repair import find_repair

SOURCE = Source("test", "tests/test_repair.py", "a backprop step written wrong")
TWO_LAYERS = Setting(depth=(2, 2), output=("identity", "tanh"), loss=("mean_half_sum_sq",))


def delta(n):
    return (n.a[2] - n.y) / n.N * derivative(n.activation[2], n.z[2])


def claim(compute, quantity="dC/da[1]", setting=TWO_LAYERS):
    return Formula(id="step", title="step", source=SOURCE, written="-", convention="row", quantity=quantity,
                   setting=setting, compute=compute, expected="erratum")


def a_network(widths=(3, 4, 2), batch=2, seed=0):
    rng = np.random.default_rng(seed)
    layers = tuple(Layer(rng.normal(size=(o, i)), rng.normal(size=o), "tanh") for i, o in zip(widths, widths[1:]))
    return Network(layers, "mean_half_sum_sq", rng.normal(size=(batch, widths[0])), rng.normal(size=(batch, widths[-1])))


def test_the_trace_replays_compute_and_prints_it_in_the_view_s_symbols():
    """Traced on a twin (the literal product conforms there), replayed on the real network."""
    view = view_of(a_network(), "row")
    tree, twin = trace.trace(lambda n: delta(n) @ n.W[2].T, view, None)
    assert trace.show(tree).endswith("@ W[2].T")
    assert "'(z[2])" in trace.show(tree)  # the activation's derivative collapsed into one named node
    replayed = trace.evaluate(tree, trace.leaf_values(view))
    assert np.allclose(replayed, delta(view) @ view.W[2].T)


def test_a_missing_transpose_inside_the_formula_is_repaired_by_transposing_that_leaf():
    memory = RunMemory()
    wrong = claim(lambda n: delta(n) @ n.W[2])  # (N, n2) @ (n1, n2): conforms only on square layers
    failures = search(wrong, examples=40, shrink=False, keep_going=True, seed=1, memory=memory).failures
    repair = find_repair(wrong, failures, "float64", memory)
    assert repair is not None and repair.labels == ["transpose W[L]"]
    assert repair.expression.endswith("@ W[2].T")


def test_a_mistake_at_every_step_of_a_recursion_is_one_edit():
    """σ' on the wrong side of Wᵀ at every layer: one regrouping, made at every step alike."""
    def wrong_steps(n, l):
        g = n.a[n.L] - n.y
        for k in range(n.L - 1, l - 1, -1):
            g = derivative(n.activation[k + 1], n.z[k + 1]) * (n.W[k + 1].T @ g)
        return g
    setting = Setting(depth=(1, 3), output=("sigmoid",), hidden=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1))
    wrong = Formula(id="steps", title="steps", source=SOURCE, written="-", convention="column", quantity="dC/da[l]",
                    setting=setting, compute=wrong_steps, expected="erratum")
    result = audit(wrong, examples=40, dtypes=("float64",))
    assert result.diagnosis.kind == "repair" and result.diagnosis.fix == "regroup the product"


def test_a_formula_no_small_edit_repairs_gets_no_repair():
    """|a - y| summed for the output gradient: no edit of the list gives the derivative of a square."""
    memory = RunMemory()
    wrong = claim(lambda n: np.abs(n.a[2] - n.y) @ n.W[2].T @ n.W[2] @ n.W[2].T)
    failures = search(wrong, examples=40, shrink=False, keep_going=True, seed=1, memory=memory).failures
    assert find_repair(wrong, failures, "float64", memory) is None


def test_n_times_a_width_replays_as_python_s_int_so_float32_stays_float32():
    """N * K between Python scalars is an int in compute: traced as np.multiply, its int64 made a float32 array
    divided by it float64 on replay (NumPy 2), and the trace of a float32 formula was not faithful."""
    rng = np.random.default_rng(1)
    layers = (Layer(rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=2).astype(np.float32), "identity"),)
    net = Network(layers, "mae", rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32))
    view = view_of(net, "row")
    compute = lambda n: (n.a[1] - n.y) / (n.N * n.sizes[-1])  # noqa: E731
    tree, _ = trace.trace(compute, view, None, on_view=True)
    replayed = trace.evaluate(tree, trace.leaf_values(view))
    assert replayed.dtype == compute(view).dtype == np.float32
    assert np.array_equal(replayed, compute(view))


def test_a_constant_made_of_a_leaf_s_dtype_is_traced_in_the_network_s_dtype():
    """np.eye(n, dtype=v.dtype) is no call on a leaf: the tree holds its value, made on the twin. A float64 twin of a
    float32 network made every float32 replay float64 (issue 15: mutant-jacobian-derivative-of-a's repair failed its
    fresh float32 search on the dtype), and the derivative form is still recognised (on the twin's draw in float64)."""
    rng = np.random.default_rng(2)
    layers = (Layer(rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32), "sigmoid"),
              Layer(rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32), "tanh"))
    net = Network(layers, "half_sum_sq", rng.normal(size=(2, 2)).astype(np.float32),  # widths 2, as the twin's
                  rng.normal(size=(2, 2)).astype(np.float32))
    view = view_of(net, "row")

    def compute(n, l):  # σ'(z) as a(1 - a), diagonal per sample
        s = n.a[l] * (1 - n.a[l])
        return s[:, :, None] * np.eye(s.shape[-1], dtype=s.dtype)
    tree, twin = trace.trace(compute, view, 1)
    assert twin.x.dtype == twin.z[1].dtype == twin.a[1].dtype == np.float32
    assert trace.show(tree).startswith("σ'(z[1])")  # collapsed: a(1 - a) is g'(z) on the twin's values
    assert "dtype" not in trace.show(tree) and "array([[1., 0.]" in trace.show(tree)  # the constant as in float64
    replayed = trace.evaluate(tree, trace.leaf_values(view))
    assert replayed.dtype == compute(view, 1).dtype == np.float32
    assert np.allclose(replayed, compute(view, 1), rtol=1e-5, atol=0)
    assert trace.twin_key(view) != trace.twin_key(view_of(net.astype(np.float64), "row"))  # traces kept per dtype


def test_a_repair_prints_a_loop_over_nodes_as_a_sum_and_a_size_read_from_a_shape_by_its_symbol():
    """Σ_j written as Python's sum over the output nodes, and 1/N as 1 / y.shape[0]: traced, both are what they
    were on the network (one term per node, the number N); the corrected formula prints them as the record
    writes them (issue 15: the corrected formula in the record's own symbols), and the fit is unchanged."""
    memory = RunMemory()

    def by_nodes(n):  # tanh'(a[2]) for tanh'(z[2]) inside each term of Σ_j δ_j W[2][:, j]
        delta = (n.a[2] - n.y) / n.y.shape[0] * derivative("tanh", n.a[2])
        return sum(delta[:, j:j + 1] * n.W[2][:, j][None, :] for j in range(n.sizes[-1]))
    wrong = claim(by_nodes, setting=TWO_LAYERS.restricted(output=("tanh",), width=(2, 4)))
    failures = search(wrong, examples=40, shrink=False, keep_going=True, seed=1, memory=memory).failures
    repair = find_repair(wrong, failures, "float64", memory)
    assert repair is not None and repair.labels == ["g'(z) for g'(a)"]
    assert repair.expression == "sum(((a[2] - y) / N * tanh'(z[2]))[:, j:j+1] * W[2][:, j][None, :] for j in range(K))"


def test_a_sum_whose_terms_are_not_indexed_by_their_position_stays_as_written():
    """Only a sum whose k-th term is the first with k added to its indices is folded; a sum of the layers'
    weights is printed term by term, and constants the same on both printer views keep their number."""
    from backprop_audit.verdicts import symbols
    view = view_of(a_network(widths=(2, 2, 2)), "row")
    tree, _ = trace.trace(lambda n: sum(2 * n.W[l] for l in (1, 2)) + n.W[1][0:1, :] + n.W[1][1:2, :], view, None)
    assert trace.show(symbols.fold_sums(tree)) == "2 * W[1] + 2 * W[2] + W[1][0:1, :] + W[1][1:2, :]"
    folded = symbols.fold_sums(trace.trace(lambda n: sum(n.W[1][k:k + 1, :] * 2.0 for k in range(2)), view, None)[0])
    assert trace.show(folded) == "sum(W[1][j:j+1, :] * 2 for j in range(2))"


def test_constants_that_follow_the_sizes_print_as_their_symbols_and_the_record_s_own_numbers_as_written():
    """1 / y.shape[0] is 1/N, a width read from sizes is K, η is η; 2 and 0.5 are the record's: traced, all but
    η (a leaf of its own, as N is) are numbers, and only those that change with the printer views' sizes are named."""
    from backprop_audit.verdicts import symbols
    import dataclasses
    view = dataclasses.replace(view_of(a_network(), "row"), eta=0.25)

    def compute(n):
        return n.W[2] - n.eta * (2 * (n.a[2] - n.y) * (1.0 / n.y.shape[0]) / (n.N * n.sizes[-1]) * 0.5).sum()
    text = symbols.expression_in_symbols(lambda v: trace.trace(compute, v, None, on_view=True)[0], view)
    assert text == "W[2] - η * np.sum(2 * (a[2] - y) * 1/N / (N * K) * 0.5)"
    assert trace.show(trace.trace(compute, view, None, on_view=True)[0]) == \
        "W[2] - η * np.sum(2 * (a[2] - y) * 0.5 / (N * 2) * 0.5)"  # as traced on the network (N = K = 2)


def test_a_loop_over_a_width_traced_on_a_narrower_twin_is_not_taken_for_the_formula():
    """A sum written out over the output nodes j (document 001's Σ_j, column convention) records one term per
    node of the twin it is traced on (3 wide here, the batch size). On a network whose two extra output nodes
    are saturated tanh units (g'(z) ~ 1e-13) the twin's tree leaves out terms of ~1e-10 of the value: close to
    10 digits, yet 39x the tolerance of a check (seen: a repaired formula that held on one fresh search failed
    the next). The replay must match compute to a few ulps, so the formula is traced on the network itself."""
    from backprop_audit.verdicts.repair import REPLAY_ULPS, _faithful_tree, _Traces

    def written_out(n):
        terms = 2 * (n.a[2] - n.y) * derivative(n.activation[2], n.z[2])
        return sum(terms[j:j + 1, :] * n.W[2][j, :][:, None] for j in range(n.W[2].shape[0])) / n.N

    rng = np.random.default_rng(3)
    W2, b2 = rng.normal(size=(5, 2)), np.zeros(5)
    W2[3:] *= 0.01
    b2[3:] = (13.0, -14.0)  # the nodes the twin does not have: z ~ 13, -14, tanh'(z) ~ 1e-11, 3e-12
    layers = (Layer(rng.normal(size=(2, 2)), rng.normal(size=2), "tanh"), Layer(W2, b2, "tanh"))
    net = Network(layers, "mean_half_sum_sq", rng.normal(size=(3, 2)), rng.uniform(size=(3, 5)))
    view = view_of(net, "column")
    direct = written_out(view)
    terms = 2 * (view.a[2] - view.y) * derivative("tanh", view.z[2])
    left_out = sum(terms[j:j + 1, :] * view.W[2][j, :][:, None] for j in (3, 4)) / view.N
    assert 1e-16 < np.max(np.abs(left_out)) / np.max(np.abs(direct)) < 1e-9  # what rtol 1e-9 let through
    tree = _faithful_tree(claim(written_out), view, None, _Traces())
    replay = trace.evaluate(tree, trace.leaf_values(view))
    assert np.max(np.abs(replay - direct)) <= REPLAY_ULPS * np.finfo(np.float64).eps * np.max(np.abs(direct))


def test_a_factor_on_one_term_is_repaired_as_such_and_eta_is_read_from_each_network():
    """W - 2η·g where the step is W - η·g: no factor of the whole undoes it, a factor 1/2 on the term does
    (repair.TERM_FACTORS). η is a leaf of the tree: held as the twin's number, the repaired step failed every
    fresh network with another η. The term's factor is the edit's own: no free factor in front as well."""
    setting = Setting(depth=(1, 1), output=("sigmoid",), loss=("half_sum_sq",), eta=(0.1, 3.0))

    def step(n):
        return n.W[1] - 2 * n.eta * (n.a[0].T @ ((n.a[1] - n.y) * derivative("sigmoid", n.z[1])))
    formula = claim(step, quantity="W'[1]", setting=setting)
    memory = RunMemory()
    found = search(formula, examples=40, memory=memory)
    assert not found.held
    repair = find_repair(formula, [found.minimal] + found.failures, "float64", memory)
    assert repair is not None and repair.labels == ["x 1/2 on a term"] and repair.factor == "", repair
    assert "η" in repair.expression and repair.examples >= 100


def _repair_of(wrong, seed=1):
    memory = RunMemory()
    failures = search(wrong, examples=40, shrink=False, keep_going=True, seed=seed, memory=memory).failures
    assert failures, "the formula must fail for its repair to be asked for"
    return find_repair(wrong, failures, "float64", memory)


def test_no_repair_puts_a_derivative_in_a_where_s_condition():
    """ELU's slope written f(z) where it is f(z) + α: g'(z) for the condition z > 0 is nonzero everywhere, so the
    where became its first branch, 1, and the "repair" (read as dC/da) was the upstream gradient itself."""
    elu = Setting(depth=(2, 2), hidden=("elu",), output=("identity",), loss=("half_sum_sq",))
    wrong = claim(lambda v: (v.a[2] - v.y) @ v.W[2].T * np.where(v.z[1] > 0, 1.0, v.a[1]), "dC/dz[1]", elu)
    repair = _repair_of(wrong)
    assert repair is None or not any("replaced by g'(z)" in edit for edit in repair.edits), repair.edits


def test_no_repair_is_the_loss_s_own_derivative_for_the_whole_formula():
    """p - y on real targets: the loss's dC/da[L] for (a - y) with the claim read as dC/da[L] "held", and was
    only the oracle's value; what p - y needs is rows of y summing to 1."""
    real = Setting(depth=(1, 1), output=("softmax",), loss=("softmax_ce",), targets=("real",))
    assert _repair_of(claim(lambda v: (v.a[v.L] - v.y) / v.N, "dC/dz[L]", real)) is None
    everything = real.restricted(targets=("onehot", "prob", "real"))
    result = audit(claim(lambda v: (v.a[v.L] - v.y) / v.N, "dC/dz[L]", everything), examples=30, dtypes=("float64",))
    assert "holds only when rows of y summing to 1" in result.diagnosis.text, result.diagnosis.text
