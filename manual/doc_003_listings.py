"""Document 003_e380f16b86dd662d.txt, section "Implementation": Nielsen's code, run as printed.

The document prints three pieces of Michael Nielsen's `network.py`: the setup lines of the class
(biases and weights), `update_mini_batch(self, mini_batch, eta)` and `backprop(self, x, y)`. The
text of each is kept below exactly as the document prints it (tabs, blank lines and trailing blanks
included) and executed, so the records check the printed code itself, not a rewrite of it.

What the printing lost and we had to supply or adapt (each record's note repeats what concerns it):

- The setup lines are printed at the top level, without the `def __init__(self, sizes):` they sit
  in; we run them as the body of that method (indented one tab, nothing else changed).
- `backprop` runs verbatim: its `# backward pass` comment is printed at column 0, which Python
  ignores inside a block, so the printed text compiles as it stands.
- `update_mini_batch` prints its `for x, y in mini_batch:` line at column 0. Taken literally that
  ends the function after the two `np.zeros` lines and puts the loop at module level (where
  `mini_batch` does not exist). We indent every line from that `for` on by one tab, which keeps the
  printed relative indentation: the `self.weights = ...` and `self.biases = ...` statements stay at
  the same depth as the loop body, i.e. INSIDE the loop ("literal" reading: the parameters are
  updated after every sample, each time by the running sum). The "intended" reading, Nielsen's own
  code, has those two statements after the loop; we obtain it by dedenting exactly those two
  statements to the level of the `for`.
- Not printed, and supplied as in Nielsen's network.py: `cost_derivative(self, output_activations,
  y)` returns `output_activations - y`; `sigmoid(z) = 1.0/(1.0+np.exp(-z))`; `sigmoid_prime(z) =
  sigmoid(z)*(1-sigmoid(z))`; `np` is NumPy.

Nielsen's lists `self.weights`, `self.biases`, `nabla_w`, `nabla_b` hold layers 1..L at indices
0..L-1, so the document's layer l is index l-1 there (the records say so where they index).
"""
from __future__ import annotations

import numpy as np

from backprop_audit import Expected, Formula, Setting, Source

DOC = "003_e380f16b86dd662d.txt"

# The listings as printed (document lines 700-703, 729-749 and 778-807). Do not reformat.
SETUP_AS_PRINTED = """\
self.num_layers = len(sizes)
self.sizes = sizes
self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
"""

UPDATE_MINI_BATCH_AS_PRINTED = """\
def update_mini_batch(self, mini_batch, eta):


\tnabla_b = [np.zeros(b.shape) for b in self.biases]
\tnabla_w = [np.zeros(w.shape) for w in self.weights]

  

for x, y in mini_batch:

\tdelta_nabla_b, delta_nabla_w = self.backprop(x, y)

\tnabla_b = [nb+dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
\tnabla_w = [nw+dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]

\tself.weights = [w-(eta/len(mini_batch))*nw 
\t\t\t\t\tfor w, nw in zip(self.weights, nabla_w)]

\tself.biases = [b-(eta/len(mini_batch))*nb

\t\t\t\t\tfor b, nb in zip(self.biases, nabla_b)]
"""

BACKPROP_AS_PRINTED = """\
def backprop(self, x, y):

\tnabla_b = [np.zeros(b.shape) for b in self.biases]
\tnabla_w = [np.zeros(w.shape) for w in self.weights]

\t# feedforward
\tactivation = x
\tactivations = [x] # list to store all the activations, layer by layer
\tzs = [] # list to store all the z vectors, layer by layer

\tfor b, w in zip(self.biases, self.weights):
\t\tz = np.dot(w, activation)+b
\t\tzs.append(z)
\t\tactivation = sigmoid(z)
\t\tactivations.append(activation)

# backward pass
\tdelta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])

\tnabla_b[-1] = delta
\tnabla_w[-1] = np.dot(delta, activations[-2].transpose())

\tfor l in range(2, self.num_layers):
\t\tz = zs[-l]
\t\tsp = sigmoid_prime(z)
\t\tdelta = np.dot(self.weights[-l+1].transpose(), delta) * sp
\t\tnabla_b[-l] = delta
\t\tnabla_w[-l] = np.dot(delta, activations[-l-1].transpose())

\treturn (nabla_b, nabla_w)
"""

# Supplied, not printed: Nielsen's network.py, verbatim.
SUPPLIED = """\
def cost_derivative(self, output_activations, y):
    return (output_activations-y)

def sigmoid(z):
    return 1.0/(1.0+np.exp(-z))

def sigmoid_prime(z):
    return sigmoid(z)*(1-sigmoid(z))
"""

LOOP_LINE = "for x, y in mini_batch:\n"
UPDATE_STATEMENTS = ("\tself.weights = [", "\tself.biases = [")


def literal_update_mini_batch_text(printed: str = UPDATE_MINI_BATCH_AS_PRINTED) -> str:
    """The printed text with the lost tab restored: every line from the `for` on moves one tab in."""
    head, loop = printed.split(LOOP_LINE)
    return head + "\t" + LOOP_LINE + "".join("\t" + line if line.strip() else line
                                             for line in loop.splitlines(keepends=True))


def intended_update_mini_batch_text() -> str:
    """The literal text with the two update statements (and their continuation lines) moved out of the loop."""
    lines, out, inside_update = literal_update_mini_batch_text().splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith(tuple("\t" + s for s in UPDATE_STATEMENTS)):
            inside_update = True
        if inside_update and line.strip():
            line = line[1:]  # one tab less: the level of the `for`, after the loop
        out.append(line)
    return "".join(out)


def setup_text() -> str:
    """The printed setup lines as the body of `__init__(self, sizes)`, the method they come from."""
    return "def __init__(self, sizes):\n" + "".join("\t" + line for line in SETUP_AS_PRINTED.splitlines(keepends=True))


def _define(text: str, name: str, namespace: dict):
    exec(compile(text, f"<document 003 listing: {name}>", "exec"), namespace)  # noqa: S102 - the printed code
    return namespace[name]


def listing_class(update_text: str):
    """A class whose methods are the printed listings (update_mini_batch from `update_text`)."""
    namespace = {"np": np}
    exec(compile(SUPPLIED, "<supplied: Nielsen's network.py>", "exec"), namespace)  # noqa: S102
    methods = {
        "__init__": _define(setup_text(), "__init__", namespace),
        "backprop": _define(BACKPROP_AS_PRINTED, "backprop", namespace),
        "update_mini_batch": _define(update_text, "update_mini_batch", namespace),
        "cost_derivative": namespace["cost_derivative"],
    }
    return type("ListingNetwork", (), methods)


LITERAL = listing_class(literal_update_mini_batch_text())
INTENDED = listing_class(intended_update_mini_batch_text())


def network_of(view, cls=INTENDED):
    """The listing's network, built by the printed setup lines, then given copies of the view's W, b.

    The setup draws random parameters; we replace them, after checking that the printed shapes
    ((y, 1) biases, (y, x) weights) are the shapes of the network under test.
    """
    net = cls(list(view.sizes))
    for l in range(1, view.L + 1):
        # Nielsen's index l-1 holds the document's layer l.
        if net.weights[l - 1].shape != view.W[l].shape or net.biases[l - 1].shape != view.b[l].shape:
            raise ValueError(f"the printed setup gives layer {l} weights {net.weights[l - 1].shape} and biases "
                             f"{net.biases[l - 1].shape}, the network has {view.W[l].shape} and {view.b[l].shape}")
    net.weights = [view.W[l].copy() for l in range(1, view.L + 1)]
    net.biases = [view.b[l].copy() for l in range(1, view.L + 1)]
    return net


def backprop_of(view):
    """(nabla_b, nabla_w) of the printed backprop on the view's single sample (x is a column (n0, 1))."""
    return network_of(view).backprop(view.x, view.y)


def updated(view, l, cls, which: str):
    """The listing's `which` ("weights" or "biases") at layer l after ONE call of its update_mini_batch
    with eta = view.eta: the parameters after the step, compared as they are (quantity W'[l], b'[l]).

    The mini-batch is the view's N samples, as Nielsen's list of (x, y) column pairs.
    """
    net = network_of(view, cls)
    mini_batch = [(view.x[:, [i]], view.y[:, [i]]) for i in range(view.N)]
    net.update_mini_batch(mini_batch, view.eta)
    after = getattr(net, which)[l - 1]  # Nielsen's index l-1 is the document's layer l
    # The printed np.zeros accumulators are float64, so on float32 parameters the listing returns
    # float64 parameters (NumPy promotion); they are compared in the network's own dtype.
    return after.astype(view.W[l].dtype)


SIGMOID = dict(hidden=("sigmoid",), output=("sigmoid",))
ONE_SAMPLE = Setting(**SIGMOID, loss=("half_sum_sq",), batch=(1, 1))
# eta: Nielsen's own runs use 3.0 (network.py) and 0.5 (network2.py); the range holds both
MINI_BATCH = Setting(**SIGMOID, loss=("mean_half_sum_sq",), batch=(1, 4), eta=(0.1, 3.0))

BACKPROP_NOTE = (
    "The printed backprop(self, x, y) runs verbatim (its '# backward pass' comment at column 0 does not "
    "affect Python). Supplied, not printed: cost_derivative = output_activations - y, sigmoid, "
    "sigmoid_prime, as in Nielsen's network.py; the printed setup lines run as the body of __init__(self, "
    "sizes) and its random parameters are replaced by copies of view.W[l], view.b[l]. Mapping: x = view.x "
    "(n0, 1), y = view.y; the document's layer l is index l-1 of Nielsen's lists. The cost is the "
    "document's C = ½‖a^L - y‖² for one sample ('half_sum_sq', N = 1), sigmoid in every layer.")

UPDATE_NOTE = (
    "Mapping: the mini-batch is [(view.x[:, [i]], view.y[:, [i]]) for i < N]; a listing network holds copies "
    "of view.W, view.b (built by the printed setup lines, see 003-listing-backprop-weights for the supplied "
    "cost_derivative and sigmoid); compute returns the listing's {which} at Nielsen's index l-1 after ONE call "
    "update_mini_batch(mini_batch, view.eta), compared with {quantity} = {parameter} - η·dC/d{parameter}[l] of "
    "C = (1/N) Σ ½‖a - y‖² ('mean_half_sum_sq'), the document's equations (16)-(17) with m = N, for η drawn in "
    "the setting's eta range. The result is cast back to the network's dtype because the printed np.zeros "
    "accumulators are float64. Adaptation: the printed 'for x, y in mini_batch:' line is at column 0, which "
    "would end the function; every line from it on is moved one tab in. ")
WEIGHTS_NOTE = UPDATE_NOTE.format(which="weights", quantity="W'[l]", parameter="W")
BIASES_NOTE = UPDATE_NOTE.format(which="biases", quantity="b'[l]", parameter="b")
LITERAL_NOTE = (
    "LITERAL reading: the printed self.weights/self.biases statements are indented like the loop body, so "
    "they run after EVERY sample, each time subtracting (eta/m) times the running sum; later samples' backprop "
    "also sees already-updated weights. For N = 1 this is the gradient step; for N >= 2 it is not. The evident "
    "intended reading (Nielsen's code, the update after the loop) is {intended}.")
INTENDED_NOTE = (
    "INTENDED reading: the two update statements dedented to the level of the `for` (after the loop), as in "
    "Nielsen's network.py and as the document's equations (16)-(17) and its second printing of the two "
    "statements (without the loop) say. The literal reading, update inside the loop, is {literal}.")
UPDATE_SOURCE = Source(DOC, "Implementation, 'Then we have the main function of this algorithm update_mini_batch'",
                       "is the function that update the weights and biases by applying gradient descend using "
                       "backpropagation.")
INTENDED_SOURCE = Source(DOC, "Implementation, 'Then we can update the weights and biases according to the "
                              "equations we have previously analized'",
                         "Then we can update the weights and biases according to the equations we have previously "
                         "analized")
ONLY_ONE_SAMPLE = Expected(kind="precondition", fix="require N = 1 (a single sample)")

FORMULAS = [
    Formula(
        id="003-listing-backprop-weights",
        title="Nielsen's backprop(self, x, y), as printed: nabla_w[l] is dC/dW[l] for one sample",
        source=Source(DOC, "Implementation, 'Finally we are able to understand how this piece of code really work'",
                      "it calls the function backpropagation that gives back for each layer l"),
        written=r"\texttt{nabla\_w[-l] = np.dot(delta, activations[-l-1].transpose())}",
        convention="column",
        quantity="dC/dW[l]",
        setting=ONE_SAMPLE,
        compute=lambda n, l: backprop_of(n)[1][l - 1],
        note=BACKPROP_NOTE,
    ),
    Formula(
        id="003-listing-backprop-biases",
        title="Nielsen's backprop(self, x, y), as printed: nabla_b[l] is dC/db[l] for one sample",
        source=Source(DOC, "Implementation, 'Finally we are able to understand how this piece of code really work'",
                      "it calls the function backpropagation that gives back for each layer l"),
        written=r"\texttt{nabla\_b[-l] = delta}",
        convention="column",
        quantity="dC/db[l]",
        setting=ONE_SAMPLE,
        compute=lambda n, l: backprop_of(n)[0][l - 1],
        note=BACKPROP_NOTE + " backprop takes ONE sample: given N columns at once its delta, and so nabla_b, has "
             "one column per sample instead of the (n, 1) bias gradient; `violates` (N >= 2) shows that.",
        violates=ONE_SAMPLE.restricted(batch=(2, 4)),
    ),
    Formula(
        id="003-listing-update-mini-batch-literal",
        title="update_mini_batch as printed: the update statements inside the per-sample loop (weights)",
        source=UPDATE_SOURCE,
        written=r"w_k' = w_k - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial w_k} \quad "
                r"\text{(printed code: update inside the loop over the mini-batch)}",
        convention="column",
        quantity="W'[l]",
        setting=MINI_BATCH,
        compute=lambda n, l: updated(n, l, LITERAL, "weights"),
        expected="erratum", expected_diagnosis=ONLY_ONE_SAMPLE,
        note=WEIGHTS_NOTE + LITERAL_NOTE.format(intended="003-listing-update-mini-batch-intended"),
    ),
    Formula(
        id="003-listing-update-mini-batch-intended",
        title="update_mini_batch as Nielsen wrote it: one averaged gradient step after the loop (weights)",
        source=INTENDED_SOURCE,
        written=r"w_k' = w_k - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial w_k}",
        convention="column",
        quantity="W'[l]",
        setting=MINI_BATCH,
        compute=lambda n, l: updated(n, l, INTENDED, "weights"),
        corrects="003-listing-update-mini-batch-literal",
        note=WEIGHTS_NOTE + INTENDED_NOTE.format(literal="003-listing-update-mini-batch-literal"),
    ),
    Formula(
        id="003-listing-update-mini-batch-literal-biases",
        title="update_mini_batch as printed: the update statements inside the per-sample loop (biases)",
        source=UPDATE_SOURCE,
        written=r"b_l' = b_l - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial b_l} \quad "
                r"\text{(printed code: update inside the loop over the mini-batch)}",
        convention="column",
        quantity="b'[l]",
        setting=MINI_BATCH,
        compute=lambda n, l: updated(n, l, LITERAL, "biases"),
        expected="erratum", expected_diagnosis=ONLY_ONE_SAMPLE,
        note=BIASES_NOTE + LITERAL_NOTE.format(intended="003-listing-update-mini-batch-intended-biases"),
    ),
    Formula(
        id="003-listing-update-mini-batch-intended-biases",
        title="update_mini_batch as Nielsen wrote it: one averaged gradient step after the loop (biases)",
        source=INTENDED_SOURCE,
        written=r"b_l' = b_l - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial b_l}",
        convention="column",
        quantity="b'[l]",
        setting=MINI_BATCH,
        compute=lambda n, l: updated(n, l, INTENDED, "biases"),
        corrects="003-listing-update-mini-batch-literal-biases",
        note=BIASES_NOTE + INTENDED_NOTE.format(literal="003-listing-update-mini-batch-literal-biases"),
    ),
]
