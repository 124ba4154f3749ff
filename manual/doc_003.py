"""Document 003_e380f16b86dd662d.txt — "Stochastic Gradient Descent & The Error Backpropagation Calculus".

Equations only; the code listings and worked numeric examples are in doc_003_listings.py.

Convention: per-sample column vectors, W^l of shape (out, in), b^l of shape (out, 1), as in Nielsen's
code the document quotes, so "column". Its cost for one example is C_x = ½‖y - a^L‖² (eq 4,
"half_sum_sq" with N = 1) and its cost over samples the average of those (eq 2, "mean_half_sum_sq").
The general derivation (eqs 5-12, "Algorithm and implementation", phase 2) holds for any elementwise
activation σ; the implementation section and the "Key Takeaway" use the sigmoid.

The document uses one symbol δ for two quantities: δ̃ := ∂C/∂a ("Some sources define", phase 2,
"We start computing δ^L the error for the last layer we defined as δ^L := ∂C/∂a^L", the takeaway) and
δ := ∂C/∂z ("in standard backpropagation", Nielsen's code). Each formula is checked under the reading
its own text gives δ; where the text gives δ both readings, both are recorded and the notes say why.
"""
import numpy as np

from backprop_audit import Expected, Formula, Setting, Source
from backprop_audit.model.operations import derivative, sigmoid_prime

DOC = "003_e380f16b86dd662d.txt"
# the document's notation against the report's (layers 1..L, W, b, z, a, y, N), for its readers
NOTATION = ("Column convention (W^l is (out, in), b^l (out, 1), as in the Nielsen code it quotes); layers numbered "
            "as in the text. C_x = ½‖y - a^L‖² for one sample (half_sum_sq), the average over samples (mean_half_sum_sq). "
            "δ is ∂C/∂a in some of its sentences and ∂C/∂z in others: each formula is read with the δ its own text "
            "defines, and the notes say which.")
ELEMENTWISE = ("sigmoid", "tanh", "identity")
SIGMOID_HALF_SQ_ONE_SAMPLE = Setting(hidden=("sigmoid",), output=("sigmoid",), loss=("half_sum_sq",), batch=(1, 1))
# The general derivation: any elementwise activation, C_x = ½‖y - a^L‖² of one example.
GENERAL_ONE_SAMPLE = Setting(output=ELEMENTWISE, loss=("half_sum_sq",), batch=(1, 1))
# Eq (2) with the per-example cost (4): C = (1/n) Σ_x ½‖y(x) - a^L(x)‖² over n = 1..4 examples.
MEAN_OF_EQ4 = Setting(output=ELEMENTWISE, loss=("mean_half_sum_sq",), batch=(1, 4))
# Eq (3) as printed, the mean squared error without the ½: C = (1/n) Σ_x ‖y(x) - a^L(x)‖².
EQ3_MSE = Setting(output=ELEMENTWISE, loss=("mean_sum_sq",), batch=(1, 4))
# The per-example costs summed, not averaged (no 1/m): breaks the mini-batch average once m >= 2.
SUM_OF_EQ4 = Setting(output=ELEMENTWISE, loss=("half_sum_sq",), batch=(2, 4))
ETA = 0.5  # a learning rate for the update rules; a power of two, so η·g and (η·g)/η round exactly


def sp(n, l):
    """σ'(z^l) for layer l's own activation (the general derivation's σ)."""
    return derivative(n.activation[l], n.z[l])


def output_activation_gradient(n):
    """∂C/∂a^L = a^L - y for C = ½‖a^L - y‖² ("check for yourself")."""
    return n.a[n.L] - n.y


def jacobian(n, l):
    """∂a^{l+1}/∂a^l = ∂σ(z^{l+1})/∂z^{l+1} · ∂z^{l+1}/∂a^l = diag(σ'(z^{l+1})) · W^{l+1}, one sample."""
    return np.diag(sp(n, l + 1)[:, 0]) @ n.W[l + 1]


def activation_gradients(n):
    """Eq (9): ∂C/∂a^l = (∂a^{l+1}/∂a^l)ᵀ · ∂C/∂a^{l+1}, from ∂C/∂a^L = a^L - y down to l = 1."""
    g = {n.L: output_activation_gradient(n)}
    for l in range(n.L - 1, 0, -1):
        g[l] = jacobian(n, l).T @ g[l + 1]
    return g


def contraction(n, l, upstream):
    """∂a^l/∂w^l ·ⁱ upstream: the rank-3 tensor T[i, j, k] = ∂a_i^l/∂w_jk^l = σ'(z_i^l) [i = j] a_k^{l-1}
    ("Let's examine a single element"), contracted over i with the vector `upstream`."""
    T = np.einsum("ij,k->ijk", np.diag(sp(n, l)[:, 0]), n.a[l - 1][:, 0])
    return np.einsum("ijk,i->jk", T, upstream[:, 0])


def errors(n, prime=sp):
    """δ := ∂C/∂z: δ^L = (a^L - y) ⊙ σ'(z^L), δ^l = (W^{l+1})ᵀ · δ^{l+1} ⊙ σ'(z^l), every sample at once."""
    delta = {n.L: output_activation_gradient(n) * prime(n, n.L)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (n.W[l + 1].T @ delta[l + 1]) * prime(n, l)
    return delta


def sigmoid_output_error(n):
    """δ^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L)."""
    a = n.a[n.L]
    return (a - n.y) * a * (1 - a)


def sigmoid_errors_a_form(n):
    """δ^L as above, then δ^l = (W^{l+1})ᵀ · δ^{l+1} ⊙ a^l ⊙ (1 - a^l) down to l = 1."""
    delta = {n.L: sigmoid_output_error(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (n.W[l + 1].T @ delta[l + 1]) * n.a[l] * (1 - n.a[l])
    return delta


def sigmoid_errors(n):
    """δ^L from the output error, then δ^l = (W^{l+1})ᵀ · δ^{l+1} ⊙ σ'(z^l) down to l = 1."""
    delta = {n.L: sigmoid_output_error(n)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = (n.W[l + 1].T @ delta[l + 1]) * sigmoid_prime(n.z[l])
    return delta


def per_example(n, j):
    """(∂C_{X_j}/∂b^l, ∂C_{X_j}/∂w^l) of example j (column j) for every l, by the document's backprop:
    ∂C_x/∂b^l = δ^l and ∂C_x/∂w^l = δ^l (a^{l-1})ᵀ with C_x = ½‖y - a^L‖²."""
    delta = errors(n)
    return ({l: d[:, j:j + 1] for l, d in delta.items()},
            {l: d[:, j:j + 1] @ n.a[l - 1][:, j:j + 1].T for l, d in delta.items()})


def averaged_over_examples(n, l, which):
    """(1/n) Σ_x ∂C_x/∂w^l (which = 1) or ∂C_x/∂b^l (which = 0), example by example."""
    return sum(per_example(n, j)[which][l] for j in range(n.N)) / n.N


def sgd_step_per_unit_rate(n, l, which):
    """Eqs (16)/(17): the step w - w' = (η/m) Σ_j ∂C_{X_j}/∂w, divided by η. The step is computed, not
    w - w' subtracted: w has digits the step does not (|w| up to 6, a step can be 1e-15), and their
    cancellation would measure the rounding of w, not the formula."""
    m = n.N
    step = (ETA / m) * sum(per_example(n, j)[which][l] for j in range(m))
    return step / ETA


def gd_step_per_unit_rate(n, l, which):
    """Eqs (14)/(15): the step w - w' = η ∂C/∂w with ∂C/∂w the gradient of the cost over the training set
    (the average over examples, as the cost section says), divided by η."""
    step = ETA * averaged_over_examples(n, l, which)
    return step / ETA


def eq11_on_standard_error(n):
    """Eq (11) with δ := ∂C/∂z: δ^L = (a^L - y) ⊙ σ'(z^L), then δ^l = (∂a^{l+1}/∂a^l)ᵀ · δ^{l+1}."""
    delta = {n.L: output_activation_gradient(n) * sp(n, n.L)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = jacobian(n, l).T @ delta[l + 1]
    return delta


def phase2_recursion_as_printed(n, l):
    """Phase 2: δ^L := ∂C/∂a^L, then δ^l = (∂a^{l+1}/∂a^l)ᵀ · δ^{l+1} 'for l = L, L-1, L-2, ..., 1'."""
    delta = {n.L: output_activation_gradient(n)}
    for k in range(n.L, 0, -1):  # l = L first, as printed: needs a^{L+1} and δ^{L+1}
        delta[k] = jacobian(n, k).T @ delta[k + 1]
    return delta[l]


def jacobian_transpose_as_printed(n, l):
    """(∂a^{l+1}/∂a^l)ᵀ = diag(σ'(z^{l+1})) · (W^{l+1})ᵀ, as printed."""
    return np.diag(sigmoid_prime(n.z[l + 1])[:, 0]) @ n.W[l + 1].T


def activation_gradients_with(n, step):
    """∂C/∂a^L = a^L - y, then ∂C/∂a^l = step(n, l, ∂C/∂a^{l+1}) down to l = 1."""
    g = {n.L: output_activation_gradient(n)}
    for l in range(n.L - 1, 0, -1):
        g[l] = step(n, l, g[l + 1])
    return g


def src(where, quote):
    return Source(DOC, where, quote)


COSTS = [
    Formula(
        id="003-empirical-cost-eq2",
        title="Eq (2): the empirical cost, the average of the single-point losses",
        source=src("Cost function, eq (2)", "Instead, we approximate it using the empirical average over our dataset:"),
        written=r"\hat{C} = \frac{1}{n} \sum_{x} \ell(h(X_{i}),Y_{i}) \tag{2}",
        convention="column",
        quantity="C",
        setting=MEAN_OF_EQ4,
        compute=lambda n: sum(0.5 * np.sum((n.y[:, i] - n.a[n.L][:, i]) ** 2) for i in range(n.N)) / n.N,
        note="ℓ is the single-point loss, which the document makes C_x = ½‖y - a^L‖² (eq 4). The sum is "
             "written over x with summand index i; both mean the n examples.",
    ),
    Formula(
        id="003-mse-cost-eq3",
        title="Eq (3) as printed, read as what it names: the mean squared error without ½",
        source=src("Cost function, eq (3)", "For this essay I’m going to take in consideration the simplest cost "
                   "function that is the Mean squared error:"),
        written=r"C(w,b)=\frac{1}{n}\sum_{x} ||y(x)- a^L(x)||^2 \tag{3}",
        convention="column",
        quantity="C",
        setting=EQ3_MSE,
        compute=lambda n: sum(np.sum((n.y[:, i] - n.a[n.L][:, i]) ** 2) for i in range(n.N)) / n.N,
        note="Taken alone, (3) is the mean over examples of ‖y - a‖² (loss mean_sum_sq) and holds as such. "
             "The next sentence says its per-example cost is (4), which has a ½: see "
             "003-mse-cost-eq3-as-average-of-eq4.",
    ),
    Formula(
        id="003-mse-cost-eq3-as-average-of-eq4",
        title="Eq (3) claimed to be the average of the per-example cost (4): off by the ½",
        source=src("Cost function, eqs (3) and (4)", "Indeed the cost for a simple training example is:"),
        written=r"C(w,b)=\frac{1}{n}\sum_{x} ||y(x)- a^L(x)||^2 \quad\text{with}\quad "
                r"C_{x} = \frac{1}{2} ||y-a^L||^2",
        convention="column",
        quantity="C",
        setting=MEAN_OF_EQ4,
        compute=lambda n: sum(np.sum((n.y[:, i] - n.a[n.L][:, i]) ** 2) for i in range(n.N)) / n.N,
        expected="erratum", expected_diagnosis=Expected(kind="factor", fix="x 1/2"),
        note="The text says (4) is the cost of one example of (3) ('Indeed the cost for a simple training example "
             "is'), so C = (1/n) Σ_x C_x = (1/n) Σ_x ½‖y - a‖²; (3) has no ½ and is twice that. The document "
             "works with the ½ everywhere after (∂C/∂a^L = a^L - y, Nielsen's code), so (3) is the outlier. "
             "Corrected: 003-cost-average-of-eq4.",
    ),
    Formula(
        id="003-cost-average-of-eq4",
        title="Corrected eq (3): the average of the per-example costs (4), with the ½",
        source=src("Cost function, eqs (3) and (4)", "Indeed the cost for a simple training example is:"),
        written=r"C(w,b)=\frac{1}{n}\sum_{x} \frac{1}{2}||y(x)- a^L(x)||^2",
        convention="column",
        quantity="C",
        setting=MEAN_OF_EQ4,
        compute=lambda n: sum(0.5 * np.sum((n.y[:, i] - n.a[n.L][:, i]) ** 2) for i in range(n.N)) / n.N,
        corrects="003-mse-cost-eq3-as-average-of-eq4",
        note="Eq (3) with the ½ of eq (4), which makes (3) the average of (4) as the text says.",
    ),
    Formula(
        id="003-per-example-cost-eq4",
        title="Eq (4): the cost of one training example, ½‖y - a^L‖²",
        source=src("Cost function, eq (4)", "Indeed the cost for a simple training example is:"),
        written=r"C_{x} = \frac{1}{2} ||y-a^L||^2 \tag{4}",
        convention="column",
        quantity="C",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n: 0.5 * np.sum((n.y - n.a[n.L]) ** 2),
    ),
    Formula(
        id="003-gradients-averaged-over-examples-w",
        title="∂C/∂w as the average over examples of ∂C_x/∂w",
        source=src("Cost function, after eq (4)", "What backpropagation allow us to do is to calculate "
                   "CXw\\frac{\\partial C_{X}}{\\partial w} and Cxb\\frac{\\partial C_{x}}{\\partial b} and then "
                   "finding Cw\\frac{\\partial C}{\\partial w} and Cb\\frac{\\partial C}{\\partial b} averaging over "
                   "the training samples."),
        written=r"\frac{\partial C}{\partial w} = \frac{1}{n}\sum_x \frac{\partial C_{x}}{\partial w}",
        convention="column",
        quantity="dC/dW[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: averaged_over_examples(n, l, 1),
        note="Each ∂C_x/∂w^l = δ^l (a^{l-1})ᵀ of example x with C_x from eq (4). The average is the gradient of "
             "C = (1/n) Σ_x C_x (eq 2); of eq (3) as printed (no ½) it is half the gradient, which `violates` "
             "shows: the same ½ as 003-mse-cost-eq3-as-average-of-eq4.",
        violates=EQ3_MSE,
    ),
    Formula(
        id="003-gradients-averaged-over-examples-b",
        title="∂C/∂b as the average over examples of ∂C_x/∂b",
        source=src("Cost function, after eq (4)", "What backpropagation allow us to do is to calculate "
                   "CXw\\frac{\\partial C_{X}}{\\partial w} and Cxb\\frac{\\partial C_{x}}{\\partial b} and then "
                   "finding Cw\\frac{\\partial C}{\\partial w} and Cb\\frac{\\partial C}{\\partial b} averaging over "
                   "the training samples."),
        written=r"\frac{\partial C}{\partial b} = \frac{1}{n}\sum_x \frac{\partial C_{x}}{\partial b}",
        convention="column",
        quantity="dC/db[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: averaged_over_examples(n, l, 0),
        note="As 003-gradients-averaged-over-examples-w, for the biases: ∂C_x/∂b^l = δ^l of example x.",
        violates=EQ3_MSE,
    ),
]

GENERAL = [
    Formula(
        id="003-activation-gradient-recursion-eq9",
        title="Eq (9): ∂C/∂a^l = (∂a^{l+1}/∂a^l)ᵀ · ∂C/∂a^{l+1}, the vector chain rule between layers",
        source=src("Backpropagation algorithm, eq (9)", "to compute how each layer change each other we use the "
                   "chain rule for vectors we found earlier:"),
        written=r"\frac{\partial C}{\partial a^l} = \left(\frac{\partial a^{l+1}}{\partial a^l}\right)^{\top} "
                r"\cdot \frac{\partial C}{\partial a^{l+1}} \tag{9}",
        convention="column",
        quantity="dC/da[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l],
        note="The Jacobian is the document's (i, j) = ∂a_i^{l+1}/∂a_j^l, built as it derives it later: "
             "diag(σ'(z^{l+1})) · W^{l+1}. The recursion starts from ∂C/∂a^L = a^L - y (its implementation "
             "section), which is the value at l = L. Also stands for eq (5) applied to the network, and for "
             "the left-hand side of the takeaway's 'Recursive Error' line with δ := ∂C/∂a.",
    ),
    Formula(
        id="003-weight-gradient-contraction-eq8-12",
        title="Eqs (8)/(12): ∂C/∂w^l = ∂a^l/∂w^l ·ⁱ ∂C/∂a^l, a tensor contraction",
        source=src("Backpropagation algorithm, eq (8); Error backpropagation signal, eq (12)",
                   "Once we know the vector δl\\delta^l we can compute the weight gradient using a tensor "
                   "contraction (using equation 8)."),
        written=r"\frac{\partial C}{\partial w^l} = \frac{\partial a^l}{\partial w^l} \overset{i}{\cdot} \delta^l "
                r"\tag{12}",
        convention="column",
        quantity="dC/dW[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: contraction(n, l, activation_gradients(n)[l]),
        note="δ^l here is ∂C/∂a^l: eq (12) is eq (8) (printed '∂C/∂W = ∂a^l/∂w^l ·ⁱ C/∂a^l', a ∂ missing) "
             "with δ^l for ∂C/∂a^l, from eq (9). The rank-3 tensor ∂a^l/∂w^l is built entry by entry as the "
             "implementation section derives it (σ'(z_i) a_k if i = j, else 0). With δ := ∂C/∂z the same "
             "contraction would apply σ' twice. Also the left-hand side of the takeaway's 'Gradient of Weights'.",
    ),
    Formula(
        id="003-dC-dz-from-dC-da",
        title="∂C/∂z^l = ∂C/∂a^l ⊙ σ'(z^l) (δ^l = δ̃^l ⊙ σ'(z^l))",
        source=src("Why both definitions can coexist", "Because σ\\sigma is applied elementwise, this becomes an "
                   "elementwise (Hadamard) product:"),
        written=r"\frac{\partial C}{\partial z^l} = \frac{\partial C}{\partial a^l} \odot \sigma'(z^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l] * sp(n, l),
        note="∂C/∂a^l from eq (9). The line before writes the same with '·' (∂C/∂a^l · ∂a^l/∂z^l); the text "
             "resolves it to this Hadamard product.",
    ),
    Formula(
        id="003-eq11-delta-as-dC-dz-literal",
        title="Eq (11), first printing, with δ the 'standard error' ∂C/∂z just defined",
        source=src("Why both definitions can coexist, eq (11)", "This is the key equation for backpropagation "
                   "that links the error of one layer to the layer of the next one."),
        written=r"\delta^l= \left(\frac{\partial a^{l+1}}{\partial a^l}\right)^{\top} \cdot \delta^{l+1} \tag{11}",
        convention="column",
        quantity="dC/dz[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: eq11_on_standard_error(n)[l],
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="drop ⊙ g'; read as dC/da[l]"),
        note="Ambiguous text, literal reading: the sentences just before name δ^l 'the standard error' "
             "(δ^l = δ̃^l ⊙ σ'(z^l), δ := ∂C/∂z), and eq (11) uses δ without the tilde. Read so, it starts from "
             "δ^L = ∂C/∂z^L and multiplies by the Jacobian of a^{l+1} in a^l: σ'(z^{l+1}) is applied a second "
             "time and σ'(z^l) never, so it fails below the output layer. The evident intended reading (δ̃ := "
             "∂C/∂a, 'one may define and propagate δ̃^l (via the recursive expression)') is "
             "003-eq11-delta-as-dC-da-intended, which holds.",
    ),
    Formula(
        id="003-eq11-delta-as-dC-da-intended",
        title="Eq (11), first printing, with δ = δ̃ := ∂C/∂a (the recursion the text says is propagated)",
        source=src("Why both definitions can coexist, eq (11)", "So depending on the context, one may define and "
                   "propagate δ~l\\tilde{\\delta}^l (via the recursive expression), and then obtain the standard "
                   "error δl\\delta^l by applying the derivative of the activation."),
        written=r"\tilde\delta^l= \left(\frac{\partial a^{l+1}}{\partial a^l}\right)^{\top} \cdot "
                r"\tilde\delta^{l+1}",
        convention="column",
        quantity="dC/da[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l],
        corrects="003-eq11-delta-as-dC-dz-literal",
        note="Intended reading of the first eq (11): the same recursion as eq (9) and as 'Some sources define the "
             "error signal as δ^l := ∂C/∂a^l ... δ^l = (∂a^{l+1}/∂a^l)ᵀ · δ^{l+1}', which this record also stands "
             "for. Starts from δ̃^L = a^L - y.",
    ),
    Formula(
        id="003-eq11-range-from-L",
        title="Phase 2, eq (11): the recursion run 'for l = L, L-1, ..., 1', one layer too high",
        source=src("Algorithm and implementation, 2) phase, eq (11)", "And then propagate the error backwards:"),
        written=r"\delta^l = \left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top \cdot \delta^{l+1}, "
                r"\quad \text{for } l = L, L - 1, L - 2, \dots, 1 \tag{11}",
        convention="column",
        quantity="dC/da[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=phase2_recursion_as_printed,
        expected="erratum", expected_diagnosis=Expected(kind="raised"),
        note="δ^L := ∂C/∂a^L is set just before, so δ is ∂C/∂a here (phase 2 then uses eq (12), the contraction "
             "with ∂a^l/∂w^l, which needs ∂C/∂a). Run as printed, the first step l = L needs a^{L+1}, W^{L+1} and "
             "δ^{L+1}, which do not exist: the loop must start at l = L - 1. The implementation section repeats "
             "the line verbatim ('Now we need to propagate the error back recursively using the rule'). "
             "Corrected: 003-eq11-range-from-L-minus-1. No repair is derived: the mistake is the loop's range, "
             "Python control flow that no traced expression records (the trace itself stops at a^{L+1}), so no "
             "edit of the expression exists and the diagnosis stays 'raised', naming the layer the loop asks for "
             "(L+1).",
    ),
    Formula(
        id="003-eq11-range-from-L-minus-1",
        title="Corrected phase 2, eq (11): δ^L := ∂C/∂a^L, then the recursion for l = L-1, ..., 1",
        source=src("Algorithm and implementation, 2) phase, eq (11)", "And then propagate the error backwards:"),
        written=r"\delta^L = \frac{\partial C}{\partial a^L},\quad \delta^l = \left( \frac{\partial a^{l+1}}"
                r"{\partial a^l} \right)^\top \cdot \delta^{l+1}, \quad \text{for } l = L-1, L - 2, \dots, 1",
        convention="column",
        quantity="dC/da[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l],
        corrects="003-eq11-range-from-L",
    ),
    Formula(
        id="003-bias-gradient-as-dC-da",
        title="Phase 2: ∂C/∂b^l = δ^l with δ := ∂C/∂a (the σ' of the layer is missing)",
        source=src("Algorithm and implementation, 2) phase", "And for each layer compute what we are looking for "
                   "as:"),
        written=r"\frac{\partial C}{\partial b^l} = \delta^l,\quad \delta^L := \frac{\partial C}{\partial a^L}",
        convention="column",
        quantity="dC/db[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l],
        expected="erratum", expected_diagnosis=Expected(kind="missing-derivative", fix="multiply dC/da by g'(z) first"),
        note="Phase 2 defines δ^L := ∂C/∂a^L and propagates it with the Jacobian of a^{l+1} in a^l (eq 11), so its "
             "δ^l is ∂C/∂a^l (and its eq (12) contracts with ∂a^l/∂w^l, consistently). ∂C/∂b^l = δ^l holds only "
             "for δ := ∂C/∂z; with phase 2's own δ it misses σ'(z^l). The takeaway repeats the line under "
             "'δ^L := ∂C/∂a^L'. Corrected: 003-bias-gradient-from-dC-da.",
    ),
    Formula(
        id="003-bias-gradient-from-dC-da",
        title="Corrected phase 2 bias gradient: ∂C/∂b^l = ∂a^l/∂b^l ·ⁱ δ^l = δ^l ⊙ σ'(z^l) for δ := ∂C/∂a",
        source=src("Algorithm and implementation, 2) phase", "And for each layer compute what we are looking for "
                   "as:"),
        written=r"\frac{\partial C}{\partial b^l} = \delta^l \odot \sigma'(z^l),\quad "
                r"\delta^l = \frac{\partial C}{\partial a^l}",
        convention="column",
        quantity="dC/db[l]",
        setting=GENERAL_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l] * sp(n, l),
        corrects="003-bias-gradient-as-dC-da",
    ),
]

UPDATES = [
    Formula(
        id="003-gradient-descent-bias-eq14",
        title="Eq (14): the gradient-descent update of a bias, checked as a gradient",
        source=src("Gradient descend, eq (14)", "Writing out the gradient descent update rule in terms of "
                   "components, we have the update rule for the bias:"),
        written=r"b_{1} \to b_{1}^{'} = b_{1} - \eta \frac{\partial C}{\partial b_{1}} \tag{14}",
        convention="column",
        quantity="dC/db[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: gd_step_per_unit_rate(n, l, 0),
        note="Checked as a gradient: (b - b')/η must equal ∂C/∂b for the cost C the rule minimizes, here the "
             "average over the training set of the per-example cost (4) (eq 2), with ∂C/∂b the average of the "
             "per-example δ as the cost section says. η = 0.5; the step is computed, not b - b' subtracted "
             "(see sgd_step_per_unit_rate). All biases of every layer, not only b_1.",
    ),
    Formula(
        id="003-gradient-descent-weight-eq15",
        title="Eq (15): the gradient-descent update of a weight, checked as a gradient",
        source=src("Gradient descend, eq (15)", "And the update rule for the weights of every single layer:"),
        written=r"w_{k} \to w_{k}^{'} = w_{k}-\eta \frac{\partial C}{\partial w_{k}} \tag{15}",
        convention="column",
        quantity="dC/dW[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: gd_step_per_unit_rate(n, l, 1),
        note="As 003-gradient-descent-bias-eq14: (w - w')/η compared with ∂C/∂w of the mean cost; η = 0.5.",
    ),
    Formula(
        id="003-full-batch-gradient-average",
        title="The average over the whole training set of ∇C_X is ∇C",
        source=src("Gradient descend, stochastic gradient descend", "Where the second sum is over all the set of "
                   "training data, so we get the approximation used for stochastic gradient descend:"),
        written=r"\frac{\sum_{X} \nabla C_{X}}{n} =\nabla C",
        convention="column",
        quantity="dC/dW[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: sum(per_example(n, j)[1][l] for j in range(n.N)) / n.N,
        note="The exact half of (Σ_{j=1}^m ∇C_{X_j})/m ≈ (Σ_X ∇C_X)/n = ∇C: on a network whose batch is the whole "
             "training set. The ≈ (a mini-batch estimating the full gradient) is statistical, not an identity, "
             "so it is not checked; on its own mini-batch, (Σ_j ∇C_{X_j})/m is exactly the gradient of the "
             "mini-batch mean, which 003-sgd-weight-update-eq16 checks. Weights shown; biases in eq (17).",
    ),
    Formula(
        id="003-sgd-weight-update-eq16",
        title="Eq (16): the mini-batch update of a weight, w' = w - (η/m) Σ_j ∂C_{X_j}/∂w",
        source=src("Gradient descend, eq (16)", "Taking this into account the update rule for stochastic descend "
                   "becomes:"),
        written=r"w_k' = w_k - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial w_k} \tag{16}",
        convention="column",
        quantity="dC/dW[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: sgd_step_per_unit_rate(n, l, 1),
        note="Checked as a gradient: (w - w')/η must equal ∂C/∂w for C the mean over the mini-batch (the network's "
             "batch of m examples) of the per-example cost (4). `violates` sums the per-example costs instead: "
             "then the 1/m is wrong, so the rule is the gradient of the mean only. Phase 3 and the "
             "implementation section repeat (16) verbatim. η = 0.5.",
        violates=SUM_OF_EQ4,
    ),
    Formula(
        id="003-sgd-bias-update-eq17",
        title="Eq (17): the mini-batch update of a bias, b' = b - (η/m) Σ_j ∂C_{X_j}/∂b",
        source=src("Gradient descend, eq (17)", "Taking this into account the update rule for stochastic descend "
                   "becomes:"),
        written=r"b_l' = b_l - \frac{\eta}{m} \sum_j \frac{\partial C_{X_j}}{\partial b_l} \tag{17}",
        convention="column",
        quantity="dC/db[l]",
        setting=MEAN_OF_EQ4,
        compute=lambda n, l: sgd_step_per_unit_rate(n, l, 0),
        note="As 003-sgd-weight-update-eq16, for the biases.",
        violates=SUM_OF_EQ4,
    ),
]

IMPLEMENTATION = [
    Formula(
        id="003-sigmoid-section-cost",
        title="The cost chosen for the implementation: C = ½‖a^L - y‖²",
        source=src("Algorithm and implementation, after phase 3", "Meanwhile as cost function the squared error:"),
        written=r"C = \frac{1}{2} \| a^L - y \|^2",
        convention="column",
        quantity="C",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n: 0.5 * np.sum((n.a[n.L] - n.y) ** 2),
    ),
    Formula(
        id="003-output-activation-gradient",
        title="∂C/∂a^L = a^L - y for the half squared error",
        source=src("Algorithm and implementation, output layer error", "Now if we take the derivative of the "
                   "squared error with respect to aLa^L we obtain (check for yourself):"),
        written=r"\frac{\partial C}{\partial a^L}=a^L-y",
        convention="column",
        quantity="dC/da[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=output_activation_gradient,
    ),
    Formula(
        id="003-output-error-chain",
        title="δ^L = ∂C/∂z^L = ∂C/∂a^L ⊙ ∂a^L/∂z^L with ∂a^L/∂z^L = σ'(z^L)",
        source=src("Algorithm and implementation, output layer error", "By applying the chain rule, we refine our "
                   "expression:"),
        written=r"\delta^L = \frac{\partial C}{\partial z^L} = \frac{\partial C}{\partial a^L} \odot "
                r"\frac{\partial a^L}{\partial z^L}",
        convention="column",
        quantity="dC/dz[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n: output_activation_gradient(n) * sigmoid_prime(n.z[n.L]),
        note="∂C/∂a^L = a^L - y and ∂a^L/∂z^L = σ'(z^L) = σ(z^L)(1 - σ(z^L)) as the text defines σ'. The next "
             "line's a^L ⊙ (1 - a^L) form is 003-output-error-sigmoid.",
    ),
    Formula(
        id="003-output-error-sigmoid",
        title="Output error for the sigmoid and the half squared error",
        source=src("Algorithm and implementation, 3) phase, 'this leads us to the final expression for the error on the "
                   "last layer'",
                   "this leads us to the final expression for the error on the last layer."),
        written=r"\delta^L = (a^L - y) \odot a^L \odot (1 - a^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=sigmoid_output_error,
        note="Here δ^L is ∂C/∂z^L: the text has just redefined it ('the error term at the output layer is defined "
             "as δ^L = ∂C/∂z^L'). Under the takeaway's δ^L := ∂C/∂a^L see 003-takeaway-output-error-as-dC-da.",
    ),
    Formula(
        id="003-jacobian-transpose-as-printed",
        title="(∂a^{l+1}/∂a^l)ᵀ = diag(σ'(z^{l+1})) · (W^{l+1})ᵀ, as printed (factors in the wrong order)",
        source=src("Algorithm and implementation, 'What form does this take with the sigmoid activation function?'",
                   "So adding all up together, the transpose becomes:"),
        written=r"\left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top = \left(\mathrm{diag}(\sigma'(z^{l+1}))"
                r" \cdot (W^{l+1})^\top \right)",
        convention="column",
        quantity="dC/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients_with(
            n, lambda n, k, d: jacobian_transpose_as_printed(n, k) @ d)[l],
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands"),
        note="Checked through eq (9), which it is written for: ∂C/∂a^l = (printed transpose) · ∂C/∂a^{l+1}, from "
             "∂C/∂a^L = a^L - y. The text derives ∂a^{l+1}/∂a^l = diag(σ'(z^{l+1})) · W^{l+1}, whose transpose is "
             "(W^{l+1})ᵀ · diag(σ'(z^{l+1})); the printed product keeps the factors' order. diag(σ'(z^{l+1})) is "
             "n_{l+1} x n_{l+1} and (W^{l+1})ᵀ is n_l x n_{l+1}, so it does not even conform unless n_l = n_{l+1}; "
             "on square layers it conforms but scales row k by σ'(z_k^{l+1}) where column k should be scaled, "
             "so it still fails (square layers are no precondition that rescues it). Corrected: "
             "003-jacobian-transpose-corrected.",
    ),
    Formula(
        id="003-jacobian-transpose-corrected",
        title="Corrected: (∂a^{l+1}/∂a^l)ᵀ = (W^{l+1})ᵀ · diag(σ'(z^{l+1}))",
        source=src("Algorithm and implementation, 'What form does this take with the sigmoid activation function?'",
                   "So adding all up together, the transpose becomes:"),
        written=r"\left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top = (W^{l+1})^\top \cdot "
                r"\mathrm{diag}(\sigma'(z^{l+1}))",
        convention="column",
        quantity="dC/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients_with(
            n, lambda n, k, d: (n.W[k + 1].T @ np.diag(sigmoid_prime(n.z[k + 1])[:, 0])) @ d)[l],
        corrects="003-jacobian-transpose-as-printed",
    ),
    Formula(
        id="003-diagonal-as-hadamard-as-printed",
        title="σ'(z^{l+1}) ⊙ ((W^{l+1})ᵀ · ∂C/∂a^{l+1}), as printed (σ' applied on the wrong side of Wᵀ)",
        source=src("Algorithm and implementation, 'What form does this take with the sigmoid activation function?'",
                   "But multiplying a diagonal matrix by a vector is just an elementwise product!"),
        written=r"\sigma'(z^{l+1}) \odot \left( (W^{l+1})^\top \cdot \frac{\partial C}{\partial a^{l+1}} \right)",
        convention="column",
        quantity="dC/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients_with(
            n, lambda n, k, d: sigmoid_prime(n.z[k + 1]) * (n.W[k + 1].T @ d))[l],
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="regroup the product"),
        note="It is the previous line (the printed transpose) times δ^{l+1} = ∂C/∂a^{l+1}, so it claims ∂C/∂a^l. "
             "σ'(z^{l+1}) has n_{l+1} entries, (W^{l+1})ᵀ ∂C/∂a^{l+1} has n_l: the product does not conform "
             "unless n_l = n_{l+1} (NumPy broadcasts it silently when n_{l+1} = 1), and on square layers it is "
             "still wrong, as the diagonal must multiply ∂C/∂a^{l+1} before Wᵀ does. Corrected: "
             "003-diagonal-as-hadamard-corrected.",
    ),
    Formula(
        id="003-diagonal-as-hadamard-corrected",
        title="Corrected: (W^{l+1})ᵀ · (σ'(z^{l+1}) ⊙ ∂C/∂a^{l+1})",
        source=src("Algorithm and implementation, 'What form does this take with the sigmoid activation function?'",
                   "But multiplying a diagonal matrix by a vector is just an elementwise product!"),
        written=r"(W^{l+1})^\top \cdot \left( \sigma'(z^{l+1}) \odot \frac{\partial C}{\partial a^{l+1}} \right)",
        convention="column",
        quantity="dC/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients_with(
            n, lambda n, k, d: n.W[k + 1].T @ (sigmoid_prime(n.z[k + 1]) * d))[l],
        corrects="003-diagonal-as-hadamard-as-printed",
    ),
    Formula(
        id="003-delta-recursion",
        title="The error recursion δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)",
        source=src("'This gives us the clean recursive formula we love in backpropagation'",
                   "This gives us the clean recursive formula we love in backpropagation."),
        written=r"\delta^l = (W^{l+1})^\top \cdot \delta^{l+1} \odot \sigma'(z^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: sigmoid_errors(n)[l],
        note="Holds with δ := ∂C/∂z (the standard error, as in Nielsen's code), starting from the output error. "
             "The text arrives at it from the ∂C/∂a recursion ('multiply this by the error of δ^{l+1} = "
             "∂C/∂a^{l+1}'), i.e. it switches δ from ∂C/∂a to ∂C/∂z here without saying so; with δ := ∂C/∂a it "
             "would be wrong (see 003-takeaway-hidden-error-as-dC-da).",
    ),
    Formula(
        id="003-delta-recursion-sigmoid-a-form",
        title="The error recursion with σ'(z^l) written a^l ⊙ (1 - a^l)",
        source=src("'That we can write also (remembering for form of the first derivative of the activation function)'",
                   "That we can write also (remembering for form of the first derivative of the activation function):"),
        written=r"\delta^l = (W^{l+1})^\top \cdot \delta^{l+1} \odot a^l \odot (1 - a^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: sigmoid_errors_a_form(n)[l],
        note="δ := ∂C/∂z, from δ^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L). Repeated in the implementation walk-through "
             "('calculate the error thank to the backpropagation equation').",
    ),
    Formula(
        id="003-weight-gradient-outer-product",
        title="Weight gradient as the outer product δ^l (a^{l-1})ᵀ",
        source=src("Gradient of the weights, 'Switching to matrix form the full gradient is given by'",
                   "This is the outer product between the error vector at layer ll and the activations from the previous layer."),
        written=r"\frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^\top",
        convention="column",
        quantity="dC/dW[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: sigmoid_errors(n)[l] @ n.a[l - 1].T,
        note="δ := ∂C/∂z. Also stands for the entry form ∂C/∂w_jk^l = δ_j^l a_k^{l-1} and for "
             "∂C/∂w^L = δ^L (a^{L-1})ᵀ in the implementation walk-through.",
    ),
    Formula(
        id="003-bias-gradient",
        title="Bias gradient equals the error vector",
        source=src("'What about the bias b^l?'", "The gradient of the cost with respect to the bias is simply the error vector"),
        written=r"\frac{\partial C}{\partial b^l} = \frac{\partial z^l}{\partial b^l} \cdot "
                r"\frac{\partial C}{\partial z^l} = I \cdot \delta^l = \delta^l",
        convention="column",
        quantity="dC/db[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: np.eye(n.sizes[l], dtype=n.a[l].dtype) @ sigmoid_errors(n)[l],
        note="δ := ∂C/∂z, as the line itself writes it (∂C/∂z^l). Also ∂C/∂b^L = δ^L of the walk-through.",
    ),
]

TAKEAWAY = [
    Formula(
        id="003-takeaway-output-error-as-dC-da",
        title="Key takeaway, output layer error: δ^L := ∂C/∂a^L → δ^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L)",
        source=src("Conclusion, Key Takeaway, 'Output Layer Error'", "Here is a concise summary of how the "
                   "expressions evolve:"),
        written=r"\delta^L := \frac{\partial C}{\partial a^L} \quad \to \quad \delta^L = (a^L - y) \odot a^L "
                r"\odot (1 - a^L)",
        convention="column",
        quantity="dC/da[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=sigmoid_output_error,
        expected="erratum", expected_diagnosis=Expected(kind="quantity", fix="read as dC/dz[1]"),
        note="Literal: the line defines δ^L as ∂C/∂a^L and gives it the value (a^L - y) ⊙ a^L ⊙ (1 - a^L). But "
             "∂C/∂a^L = a^L - y (the document's own 'check for yourself'); the value printed is ∂C/∂z^L, which the "
             "text itself reached after redefining δ^L = ∂C/∂z^L. The same pairing opens the implementation "
             "section ('We start computing δ^L the error for the last layer we defined as δ^L := ∂C/∂a^L'). "
             "Corrected: 003-takeaway-output-error-as-dC-dz.",
    ),
    Formula(
        id="003-takeaway-output-error-as-dC-dz",
        title="Corrected takeaway, output layer error: δ^L := ∂C/∂z^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L)",
        source=src("Conclusion, Key Takeaway, 'Output Layer Error'", "Here is a concise summary of how the "
                   "expressions evolve:"),
        written=r"\delta^L := \frac{\partial C}{\partial z^L} = (a^L - y) \odot a^L \odot (1 - a^L)",
        convention="column",
        quantity="dC/dz[L]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=sigmoid_output_error,
        corrects="003-takeaway-output-error-as-dC-da",
    ),
    Formula(
        id="003-takeaway-hidden-error-as-dC-da",
        title="Key takeaway, hidden layers: δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ a^l ⊙ (1 - a^l) under δ := ∂C/∂a",
        source=src("Conclusion, Key Takeaway, 'Recursive Error for Hidden Layers'", "Here is a concise summary of "
                   "how the expressions evolve:"),
        written=r"\delta^l = \left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top \cdot \delta^{l+1} \quad "
                r"\to \quad \delta^l = (W^{l+1})^\top \cdot \delta^{l+1} \odot a^l \odot (1 - a^l)",
        convention="column",
        quantity="dC/da[L-1]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE.restricted(depth=(2, 3)),
        compute=lambda n: sigmoid_errors_a_form(n)[n.L - 1],
        expected="erratum", expected_diagnosis=Expected(kind="quantity", fix="read as dC/dz[1]"),
        note="Literal: in the takeaway δ is ∂C/∂a (its first line, and the left side of this one, the Jacobian "
             "recursion, holds for ∂C/∂a). The right side, from the takeaway's δ^L = (a^L - y) ⊙ a^L ⊙ (1 - a^L), "
             "computes ∂C/∂z^l, not ∂C/∂a^l: the arrow joins two different quantities. Checked at the last hidden "
             "layer L-1, the first layer the line is about ('for Hidden Layers'); the output layer is the previous "
             "record. Corrected: 003-takeaway-hidden-error-as-dC-dz.",
    ),
    Formula(
        id="003-takeaway-hidden-error-as-dC-dz",
        title="Corrected takeaway, hidden layers: δ^l := ∂C/∂z^l = (W^{l+1})ᵀ δ^{l+1} ⊙ a^l ⊙ (1 - a^l)",
        source=src("Conclusion, Key Takeaway, 'Recursive Error for Hidden Layers'", "Here is a concise summary of "
                   "how the expressions evolve:"),
        written=r"\delta^l := \frac{\partial C}{\partial z^l} = (W^{l+1})^\top \cdot \delta^{l+1} \odot a^l "
                r"\odot (1 - a^l)",
        convention="column",
        quantity="dC/dz[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: sigmoid_errors_a_form(n)[l],
        corrects="003-takeaway-hidden-error-as-dC-da",
        note="The right side of the line, read with δ := ∂C/∂z (its left side then needs δ̃ := ∂C/∂a, eq 9).",
    ),
    Formula(
        id="003-takeaway-weight-gradient-as-dC-da",
        title="Key takeaway, weights: ∂C/∂w^l = δ^l (a^{l-1})ᵀ under the takeaway's δ := ∂C/∂a",
        source=src("Conclusion, Key Takeaway, 'Gradient of Weights'", "Here is a concise summary of how the "
                   "expressions evolve:"),
        written=r"\frac{\partial C}{\partial w^l} = \frac{\partial a^l}{\partial w^l} \overset{i}{\cdot} \delta^l "
                r"\quad \to \quad \frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^\top",
        convention="column",
        quantity="dC/dW[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: activation_gradients(n)[l] @ n.a[l - 1].T,
        expected="erratum", expected_diagnosis=Expected(kind="missing-derivative", fix="multiply dC/da by g'(z) first"),
        note="Literal: the takeaway's δ is ∂C/∂a (δ^L := ∂C/∂a^L, propagated by the Jacobian recursion), under "
             "which the left side of the arrow holds (003-weight-gradient-contraction-eq8-12) and the right side "
             "δ^l (a^{l-1})ᵀ misses σ'(z^l). Under δ := ∂C/∂z the right side holds and the left applies σ' twice: "
             "no single δ makes both sides of the arrow true. Corrected: 003-takeaway-weight-gradient-as-dC-dz.",
    ),
    Formula(
        id="003-takeaway-weight-gradient-as-dC-dz",
        title="Corrected takeaway, weights: ∂C/∂w^l = δ^l (a^{l-1})ᵀ with δ := ∂C/∂z",
        source=src("Conclusion, Key Takeaway, 'Gradient of Weights'", "Here is a concise summary of how the "
                   "expressions evolve:"),
        written=r"\frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^\top,\quad \delta^l = "
                r"\frac{\partial C}{\partial z^l}",
        convention="column",
        quantity="dC/dW[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: sigmoid_errors_a_form(n)[l] @ n.a[l - 1].T,
        corrects="003-takeaway-weight-gradient-as-dC-da",
        note="The takeaway's right-hand δ computed as its own lines compute it (the a ⊙ (1 - a) forms), which is "
             "∂C/∂z. The takeaway's 'Gradient of Biases' line ∂C/∂b^l = δ^l is the same pairing: see "
             "003-bias-gradient-as-dC-da (δ := ∂C/∂a, fails) and 003-bias-gradient (δ := ∂C/∂z, holds).",
    ),
]

# The local Jacobians of "What form does this take with the sigmoid activation function?", each checked as a
# Jacobian of its own (model/quantity.py: per sample (out, in), rows the outputs, the layout the text itself
# defines, "whose (i,j)-th entry is ∂y_i/∂x_j"; one sample here, as the text's derivation: a batch axis of 1).
# The text's l+1 is our l for the one-layer Jacobians: ∂z^{l+1}/∂a^l is dz[l]/da[l-1].
JACOBIAN_WHERE = "Algorithm and implementation, 'What form does this take with the sigmoid activation function?'"


def one_sample(J):
    """The text's per-sample matrix with the quantity's batch axis (N = 1) in front."""
    return J[None]


JACOBIANS = [
    Formula(
        id="003-linear-input-jacobian",
        title="∂z^{l+1}/∂a^l = W^{l+1}",
        source=src(JACOBIAN_WHERE, "Since this is a linear function of ala^l, taking it’s derivative the second term "
                   "of the last expression becomes:"),
        written=r"\frac{\partial z^{l+1}}{\partial a^l} = W^{l+1}",
        convention="column",
        quantity="dz[l]/da[l-1]",  # the text's l+1 is our l
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: one_sample(n.W[l]),
    ),
    Formula(
        id="003-sigmoid-jacobian-diag",
        title="∂σ(z^{l+1})/∂z^{l+1} = diag(σ'(z^{l+1}))",
        source=src(JACOBIAN_WHERE, "So the derivative is a diagonal matrix with the derivative of σ\\sigma applied "
                   "to each entry:"),
        written=r"\frac{\partial \sigma(z^{l+1})}{\partial z^{l+1}} = \mathrm{diag}(\sigma'(z^{l+1}))",
        convention="column",
        quantity="da[l]/dz[l]",  # the text's l+1 is our l
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: one_sample(np.diag(sigmoid_prime(n.z[l])[:, 0])),
    ),
    Formula(
        id="003-layer-jacobian-chain-rule",
        title="∂a^{l+1}/∂a^l = ∂σ(z^{l+1})/∂z^{l+1} · ∂z^{l+1}/∂a^l = diag(σ'(z^{l+1})) · W^{l+1}",
        source=src(JACOBIAN_WHERE, "In the last term I’ve just applied the chain rule. We know:"),
        written=r"\frac{\partial a^{l+1}}{\partial a^l} = \frac{\partial \sigma(z^{l+1})}{\partial z^{l+1}} \cdot "
                r"\frac{\partial z^{l+1}}{\partial a^l}",
        convention="column",
        quantity="da[l+1]/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: one_sample(np.diag(sigmoid_prime(n.z[l + 1])[:, 0]) @ n.W[l + 1]),
        note="The two factors the text derives next (003-sigmoid-jacobian-diag, 003-linear-input-jacobian), multiplied "
             "in the chain rule's order.",
    ),
    Formula(
        id="003-layer-jacobian-transpose-literal",
        title="(∂a^{l+1}/∂a^l)ᵀ = diag(σ'(z^{l+1})) · (W^{l+1})ᵀ as a Jacobian: the factors in the wrong order",
        source=src(JACOBIAN_WHERE, "So adding all up together, the transpose becomes:"),
        written=r"\left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top = \left(\mathrm{diag}(\sigma'(z^{l+1}))"
                r" \cdot (W^{l+1})^\top \right)",
        convention="column",
        quantity="da[l+1]/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        # the claim is about the transpose: the Jacobian it claims is the printed matrix transposed back
        compute=lambda n, l: one_sample(jacobian_transpose_as_printed(n, l).T),
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands"),
        note="The printed transpose, transposed back, is W^{l+1} · diag(σ'(z^{l+1})) where the chain rule the text just "
             "derived gives diag(σ'(z^{l+1})) · W^{l+1}: (AB)ᵀ = BᵀAᵀ reverses the factors, the printed form keeps their "
             "order. Non-square layers do not even conform. Checked through eq (9) as well: "
             "003-jacobian-transpose-as-printed. Corrected: 003-layer-jacobian-transpose-corrected.",
    ),
    Formula(
        id="003-layer-jacobian-transpose-corrected",
        title="Corrected: (∂a^{l+1}/∂a^l)ᵀ = (W^{l+1})ᵀ · diag(σ'(z^{l+1})), as a Jacobian",
        source=src(JACOBIAN_WHERE, "So adding all up together, the transpose becomes:"),
        written=r"\left( \frac{\partial a^{l+1}}{\partial a^l} \right)^\top = (W^{l+1})^\top \cdot "
                r"\mathrm{diag}(\sigma'(z^{l+1}))",
        convention="column",
        quantity="da[l+1]/da[l]",
        setting=SIGMOID_HALF_SQ_ONE_SAMPLE,
        compute=lambda n, l: one_sample((n.W[l + 1].T @ np.diag(sigmoid_prime(n.z[l + 1])[:, 0])).T),
        corrects="003-layer-jacobian-transpose-literal",
    ),
]

FORMULAS = COSTS + GENERAL + UPDATES + IMPLEMENTATION + TAKEAWAY + JACOBIANS
