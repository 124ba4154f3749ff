"""Document 002_e4087595158ee5b3.txt — a Q&A answer on softmax, cross-entropy and the chain rule.

Convention: row-major batches of m samples (it writes 1/m and X as a batch), so "row": X is (m, n0),
W is (in, out). Its names: Z_1 is the hidden layer's output (after relu), Z_2 the output layer's output
(after softmax, i.e. p), W_1 and W_2 the weights, y the labels, ∇f_1 = relu'(X W_1), the derivative of
the hidden activation at its input. Its network: one relu hidden layer and a softmax output (depth 2)
with the cross-entropy loss, which it writes J = Σ y log(p) (sign and mean missing; every gradient it
gives is the gradient of the mean cross-entropy -(1/m) Σ y log p, the "softmax_ce" loss, and is
checked against that).

The text joins its factors with "." without saying which product it means. Read literally as NumPy's
dot of the matrices in the order written, none of its weight gradients conforms: (Z_2 - y) is (m, K)
and Z_1 is (m, n1). Each gets a literal record (expected erratum) and the evident intended reading
(transposes where the row-major shapes need them, elementwise ∇f_1), which holds and is the corrected
form. The output delta 1/m (Z_2 - y) needs the rows of y to sum to 1 (one-hot or probability labels),
so those records name real/binary targets as the setting that breaks them.

The local gradients ("Local gradients for a neuron is the derivative of it's output wrt each of it's
input") are Jacobians of a neuron's output, which the text calls z: after its activation f, our a. They
are checked as local Jacobians (model/quantity.py: per sample (out, in); with respect to w the entries
∂a_j/∂w_ij = x_i f'_j, laid out as W (in, out) per sample), and also through the chain rule they enter:
- ∂z/∂w = X∇f is da[l]/dW[l], checked on the relu hidden neuron (the softmax's ∇f_2 couples its units,
  whose cross terms the reduced layout leaves out): 002-local-weight-jacobian-literal and -intended;
  substituted into the chain rule it gives ∂J/∂W_1 = ... ∇f_1 . X, checked by
  002-hidden-weight-gradient-literal and -intended.
- ∂z/∂x = W∇f is da[l]/da[l-1]; the text applies it to layer 2, ∂Z_2/∂Z_1 = W_2∇f_2 (on the hidden neuron
  it would be ∂Z_1/∂X, the input's, which is no quantity here): 002-layer-jacobian-literal and -intended.
- ∂J/∂W_2 = ∂J/∂Z_2 . ∇f_2 . Z_1 before the softmax is substituted: ∇f_2, the softmax Jacobian, is
  (m, K, K) per batch and the text gives no product that contracts it, so there is no literal reading
  to run; its substituted form 1/m (Z_2 - y) . Z_1 is checked. ∂Z_2/∂Z_1 = W_2∇f_2 is also checked as
  the step ∂J/∂Z_1 it makes (the hidden-activation records).
"""
import numpy as np

from backprop_audit import Expected, Formula, Setting, Source
from backprop_audit.model.operations import log_softmax, relu_prime

DOC = "002_e4087595158ee5b3.txt"
# the document's notation against the report's (layers 1..L, W, b, z, a, y, N), for its readers
NOTATION = ("Row convention (X is (m, n0), W (in, out)); the report's N is its m, a[1] its Z_1, a[2] its Z_2 (= p) "
            "and relu'(z[1]) its ∇f_1. Its J = Σ y log p is checked as the mean cross-entropy -(1/m) Σ y log p "
            "(softmax_ce), of which every gradient it gives is the gradient; its '.' is read as NumPy's dot, in the "
            "order written.")
SOFTMAX_CE = Setting(loss=("softmax_ce",), output=("softmax",), targets=("onehot", "prob"))
# "one hidden layer with output z1, weight w1, with relu activation(f1). And output layer with output z2,
# weight w2, and softmax activation(f2)."
NETWORK = SOFTMAX_CE.restricted(depth=(2, 2), hidden=("relu",))
LABELS_NOT_SUMMING_TO_1 = {"targets": ("real", "binary")}
# "For binary cross entropy with sigmoid activation": the sigmoid sits directly on X (one layer).
LOGISTIC = Setting(depth=(1, 1), output=("sigmoid",), loss=("sigmoid_bce",), targets=("binary",))


# Document symbols -> ours (depth 2): X -> n.X (= a[0]), Z_1 -> n.a[1], Z_2 -> n.a[2], W_1 -> n.W[1],
# W_2 -> n.W[2] (both (in, out)), ∇f_1 -> relu'(z[1]), m -> n.N.
def output_delta(n):
    """1/m*(Z_2 - y): what the text substitutes for ∂J/∂Z_2 . ∇f_2."""
    return 1 / n.N * (n.a[2] - n.y)


def grad_f1(n):
    """∇f_1: relu' at the hidden layer's input."""
    return relu_prime(n.z[1])


def grad_f2(n):
    """∇f_2, the softmax's Jacobian ∂p/∂z at each sample, (m, K, K): diag(p) - p pᵀ with p = Z_2."""
    p = n.a[2]
    return p[:, :, None] * np.eye(p.shape[1], dtype=p.dtype) - p[:, :, None] * p[:, None, :]


FORMULAS = [
    Formula(
        id="002-cross-entropy-loss",
        title="J = Σ y log(p): the cross-entropy without its minus sign and its 1/m",
        source=Source(DOC, "'We use cross entropy loss(J) ='", "We use cross entropy loss(J) = $J = \\sum ylog(p)$"),
        written=r"J = \sum y \log(p)",
        convention="row",
        quantity="C",
        setting=NETWORK,
        compute=lambda n: np.sum(n.y * np.log(n.a[2])),  # p = Z_2, the softmax output
        expected="erratum", expected_diagnosis=Expected(kind="factor", fix="x -1/N"),
        note="As printed J is the log-likelihood: minimising it drives p away from y. The text's own gradients, "
             "1/m*(Z_2 - y)..., are those of -(1/m) Σ y log p, the mean cross-entropy.",
    ),
    Formula(
        id="002-cross-entropy-loss-corrected",
        title="J = -(1/m) Σ y log(p)",
        source=Source(DOC, "'We use cross entropy loss(J) ='", "We use cross entropy loss(J) = $J = \\sum ylog(p)$"),
        written=r"J = -\frac{1}{m} \sum y \log(p)",
        convention="row",
        quantity="C",
        setting=NETWORK,
        # log(p) taken as log_softmax(z[2]): the same function, but p itself underflows to 0 for logits
        # far apart (the soak's logits up to ±80), where np.log(p) would give -inf.
        compute=lambda n: -1 / n.N * np.sum(n.y * log_softmax(n.z[2], axis=1)),
        corrects="002-cross-entropy-loss",
        note="The minus sign makes it a loss; the 1/m is the mean the text's 1/m*(Z_2 - y) gradients imply. "
             "log p is computed as log_softmax(z), the same function without the underflow of p.",
    ),
    Formula(
        id="002-softmax-ce-output-delta",
        title="Softmax with cross-entropy: the output delta is (p - y) / m",
        source=Source(DOC, "'when the loss function is cross entropy and the activation function is softmax'",
                      "Now, when the loss function is cross entropy and the activation function is softmax, the "
                      "above equation becomes - $\\frac{\\partial J}{\\partial W_2} = 1/m*(Z_2-y).Z_1$"),
        written=r"\frac{\partial J}{\partial Z_2}\nabla f_2 = 1/m*(Z_2-y)",
        convention="row",
        quantity="dC/dz[L]",
        setting=SOFTMAX_CE,
        compute=lambda n: (1 / n.N) * (n.a[n.L] - n.y),
        note="The shortcut inside the printed dJ/dW_2: the factor multiplying Z_1. Holds when rows of y sum to 1.",
        violates=SOFTMAX_CE.restricted(targets=("real", "binary")),
    ),
    Formula(
        id="002-output-weight-gradient-literal",
        title="dJ/dW_2 = 1/m*(Z_2 - y).Z_1, '.' read as the matrix product in the order written",
        source=Source(DOC, "'when the loss function is cross entropy and the activation function is softmax'",
                      "the above equation becomes - $\\frac{\\partial J}{\\partial W_2} = 1/m*(Z_2-y).Z_1$"),
        written=r"\frac{\partial J}{\partial W_2} = 1/m*(Z_2-y).Z_1",
        convention="row",
        quantity="dC/dW[2]",
        setting=NETWORK,
        compute=lambda n: np.dot(output_delta(n), n.a[1]),  # (m, K) . (m, n1)
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands"),
        note="Literal reading: (m, K) . (m, n1) conforms only when K = m, and is then not the gradient. "
             "Intended reading: 002-output-weight-gradient-intended.",
    ),
    Formula(
        id="002-output-weight-gradient-intended",
        title="dJ/dW_2 = Z_1ᵀ · 1/m*(Z_2 - y)",
        source=Source(DOC, "'when the loss function is cross entropy and the activation function is softmax'",
                      "the above equation becomes - $\\frac{\\partial J}{\\partial W_2} = 1/m*(Z_2-y).Z_1$"),
        written=r"\frac{\partial J}{\partial W_2} = Z_1^\top \cdot \tfrac{1}{m}(Z_2-y)",
        convention="row",
        quantity="dC/dW[2]",
        setting=NETWORK,
        compute=lambda n: n.a[1].T @ output_delta(n),
        corrects="002-output-weight-gradient-literal",
        violates=NETWORK.restricted(**LABELS_NOT_SUMMING_TO_1),
        note="Intended reading: Z_1 transposed and on the left, as z = Z_1 W_2 requires for W_2 of shape (n1, K). "
             "Needs rows of y summing to 1 (the softmax shortcut).",
    ),
    Formula(
        id="002-hidden-activation-gradient-literal",
        title="∂J/∂Z_1 = 1/m*(Z_2 - y).W_2, from ∂Z_2/∂Z_1 = W_2∇f_2, in the order written",
        source=Source(DOC, "'Substituting the local gradient for layer 2'",
                      "Substituting the local gradient for layer 2 - $\\frac{\\partial Z_2}{\\partial Z_1} = W_2\\nabla f_2$"),
        written=r"\frac{\partial J}{\partial Z_2}.\nabla f_2.W_2 = 1/m*(Z_2-y).W_2",
        convention="row",
        quantity="dC/da[1]",  # Z_1 is the hidden layer's output, our a[1]
        setting=NETWORK,
        compute=lambda n: np.dot(output_delta(n), n.W[2]),  # (m, K) . (n1, K)
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="transpose W[L]"),
        note="The checkable reading of the local gradient ∂Z_2/∂Z_1 = W_2∇f_2: the chain step it makes, "
             "∂J/∂Z_1 = (∂J/∂Z_2 . ∇f_2) . W_2, the prefix of the text's final dJ/dW_1. Literally (m, K) . (n1, K) "
             "conforms only when K = n1, and then multiplies by W_2 where W_2ᵀ is meant.",
    ),
    Formula(
        id="002-hidden-activation-gradient-intended",
        title="∂J/∂Z_1 = 1/m*(Z_2 - y) · W_2ᵀ",
        source=Source(DOC, "'Substituting the local gradient for layer 2'",
                      "Substituting the local gradient for layer 2 - $\\frac{\\partial Z_2}{\\partial Z_1} = W_2\\nabla f_2$"),
        written=r"\frac{\partial J}{\partial Z_1} = \tfrac{1}{m}(Z_2-y) \cdot W_2^\top",
        convention="row",
        quantity="dC/da[1]",
        setting=NETWORK,
        compute=lambda n: output_delta(n) @ n.W[2].T,
        corrects="002-hidden-activation-gradient-literal",
        violates=NETWORK.restricted(**LABELS_NOT_SUMMING_TO_1),
        note="Intended reading: W_2 is (n1, K) in z = Z_1 W_2, so it enters transposed.",
    ),
    Formula(
        id="002-hidden-weight-gradient-literal",
        title="dJ/dW_1 = 1/m*(Z_2 - y).W_2.∇f_1.X, '.' read as the matrix product in the order written",
        source=Source(DOC, "'As computed for first gradient, this equation finally becomes'",
                      "As computed for first gradient, this equation finally becomes - "
                      "$\\frac{\\partial J}{\\partial W_1} = 1/m*(Z_2-y).W_2.\\nabla f_1.X$"),
        written=r"\frac{\partial J}{\partial W_1} = 1/m*(Z_2-y).W_2.\nabla f_1.X",
        convention="row",
        quantity="dC/dW[1]",
        setting=NETWORK,
        # (m, K) . (n1, K) . (m, n1) . (m, n0), left to right
        compute=lambda n: np.dot(np.dot(np.dot(output_delta(n), n.W[2]), grad_f1(n)), n.X),
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="transpose W[L]; ⊙ for @; swap the operands"),
        note="Literal reading: every '.' a matrix product, in the printed order. Intended reading: "
             "002-hidden-weight-gradient-intended.",
    ),
    Formula(
        id="002-hidden-weight-gradient-intended",
        title="dJ/dW_1 = Xᵀ · ((1/m*(Z_2 - y) · W_2ᵀ) ⊙ ∇f_1)",
        source=Source(DOC, "'As computed for first gradient, this equation finally becomes'",
                      "As computed for first gradient, this equation finally becomes - "
                      "$\\frac{\\partial J}{\\partial W_1} = 1/m*(Z_2-y).W_2.\\nabla f_1.X$"),
        written=r"\frac{\partial J}{\partial W_1} = X^\top \cdot \left(\left(\tfrac{1}{m}(Z_2-y) \cdot W_2^\top\right) \odot \nabla f_1\right)",
        convention="row",
        quantity="dC/dW[1]",
        setting=NETWORK,
        compute=lambda n: n.X.T @ ((output_delta(n) @ n.W[2].T) * grad_f1(n)),
        corrects="002-hidden-weight-gradient-literal",
        violates=NETWORK.restricted(**LABELS_NOT_SUMMING_TO_1),
        note="Intended reading: W_2 transposed, ∇f_1 elementwise (relu' of each unit), X transposed and on the "
             "left. Also the checkable content of the local gradient ∂z/∂w = X∇f: the weight gradient is "
             "Xᵀ (upstream ⊙ ∇f).",
    ),
    Formula(
        id="002-bce-sigmoid-weight-gradient-literal",
        title="Binary cross-entropy with sigmoid: dJ/dW = 1/m*(y_p - y).X, in the order written",
        source=Source(DOC, "Additional Note, 'For binary cross entropy with sigmoid activation'",
                      "For binary cross entropy with sigmoid activation, the derivative is - "
                      "$\\frac{\\partial J}{\\partial W} = 1/m*(y_p-y).X$"),
        written=r"\frac{\partial J}{\partial W} = 1/m*(y_p-y).X",
        convention="row",
        quantity="dC/dW[L]",  # W feeds the sigmoid output directly from X
        setting=LOGISTIC,
        compute=lambda n: np.dot(1 / n.N * (n.a[n.L] - n.y), n.X),  # y_p = the sigmoid output; (m, K) . (m, n0)
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands"),
        note="Literal reading: (m, K) . (m, n0) conforms only when K = m. Intended reading: "
             "002-bce-sigmoid-weight-gradient-intended.",
    ),
    Formula(
        id="002-bce-sigmoid-weight-gradient-intended",
        title="Binary cross-entropy with sigmoid: dJ/dW = Xᵀ · 1/m*(y_p - y)",
        source=Source(DOC, "Additional Note, 'For binary cross entropy with sigmoid activation'",
                      "For binary cross entropy with sigmoid activation, the derivative is - "
                      "$\\frac{\\partial J}{\\partial W} = 1/m*(y_p-y).X$"),
        written=r"\frac{\partial J}{\partial W} = X^\top \cdot \tfrac{1}{m}(y_p-y)",
        convention="row",
        quantity="dC/dW[L]",
        setting=LOGISTIC,
        compute=lambda n: n.X.T @ (1 / n.N * (n.a[n.L] - n.y)),
        corrects="002-bce-sigmoid-weight-gradient-literal",
        violates=LOGISTIC.restricted(depth=(2, 2)),
        note="Intended reading: X transposed and on the left. Holds for any labels in [0, 1]; its precondition "
             "is that X is the sigmoid layer's input (logistic regression), so a hidden layer in between "
             "breaks it.",
    ),
    Formula(
        id="002-local-weight-jacobian-literal",
        title="∂z/∂w = X∇f, the neuron's local gradient, read as the matrix product in the order written",
        source=Source(DOC, "'For a neuron with activation function f'",
                      "For a neuron with activation function f, $\\frac{\\partial z}{\\partial w} = X\\nabla f$"),
        written=r"\frac{\partial z}{\partial w} = X\nabla f",
        convention="row",
        quantity="da[1]/dW[1]",  # the text's z is the neuron's output after f: our a[1]; its w our W[1]
        setting=NETWORK,
        compute=lambda n: np.dot(n.X, grad_f1(n)),  # (m, n0) . (m, n1)
        expected="erratum", expected_diagnosis=Expected(kind="shape"),
        note="Literal reading, as the module reads '.': X (m, n0) times ∇f_1 (m, n1) conforms only when n0 = m, and "
             "is then a sum over samples, not a neuron's local gradient. Intended reading: "
             "002-local-weight-jacobian-intended.",
    ),
    Formula(
        id="002-local-weight-jacobian-intended",
        title="∂z_j/∂w_ij = x_i ∇f_j per sample: the outer product xᵀ∇f, W's (in, out) shape",
        source=Source(DOC, "'For a neuron with activation function f'",
                      "For a neuron with activation function f, $\\frac{\\partial z}{\\partial w} = X\\nabla f$"),
        written=r"\frac{\partial z_j}{\partial w_{ij}} = x_i \nabla f_j",
        convention="row",
        quantity="da[1]/dW[1]",
        setting=NETWORK,
        compute=lambda n: n.X[:, :, None] * grad_f1(n)[:, None, :],  # per sample x ∇fᵀ, (m, n0, n1)
        corrects="002-local-weight-jacobian-literal",
        note="Per sample x is a row (1, n0) and ∇f_1 a row (1, n1): the product of the two with W_1's (n0, n1) shape "
             "is the outer product xᵀ∇f, entry (i, j) = x_i relu'(z_j) = ∂a_j/∂w_ij (a unit depends on its own "
             "column of W only, so this is every entry that is not structurally 0).",
    ),
    Formula(
        id="002-layer-jacobian-literal",
        title="∂Z_2/∂Z_1 = W_2∇f_2 as a Jacobian, in the order written: its transpose",
        source=Source(DOC, "'Substituting the local gradient for layer 2'",
                      "Substituting the local gradient for layer 2 - $\\frac{\\partial Z_2}{\\partial Z_1} = W_2\\nabla f_2$"),
        written=r"\frac{\partial Z_2}{\partial Z_1} = W_2\nabla f_2",
        convention="row",
        quantity="da[L]/da[L-1]",  # Z_2 = our a[2], Z_1 = our a[1]
        setting=NETWORK,
        compute=lambda n: n.W[2] @ grad_f2(n),  # per sample (n1, K) @ (K, K)
        expected="erratum", expected_diagnosis=Expected(kind="transpose", fix="transpose"),
        note="∂z/∂x = W∇f applied to layer 2. With Z_2 = f_2(Z_1 W_2), W_2 (n1, K), ∂Z_2k/∂Z_1i = Σ_j ∇f_2[k, j] W_2[i, j]: "
             "the Jacobian (K, n1), rows the outputs (the layout document 003 defines, 'whose (i, j)th entry is "
             "∂y_i/∂x_j'), is ∇f_2 W_2ᵀ; W_2∇f_2 (n1, K) is its transpose, the denominator layout, which the text never "
             "states. Intended reading: 002-layer-jacobian-intended.",
    ),
    Formula(
        id="002-layer-jacobian-intended",
        title="∂Z_2/∂Z_1 = ∇f_2 W_2ᵀ per sample",
        source=Source(DOC, "'Substituting the local gradient for layer 2'",
                      "Substituting the local gradient for layer 2 - $\\frac{\\partial Z_2}{\\partial Z_1} = W_2\\nabla f_2$"),
        written=r"\frac{\partial Z_2}{\partial Z_1} = \nabla f_2\, W_2^\top",
        convention="row",
        quantity="da[L]/da[L-1]",
        setting=NETWORK,
        compute=lambda n: grad_f2(n) @ n.W[2].T,
        corrects="002-layer-jacobian-literal",
    ),
]
