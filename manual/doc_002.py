"""Document 002_e4087595158ee5b3.txt — a Q&A answer on softmax, cross-entropy and the chain rule.

Convention: row-major batches of m samples (it writes 1/m and X as a batch), so "row": X is (m, n0),
W is (in, out). Its names: Z_1 is the hidden layer's output (after relu), Z_2 the output layer's output
(after softmax, i.e. p), W_1 and W_2 the weights, y the labels.
"""
from backprop_audit import Formula, Setting, Source

DOC = "002_e4087595158ee5b3.txt"
SOFTMAX_CE = Setting(loss=("softmax_ce",), output=("softmax",), targets=("onehot", "prob"))

FORMULAS = [
    Formula(
        id="002-softmax-ce-output-delta",
        title="Softmax with cross-entropy: the output delta is (p - y) / m",
        source=Source(DOC, "'when the loss function is cross entropy and the activation function is softmax'",
                      "Now, when the loss function is cross entropy and the activation function is softmax, "
                      "the above equation becomes - dJ/dW_2 = 1/m*(Z_2-y).Z_1"),
        written=r"\frac{\partial J}{\partial Z_2}\nabla f_2 = 1/m*(Z_2-y)",
        convention="row",
        quantity="dC/dz[L]",
        setting=SOFTMAX_CE,
        compute=lambda n: (1 / n.N) * (n.a[n.L] - n.y),
        note="The shortcut inside the printed dJ/dW_2: the factor multiplying Z_1. Holds when rows of y sum to 1.",
        violates=SOFTMAX_CE.restricted(targets=("real", "binary")),
    ),
]
