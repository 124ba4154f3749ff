"""Document 003_e380f16b86dd662d.txt — "Stochastic Gradient Descent & The Error Backpropagation Calculus".

Convention: per-sample column vectors, W^l of shape (out, in), b^l of shape (out, 1), as in Nielsen's
code the document quotes, so "column". Its cost for one example is C_x = ½‖y - a^L‖² ("half_sum_sq"
with N = 1); its activation is the sigmoid throughout the implementation section.
"""
from backprop_audit import Formula, Setting, Source
from backprop_audit.manual.forward import sigmoid_prime

DOC = "003_e380f16b86dd662d.txt"
SIGMOID_HALF_SQ_ONE_SAMPLE = Setting(hidden=("sigmoid",), output=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1))


def output_error(n):
    """δ^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L)."""
    a = n.a[n.L]
    return (a - n.y) * a * (1 - a)


def deltas(n):
    """δ^L from the output error, then δ^l = (W^{l+1})ᵀ · δ^{l+1} ⊙ σ'(z^l) down to l = 1."""
    delta = {n.L: output_error(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (n.W[l + 1].T @ delta[l + 1]) * sigmoid_prime(n.z[l])
    return delta


FORMULAS = [
    Formula(
        id="003-output-error-sigmoid",
        title="Output error for the sigmoid and the half squared error",
        source=Source(DOC, "Gradient of the weights section, 'this leads us to the final expression for the error on the last layer'",
                      "this leads us to the final expression for the error on the last layer."),
        written=r"\delta^L = (a^L - y) \odot a^L \odot (1 - a^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=output_error,
    ),
    Formula(
        id="003-delta-recursion",
        title="The error recursion δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)",
        source=Source(DOC, "'This gives us the clean recursive formula we love in backpropagation'",
                      "This gives us the clean recursive formula we love in backpropagation."),
        written=r"\delta^l = (W^{l+1})^\top \cdot \delta^{l+1} \odot \sigma'(z^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: deltas(n)[l],
    ),
    Formula(
        id="003-weight-gradient-outer-product",
        title="Weight gradient as the outer product δ^l (a^{l-1})ᵀ",
        source=Source(DOC, "Gradient of the weights, 'Switching to matrix form the full gradient is given by'",
                      "This is the outer product between the error vector at layer l and the activations from the previous layer."),
        written=r"\frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^\top",
        convention="column",
        quantity="dC/dW[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: deltas(n)[l] @ n.a[l - 1].T,
    ),
    Formula(
        id="003-bias-gradient",
        title="Bias gradient equals the error vector",
        source=Source(DOC, "'What about the bias b^l?'", "The gradient of the cost with respect to the bias is simply the error vector"),
        written=r"\frac{\partial C}{\partial b^l} = \delta^l",
        convention="column",
        quantity="dC/db[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: deltas(n)[l],
    ),
]
