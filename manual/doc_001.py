"""Document 001_6e125834526f4589.txt — "Backpropagation Explained - Backprop Crash Course".

Convention: per-sample column vectors (the document's sums run over nodes j of one sample), layers
numbered 1..L as in the document, w_jk^(l) = W[l][j, k] (row j = node in layer l). Its loss is the
plain sum of squares C_0 = Σ_j (a_j - y_j)² for one sample, i.e. loss "sum_sq" with N = 1.
Where the document writes node indices 0..n-1 we use NumPy's, which are the same. The document works
one weight (w_12^(L), w_22^(L-1)) or one activation (a_2^(L-1)) at a time; a record computes the same
expression for every j, k at once, so that it also runs on layers with fewer than three nodes.

Its averages over "all n training samples" use C = (1/n) Σ_i C_i with C_i the per-sample C_0, i.e.
loss "mean_sum_sq" on a batch of n; the records that state them say so and show, with `violates`,
that they fail when C is the plain sum over samples instead.

Not a record: z_j^(l) = Σ_k w_jk^(l) a_k^(l-1), written without a bias. The network the document
draws has no biases, ours always have; but every derivative the document states uses z only through
g'(z) at the network's own z, and ∂z_j/∂w_jk = a_k and ∂z_j/∂a_k = w_jk are the same with or without a
bias, so the bias-free sum carries no consequence that a derivative check could see (the records hold
on networks with biases, a superset of the document's).
"""
import numpy as np

from backprop_audit import Expected, Formula, Setting, Source
from backprop_audit.model.operations import derivative

DOC = "001_6e125834526f4589.txt"
# the document's notation against the report's (layers 1..L, W, b, z, a, y, N), for its readers
NOTATION = ("Column convention, one sample a column; layers numbered 1..L as in the text, w_jk^(l) = W[l][j, k]. "
            "Its loss C_0 = Σ_j (a_j - y_j)² is one sample's (sum_sq); its averages over n samples use "
            "C = (1/n) Σ_i C_i (mean_sum_sq), n being the report's N.")
ELEMENTWISE_OUTPUTS = ("sigmoid", "tanh", "identity")
ONE_SAMPLE_SUM_SQ = Setting(loss=("sum_sq",), batch=(1, 1), output=ELEMENTWISE_OUTPUTS)
# "for all n training samples": C = (1/n) Σ_i C_i with C_i = Σ_j (a_j - y_j)², on n = 1..4 samples.
N_SAMPLES_MEAN = Setting(loss=("mean_sum_sq",), batch=(1, 4), output=ELEMENTWISE_OUTPUTS)
# The same averages where C is the sum over samples (no 1/n): must fail once n >= 2.
N_SAMPLES_SUM = Setting(loss=("sum_sq",), batch=(2, 4), output=ELEMENTWISE_OUTPUTS)


def g_prime(view, l):
    """g'^(l)(z^(l)): the derivative of layer l's activation at its input."""
    return derivative(view.activation[l], view.z[l])


def output_activation_terms(n):
    """∂C_0/∂a_j^(L) = 2(a_j^(L) - y_j), the first term, per sample (one column per sample)."""
    return 2 * (n.a[n.L] - n.y)


def hidden_activation_gradient(n, l):
    """∂C_0/∂a_k^(l-1) = Σ_j (∂C_0/∂a_j^(l)) g'(z_j^(l)) w_jk^(l), written for l = L in the document:
    Σ_j 2(a_j - y_j) g'(z_j) w_j2. The sum over output nodes j is written out as the document writes it."""
    upstream = output_activation_terms(n) if l == n.L else hidden_activation_gradient(n, l + 1)
    terms = upstream * g_prime(n, l)  # (∂C_0/∂a_j)(∂a_j/∂z_j), one row per node j
    W = n.W[l]
    return sum(terms[j:j + 1, :] * W[j, :][:, None] for j in range(W.shape[0]))


def per_sample_weight_gradient(n, i):
    """∂C_i/∂w_jk^(L) = 2(a_j - y_j) g'(z_j) a_k^(L-1) for sample i (column i), every j, k."""
    first_two = output_activation_terms(n)[:, i:i + 1] * g_prime(n, n.L)[:, i:i + 1]
    return first_two @ n.a[n.L - 1][:, i:i + 1].T


def average_weight_gradient(n):
    """∂C/∂w_12^(L) = (1/n) Σ_{i=0}^{n-1} ∂C_i/∂w_12^(L): the average over the n samples of the batch."""
    return sum(per_sample_weight_gradient(n, i) for i in range(n.N)) / n.N


def average_activation_gradient_literal(n):
    """(1/n) Σ_i ∂C_i/∂a_2^(L-1): one number per node of layer L-1, averaged over the samples."""
    per_sample = hidden_activation_gradient(n, n.L)  # column i is ∂C_i/∂a^(L-1) of sample i
    return per_sample.sum(axis=1, keepdims=True) / n.N


def weight_gradient_every_layer(n, l):
    """∂C_0/∂w_jk^(l) = (∂C_0/∂a_j^(l)) g'(z_j^(l)) a_k^(l-1), ∂C_0/∂a^(l) propagated back as above."""
    dC_da = output_activation_terms(n) if l == n.L else hidden_activation_gradient(n, l + 1)
    return (dC_da * g_prime(n, l)) @ n.a[l - 1].T


FORMULAS = [
    Formula(
        id="001-loss-single-sample",
        title="The loss of one sample: the sum over output nodes of the squared difference",
        source=Source(DOC, "Mathematical Observations for Backpropagation, 'Loss C_0'",
                      "Therefore, to calculate the total loss, we should sum this squared difference for each node "
                      "$$j$$ in the output layer $$L$$."),
        written=r"C_{0}=\sum_{j=0}^{n-1}\left( a_{j}^{(L)}-y_{j}\right) ^{2}",
        convention="column",
        quantity="C",
        setting=ONE_SAMPLE_SUM_SQ,
        compute=lambda n: np.sum((n.a[n.L] - n.y) ** 2),
        note="Also stands for C_0 = Σ_j C_{0_j} with C_{0_j} = (a_j - y_j)², the same sum written per node.",
    ),
    Formula(
        id="001-output-activation-gradient",
        title="Derivative of the loss with respect to an output activation: 2(a - y)",
        source=Source(DOC, "Backpropagation Explained - Calculating the Gradient, 'The first term'",
                      "Observe that the loss from the network for a single input sample will respond to a small change in "
                      "the activation output from node $$1$$ in layer $$L$$ by an amount equal to two times the difference "
                      "of the activation output $$a_{1}$$ for node $$1$$ and the desired output $$y_{1}$$ for node $$1$$."),
        written=r"\frac{\partial C_{0}}{\partial a_{1}^{(L)}} = 2 \left( a_{1}^{(L)}-y_{1}\right)",
        convention="column",
        quantity="dC/da[L]",
        setting=ONE_SAMPLE_SUM_SQ,
        compute=lambda n: 2 * (n.a[n.L] - n.y),
    ),
    Formula(
        id="001-output-input-gradient",
        title="The first two chain-rule terms: 2(a - y) g'(z), the derivative with respect to an output input",
        source=Source(DOC, "What puts the 'back' in backprop?, 'Calculations'",
                      "Now, we can see that the first and second terms on the right hand side of the equation are "
                      "the same as the first and second terms in the last equation with regards to "
                      "$$w_{12}^{\\left( L\\right) }$$ in the output layer when $$j=1$$."),
        written=r"\left(\frac{\partial C_{0}}{\partial a_{j}^{(L)}}\right)\left(\frac{\partial a_{j}^{(L)}}"
                r"{\partial z_{j}^{(L)}}\right) = 2\left(a_{j}^{(L)}-y_{j}\right) g^{\prime (L)}\left(z_{j}^{(L)}\right)",
        convention="column",
        quantity="dC/dz[L]",
        setting=ONE_SAMPLE_SUM_SQ,
        compute=lambda n: 2 * (n.a[n.L] - n.y) * g_prime(n, n.L),
        note="The second term ∂a_1/∂z_1 = g'(z_1) ('The second term') is a derivative of a, not of C, so the "
             "oracles cannot check it alone; the product of the first two terms is ∂C_0/∂z_j^(L), which they can. "
             "The third term ∂z_1/∂w_12 = a_2^(L-1) is checked inside 001-output-weight-gradient.",
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
    Formula(
        id="001-average-weight-gradient",
        title="Gradient over n samples as the average of the per-sample gradients",
        source=Source(DOC, "Backpropagation Explained - Calculating the Gradient, 'Combining terms'",
                      "To calculate the derivative of the loss with respect to this same particular weight, "
                      "$$w_{12}$$, for all $$n$$ training samples, we calculate the average derivative of the loss "
                      "function over all $$n$$ training samples."),
        written=r"\frac{\partial C}{\partial w_{12}^{(L)}} = \frac{1}{n}\sum_{i=0}^{n-1}"
                r"\frac{\partial C_{i}}{\partial w_{12}^{(L)}}",
        convention="column",
        quantity="dC/dW[L]",
        setting=N_SAMPLES_MEAN,
        compute=average_weight_gradient,
        note="The document never defines C for n samples; the average of per-sample gradients is the gradient "
             "of C = (1/n) Σ_i C_i, the mean of the per-sample sums of squares (loss mean_sum_sq), and only of "
             "that. `violates` shows it failing when C is the plain sum over samples. Each ∂C_i/∂w is the "
             "document's own 2(a - y) g'(z) a^(L-1) of sample i. The same average is stated in prose in the "
             "intuition section ('These averaged results for each weight are indeed the corresponding gradient').",
        violates=N_SAMPLES_SUM,
    ),
    Formula(
        id="001-hidden-activation-gradient",
        title="Derivative of the loss with respect to an activation in layer L-1: Σ_j 2(a_j - y_j) g'(z_j) w_j2",
        source=Source(DOC, "What puts the 'back' in backprop?, 'Combining the Terms'",
                      "From the previous section, we already know what these first two terms evaluate to. So I've "
                      "gone ahead and plugged in those results, and since we have just seen what the result of the "
                      "third term is, we plug it in as well."),
        written=r"\frac{\partial C_{0}}{\partial a_{2}^{(L-1)}} = \sum_{j=0}^{n-1}\left( 2\left( a_{j}^{(L)}-y_{j}"
                r"\right) \left( g^{\prime (L)}\left( z_{j}^{(L)}\right)\right) \left( w_{j2}^{(L)}\right) \right)",
        convention="column",
        quantity="dC/da[L-1]",
        setting=ONE_SAMPLE_SUM_SQ.restricted(depth=(2, 3)),
        compute=lambda n: hidden_activation_gradient(n, n.L),
        note="Computed for every node k of layer L-1 (the document's node 2), with the sum over output nodes j "
             "written out. Also checks the third term ∂z_j^(L)/∂a_2^(L-1) = w_j2^(L) of 'The Third Term'.",
    ),
    Formula(
        id="001-hidden-weight-gradient",
        title="Gradient with respect to a weight in layer L-1 from the back-propagated activation derivative",
        source=Source(DOC, "What puts the 'back' in backprop?, 'Combining the Terms'",
                      "The result we just obtained for the derivative of the loss with respect to the activation output "
                      "for node $$2$$ in layer $$L-1$$ can then be substituted for the first term in this equation."),
        written=r"\frac{\partial C_{0}}{\partial w_{22}^{(L-1)}} = \left( \frac{\partial C_{0}}{ \partial "
                r"a_{2}^{(L-1)}}\right) \left( \frac{\partial a_{2}^{(L-1)}}{\partial z_{2}^{(L-1)}}\right) "
                r"\left( \frac{\partial z_{2}^{(L-1)}}{\partial w_{22}^{(L-1)}}\right)",
        convention="column",
        quantity="dC/dW[L-1]",
        setting=ONE_SAMPLE_SUM_SQ.restricted(depth=(2, 3)),
        compute=lambda n: weight_gradient_every_layer(n, n.L - 1),
        note="The second and third terms 'are calculated using the exact same approach' as for the output layer: "
             "g'^(L-1)(z_2^(L-1)) and a_2^(L-2). All weights (j, k) of layer L-1 at once.",
    ),
    Formula(
        id="001-every-weight-gradient",
        title="The same chain rule, applied backwards, for every weight of every layer",
        source=Source(DOC, "Backpropagation Explained - Calculating the Gradient, 'Wrapping Up Calculating the Gradient'",
                      "we should now be able to generalize the result we obtained for a single weight and a single "
                      "sample to all the weights in the network"),
        written=r"\frac{\partial C_{0}}{\partial w_{jk}^{(l)}} = \left( \frac{\partial C_{0}}{ \partial a_{j}^{(l)}}"
                r"\right) \left( \frac{\partial a_{j}^{(l)}}{\partial z_{j}^{(l)}}\right) \left( \frac{\partial "
                r"z_{j}^{(l)}}{\partial w_{jk}^{(l)}}\right)",
        convention="column",
        quantity="dC/dW[l]",
        setting=ONE_SAMPLE_SUM_SQ,
        compute=weight_gradient_every_layer,
        note="The document writes the chain only for layers L and L-1 and says 'We achieve this by repeatedly "
             "applying the chain rule in a backwards fashion'; this record is that generalization, with "
             "∂C_0/∂a^(l) obtained from layer l+1 exactly as ∂C_0/∂a_2^(L-1) is obtained from layer L.",
    ),
    Formula(
        id="001-average-activation-gradient-literal",
        title="'Average derivative of the loss' with respect to an activation, over all n samples (as written)",
        source=Source(DOC, "What puts the 'back' in backprop?, 'Average Derivative of the Loss Function'",
                      "Note, to find the derivative of the loss function with respect to this same particular "
                      "activation output, $$a_{2}^{(L-1)}$$, for all $$n$$ training samples, we calculate the "
                      "average derivative of the loss function over all $$n$$ training samples."),
        written=r"\frac{\partial C}{\partial a_{2}^{(L-1)}}=\frac{1}{n}\sum_{i=0}^{n-1}\frac{ \partial C_{i}}"
                r"{\partial a_{2}^{(L-1)}}",
        convention="column",
        quantity="dC/da[L-1]",
        setting=N_SAMPLES_MEAN.restricted(depth=(2, 3)),
        compute=average_activation_gradient_literal,
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="drop a reduction"),
        note="Literal: one number per node of layer L-1, the average over samples of ∂C_i/∂a_2^(L-1). But an "
             "activation belongs to one sample: with n samples the network has n activations a_2^(L-1), one per "
             "sample, and C = (1/n) Σ_i C_i depends on sample i's only through C_i, so ∂C/∂a_2^(L-1)(sample i) = "
             "(1/n) ∂C_i/∂a_2^(L-1) with no sum. The written average is the derivative of no single activation (it has "
             "one column where the network has n): it is the sum over samples of the true per-sample derivatives, "
             "i.e. the derivative of C with respect to one shift of node 2's activation applied to every sample at "
             "once, a true derivative of a quantity backprop never needs (weights are averaged, not activations). It coincides with ∂C/∂a only when n = 1. The derived repair drops the sum over "
             "samples and keeps the 1/n: (1/n) ∂C_i/∂a_2^(L-1), one column per sample, which is the corrected "
             "record 001-average-activation-gradient-per-sample.",
    ),
    Formula(
        id="001-average-activation-gradient-per-sample",
        title="Derivative of the n-sample loss with respect to one sample's activation: (1/n) ∂C_i/∂a",
        source=Source(DOC, "What puts the 'back' in backprop?, 'Average Derivative of the Loss Function'",
                      "Note, to find the derivative of the loss function with respect to this same particular "
                      "activation output, $$a_{2}^{(L-1)}$$, for all $$n$$ training samples, we calculate the "
                      "average derivative of the loss function over all $$n$$ training samples."),
        written=r"\frac{\partial C}{\partial a_{2}^{(L-1)}(x_i)}=\frac{1}{n}\frac{ \partial C_{i}}"
                r"{\partial a_{2}^{(L-1)}(x_i)}",
        convention="column",
        quantity="dC/da[L-1]",
        setting=N_SAMPLES_MEAN.restricted(depth=(2, 3)),
        compute=lambda n: hidden_activation_gradient(n, n.L) / n.N,
        corrects="001-average-activation-gradient-literal",
        note="Corrected form of the 'average derivative' with respect to an activation: each sample i has its own "
             "a_2^(L-1), and C = (1/n) Σ_i C_i gives it the derivative (1/n) ∂C_i/∂a_2^(L-1) (the document's "
             "Σ_j 2(a_j - y_j) g'(z_j) w_j2 for that sample, over n). Summing these columns gives the document's "
             "number; the average belongs to the weight gradients, where 001-average-weight-gradient holds.",
    ),
]
