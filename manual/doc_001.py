"""Document 001_6e125834526f4589.txt — "Backpropagation Explained - Backprop Crash Course".

Convention: per-sample column vectors (the document's sums run over nodes j of one sample), layers
numbered 1..L as in the document, w_jk^(l) = W[l][j, k] (row j = node in layer l). Its loss is the
plain sum of squares C_0 = Σ_j (a_j - y_j)² for one sample, i.e. loss "sum_sq" with N = 1.
Where the document writes node indices 0..n-1 we use NumPy's, which are the same.
"""
from backprop_audit import Formula, Setting, Source
from backprop_audit.manual.forward import derivative

DOC = "001_6e125834526f4589.txt"
ELEMENTWISE_OUTPUTS = ("sigmoid", "tanh", "identity")
ONE_SAMPLE_SUM_SQ = Setting(loss=("sum_sq",), batch=(1, 1), output=ELEMENTWISE_OUTPUTS)


def g_prime(view, l):
    """g'^(l)(z^(l)): the derivative of layer l's activation at its input."""
    return derivative(view.activation[l], view.z[l])


FORMULAS = [
    Formula(
        id="001-output-activation-gradient",
        title="Derivative of the loss with respect to an output activation: 2(a - y)",
        source=Source(DOC, "Backpropagation Explained - Calculating the Gradient, 'The first term'",
                      "Observe that the loss from the network for a single input sample will respond to a small "
                      "change in the activation output from node 1 in layer L by an amount equal to two times the "
                      "difference of the activation output a_1 for node 1 and the desired output y_1 for node 1."),
        written=r"\frac{\partial C_{0}}{\partial a_{1}^{(L)}} = 2 \left( a_{1}^{(L)}-y_{1}\right)",
        convention="column",
        quantity="dC/da[L]",
        setting=ONE_SAMPLE_SUM_SQ,
        compute=lambda n: 2 * (n.a[n.L] - n.y),
    ),
    Formula(
        id="001-output-weight-gradient",
        title="Gradient of the loss with respect to an output-layer weight",
        source=Source(DOC, "Backpropagation Explained - Calculating the Gradient, 'Combining terms'",
                      "We've seen how to calculate the derivative of the loss with respect to one individual weight "
                      "for one individual training sample."),
        written=r"\frac{\partial C_{0}}{\partial w_{12}^{(L)}} = 2 \left( a_{1}^{(L)}-y_{1}\right) "
                r"\left( g^{\prime (L)}\left( z_{1}^{(L)}\right) \right) \left( a_{2}^{(L-1)}\right)",
        convention="column",
        quantity="dC/dW[L]",
        setting=ONE_SAMPLE_SUM_SQ,
        # Entry (j, k) of the written formula for every j, k at once: an outer product over the one sample.
        compute=lambda n: (2 * (n.a[n.L] - n.y) * g_prime(n, n.L)) @ n.a[n.L - 1].T,
    ),
]
