"""The standard correct formulas for the losses and activations that no seed document covers: the output
deltas of mse, mae, huber, the summed cross-entropies and CS231n's multiclass SVM, the hidden deltas of
leaky_relu, elu, softplus and gelu, and the L2 term's weight gradient, each as its usual source writes it. They are the catalog gate's cover of those
rows of the operation table (backprop_audit/model/operations.py), checked against the oracles like every
other record, and soaked with them.

These sources are not in ../shared/seeds, so nothing can check a quote against them: every `Source.quote`
here is a paraphrase of the cited text, marked "(paraphrase)" (tests/test_worked_examples.py checks the
marking; the seed documents' quotes stay verbatim), with the citation in `Source.document` and the section
or equation in `Source.where`.

Convention "row" (CS231n's X @ W; torch's (N, K) inputs): X is (N, n0), W[l] is (in, out), a[l] is (N, n_l),
y is (N, K) one-hot or real, n.labels the (N,) integer classes of one-hot targets (targets "labels").
K is the output width n.sizes[-1]. Every record holds: there are no errata here (their mistakes are the
mutants of backprop_audit/trust/mutants.py).
"""
import math

import numpy as np

from backprop_audit import Formula, Setting, Source
from backprop_audit.model import operations

PYTORCH_MSE = "PyTorch documentation, torch.nn.MSELoss (https://pytorch.org/docs/stable/generated/torch.nn.MSELoss.html)"
PYTORCH_L1 = "PyTorch documentation, torch.nn.L1Loss (https://pytorch.org/docs/stable/generated/torch.nn.L1Loss.html)"
PYTORCH_HUBER = ("PyTorch documentation, torch.nn.HuberLoss "
                 "(https://pytorch.org/docs/stable/generated/torch.nn.HuberLoss.html)")
PYTORCH_LEAKY = ("PyTorch documentation, torch.nn.LeakyReLU "
                 "(https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html)")
BISHOP = "C. M. Bishop, Pattern Recognition and Machine Learning (Springer, 2006)"
CS231N_OPT = "CS231n course notes, Optimization: Stochastic Gradient Descent (https://cs231n.github.io/optimization-1/)"
CS231N_LINEAR = "CS231n course notes, Linear classification (https://cs231n.github.io/linear-classify/)"
CS231N_NET = "CS231n course notes, Putting it together: Minimal Neural Network Case Study (https://cs231n.github.io/neural-networks-case-study/)"
ELU_PAPER = ("D.-A. Clevert, T. Unterthiner, S. Hochreiter, Fast and Accurate Deep Network Learning by Exponential "
             "Linear Units (ELUs), ICLR 2016 (https://arxiv.org/abs/1511.07289)")
GOODFELLOW = "I. Goodfellow, Y. Bengio, A. Courville, Deep Learning (MIT Press, 2016)"
GELU_PAPER = "D. Hendrycks, K. Gimpel, Gaussian Error Linear Units (GELUs), 2016 (https://arxiv.org/abs/1606.08415)"

ELEMENTWISE_OUTPUTS = ("identity", "tanh", "sigmoid")
MSE = Setting(output=ELEMENTWISE_OUTPUTS, loss=("mse",))
MAE = MSE.restricted(loss=("mae",))
HUBER = MSE.restricted(loss=("huber",))
SOFTMAX_CE_SUM = Setting(output=("softmax",), loss=("softmax_ce_sum",), targets=("onehot", "labels"))
SIGMOID_BCE_SUM = Setting(output=("sigmoid",), loss=("sigmoid_bce_sum",), targets=("binary", "onehot", "prob"))
# CS231n's linear SVM: scores s = X W + b straight from the input (one layer, identity output), one label a sample
SVM = Setting(depth=(1, 1), width=(2, 5), output=("identity",), loss=("multiclass_hinge",), targets=("labels",))
SVM_SCORES = SVM.restricted(depth=(1, 3), hidden=("relu", "tanh", "leaky_relu"))


# The local Jacobians (model/quantity.py): per sample (out, in), stacked over the batch (N, out, in); with
# respect to W the reduced layout ∂z_i/∂W_ik, laid out as W is here, (in, out) per sample (N, in, out).
ELEMENTWISE_JACOBIANS = Setting(output=ELEMENTWISE_OUTPUTS)
SOFTMAX_JACOBIANS = Setting(depth=(2, 3), output=("softmax",), loss=("softmax_ce",), targets=("onehot", "prob"))


def derivative(n, l):
    """g'(z[l]) of layer l's (elementwise) activation, the operation table's NumPy derivative, (N, n_l)."""
    return operations.activation(n.activation[l]).numpy_prime(n.z[l])


def diag(v):
    """diag(v) per sample: (N, n) -> (N, n, n)."""
    return v[:, :, None] * np.eye(v.shape[-1], dtype=v.dtype)


def softmax_jacobian(s):
    """diag(s) - s sᵀ per sample."""
    return diag(s) - s[:, :, None] * s[:, None, :]


def hidden(activation):
    """A hidden layer of `activation` under an identity output and ½Σ(a - y)², so δ[L] = a[L] - y."""
    return Setting(depth=(2, 3), hidden=(activation,), output=("identity",), loss=("half_sum_sq",))


def cells(n):
    """N·K, the count the elementwise means divide by."""
    return n.N * n.sizes[-1]


def svm_margins(n):
    """margin_ij = s_j - s_{y_i} + Δ with Δ = 1 (s = a[L], the scores)."""
    s = n.a[n.L]
    return s - s[np.arange(n.N), n.labels][:, None] + 1


def svm_score_gradient(n):
    """dL/ds: 1(margin_ij > 0) for j ≠ y_i, minus the count of those at y_i; averaged over the N samples."""
    positive = (svm_margins(n) > 0).astype(n.a[n.L].dtype)
    positive[np.arange(n.N), n.labels] = 0
    dscores = positive.copy()
    dscores[np.arange(n.N), n.labels] = -positive.sum(axis=1)
    return dscores / n.N


def svm_weight_gradient(n):
    """CS231n's naive loop: for each sample i and each class j ≠ y_i with a positive margin, dW[:, j] += x_i and
    dW[:, y_i] -= x_i; then dW /= N. W is (in, out) here, as in CS231n's X.dot(W)."""
    X, margins = n.X, svm_margins(n)
    dW = np.zeros_like(n.W[1])
    for i in range(n.N):
        for j in range(n.sizes[-1]):
            if j == n.labels[i]:
                continue
            if margins[i, j] > 0:
                dW[:, j] += X[i]
                dW[:, n.labels[i]] -= X[i]
    return dW / n.N


def softmax_ce_sum_delta_with_labels(n):
    """CS231n's dscores = probs; dscores[range(N), y] -= 1, without its /N: the summed cross-entropy's."""
    dscores = n.a[n.L].copy()
    dscores[np.arange(n.N), n.labels] -= 1
    return dscores


def hidden_delta(derivative):
    """δ[L-1] = (δ[L] W[L]ᵀ) ⊙ g'(z[L-1]) with δ[L] = a[L] - y (W is (in, out): δ W[L]ᵀ is the row form of Wᵀδ)."""
    return lambda n: ((n.a[n.L] - n.y) @ n.W[n.L].T) * derivative(n.z[n.L - 1])


def logistic(z):
    """σ(z) = 1/(1 + e^{-z}), the derivative of softplus ζ(z) = log(1 + e^z)."""
    return 1 / (1 + np.exp(-z))


# Logistic regression on a network's last hidden layer: one sigmoid output unit (output_width 1) whatever the
# hidden widths, Bishop's summed cross-entropy, binary targets
ONE_OUTPUT = Setting(depth=(1, 3), output=("sigmoid",), loss=("sigmoid_bce_sum",), targets=("binary",),
                     output_width=(1, 1))

# CS231n's two-layer network: ReLU hidden layer, softmax output, the mean cross-entropy, and the L2 term
# 0.5·reg·Σ W² of every weight matrix (reg is λ here, v.l2)
CS231N_TWO_LAYER = Setting(depth=(2, 2), hidden=("relu",), output=("softmax",), loss=("softmax_ce",),
                           targets=("onehot", "labels"), l2=(0.0, 2.0))


def cs231n_hidden_weight_gradient(n):
    """The case study's backward pass, line by line (X @ W: W is (in, out)): dscores = probs, minus 1 at the
    correct class, over N; dhidden = dscores W2ᵀ, zeroed where the ReLU was off; dW = Xᵀ dhidden; then the
    regularization gradient, dW += reg·W."""
    dscores = n.a[2].copy()
    dscores[np.arange(n.N), n.labels] -= 1
    dscores /= n.N
    dhidden = dscores @ n.W[2].T
    dhidden[n.a[1] <= 0] = 0
    dW = n.X.T @ dhidden
    dW += n.l2 * n.W[1]
    return dW


def leaky_relu_prime(z):
    """1 for z > 0, the negative slope 0.01 otherwise."""
    return np.where(z > 0, 1.0, 0.01).astype(z.dtype)


def elu_prime(z, a):
    """The paper's f'(x) = 1 if x > 0, f(x) + α if x <= 0 (α = 1), written from the output a = f(z)."""
    return np.where(z > 0, 1.0, a + 1.0).astype(z.dtype)


def gelu_prime(z):
    """d/dz [z Φ(z)] = Φ(z) + z φ(z), Φ(z) = (1 + erf(z/√2))/2, φ(z) = e^{-z²/2}/√(2π)."""
    erf = np.frompyfunc(math.erf, 1, 1)
    cdf = (0.5 * (1 + erf(z / math.sqrt(2)))).astype(z.dtype)
    return cdf + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def record(id_, title, document, where, paraphrase, written, quantity, setting, compute, note=""):
    return Formula(id=id_, title=title, source=Source(document, where, f"(paraphrase) {paraphrase}"), written=written,
                   convention="row", quantity=quantity, setting=setting, compute=compute, note=note)


FORMULAS = [
    record("std-mse-output-gradient", "MSE (mean over all N·K elements): dC/da = 2(a - y)/(N·K)", PYTORCH_MSE,
           "reduction='mean' (the default)",
           "the unreduced loss is l_n = (x_n - y_n)^2 and the default reduction averages it over every element",
           r"\frac{\partial C}{\partial a^L} = \frac{2}{NK}(a^L - y)", "dC/da[L]", MSE,
           lambda n: 2 * (n.a[n.L] - n.y) / cells(n),
           note="torch's mean divides by the number of elements, N·K, not by the batch N: the derivative carries 1/(N·K)."),
    record("std-mse-output-delta", "MSE with an identity output: δ^L = 2(a - y)/(N·K)", PYTORCH_MSE,
           "reduction='mean' (the default)",
           "the unreduced loss is l_n = (x_n - y_n)^2 and the default reduction averages it over every element",
           r"\delta^L = \frac{2}{NK}(a^L - y)", "dC/dz[L]", MSE.restricted(output=("identity",)),
           lambda n: 2 * (n.a[n.L] - n.y) / cells(n)),
    record("std-mae-output-gradient", "MAE: dC/da = sign(a - y)/(N·K)", PYTORCH_L1, "reduction='mean' (the default)",
           "the unreduced loss is l_n = |x_n - y_n| and the default reduction averages it over every element",
           r"\frac{\partial C}{\partial a^L} = \frac{1}{NK}\operatorname{sign}(a^L - y)", "dC/da[L]", MAE,
           lambda n: np.sign(n.a[n.L] - n.y) / cells(n),
           note="At a = y the derivative does not exist; sign(0) = 0 is a subgradient, and such entries are judged as "
                "kinks (torch, jax and this formula may each take their own)."),
    record("std-huber-output-gradient", "Huber (δ = 1): dC/da = clip(a - y, -1, 1)/(N·K)", PYTORCH_HUBER,
           "delta=1.0, reduction='mean' (the defaults)",
           "the loss is 0.5 (x_n - y_n)^2 where |x_n - y_n| < delta and delta (|x_n - y_n| - 0.5 delta) otherwise, "
           "averaged over every element",
           r"\frac{\partial C}{\partial a^L} = \frac{1}{NK}\operatorname{clip}(a^L - y, -1, 1)", "dC/da[L]", HUBER,
           lambda n: np.clip(n.a[n.L] - n.y, -1, 1) / cells(n)),
    record("std-softmax-ce-sum-delta", "Summed softmax cross-entropy: δ^L = p - y, no 1/N", BISHOP,
           "section 4.3.4, Multiclass logistic regression, eqs. (4.108)-(4.109)",
           "for the cross-entropy E = -Σ_n Σ_k t_nk ln y_nk with softmax outputs, the gradient with respect to the "
           "activations is y_nk - t_nk, summed over the data points",
           r"\delta^L = p - y", "dC/dz[L]", SOFTMAX_CE_SUM, lambda n: n.a[n.L] - n.y,
           note="Bishop's error is a sum over the data set: no 1/N (softmax_ce_sum; softmax_ce is the mean)."),
    record("std-softmax-ce-sum-delta-labels", "Summed softmax cross-entropy from integer labels: p with 1 taken "
           "off at each label", CS231N_NET, "Computing the Analytic Gradient with Backpropagation",
           "the gradient on the scores is the probabilities with 1 subtracted at the correct class "
           "(dscores = probs; dscores[range(N), y] -= 1); here without the division by N of the averaged loss",
           r"\delta^L_{ij} = p_{ij} - 1[j = y_i]", "dC/dz[L]", SOFTMAX_CE_SUM.restricted(targets=("labels",)),
           softmax_ce_sum_delta_with_labels,
           note="CS231n divides by N because its loss is the mean; the summed loss (softmax_ce_sum) keeps no 1/N."),
    record("std-sigmoid-bce-sum-delta", "Summed binary cross-entropy with a sigmoid output: δ^L = a - y", BISHOP,
           "section 4.3.2, Logistic regression, eqs. (4.90)-(4.91)",
           "for the cross-entropy error E = -Σ_n {t_n ln y_n + (1 - t_n) ln(1 - y_n)} with y_n = σ(a_n), the "
           "derivative with respect to a_n is y_n - t_n",
           r"\delta^L = a^L - y", "dC/dz[L]", SIGMOID_BCE_SUM, lambda n: n.a[n.L] - n.y,
           note="The σ'(z) of the chain rule cancels against the cross-entropy's 1/(σ(1 - σ)); a sum: no 1/N."),
    record("std-logistic-weight-gradient", "Logistic regression: ∇E = Σ_n (y_n - t_n) φ_n, one sigmoid output",
           BISHOP, "section 4.3.2, Logistic regression, eq. (4.91)",
           "for the cross-entropy error of a logistic sigmoid output y_n = σ(wᵀφ_n) with binary targets t_n, the "
           "gradient with respect to w is the sum over the data points of (y_n - t_n) φ_n",
           r"\nabla E(w) = \sum_n (y_n - t_n)\, \phi_n", "dC/dW[L]", ONE_OUTPUT,
           lambda n: n.a[n.L - 1].T @ (n.a[n.L] - n.y),
           note="φ_n is the last hidden layer's activation of sample n (the input itself for one layer); one output "
                "unit, so W[L] is (n_{L-1}, 1) here and the sum over n is the product a[L-1]ᵀ (a - y)."),
    record("std-svm-loss", "Multiclass SVM loss, Δ = 1, averaged over the batch", CS231N_LINEAR,
           "Multiclass Support Vector Machine loss",
           "the loss of example i is L_i = Σ_{j≠y_i} max(0, s_j - s_{y_i} + Δ), and the data loss is their mean "
           "over the N examples",
           r"C = \frac{1}{N}\sum_i \sum_{j \neq y_i} \max(0, s_j - s_{y_i} + 1)", "C", SVM_SCORES,
           lambda n: np.sum(np.where(np.arange(n.sizes[-1]) == n.labels[:, None], 0, np.maximum(svm_margins(n), 0)))
           / n.N),
    record("std-svm-score-gradient", "Multiclass SVM: the gradient on the scores", CS231N_OPT,
           "Computing the gradient analytically with Calculus",
           "with respect to the correct class's row the gradient is minus the number of classes that did not meet the "
           "margin times x_i, and for the other rows j it is 1(margin_j > 0) times x_i: on the scores, 1(margin > 0) "
           "at each j ≠ y_i and minus their count at y_i",
           r"\frac{\partial C}{\partial s_{ij}} = \frac{1}{N}\Big(1[s_j - s_{y_i} + 1 > 0]_{j \neq y_i} - 1[j = y_i]"
           r"\sum_{k \neq y_i} 1[s_k - s_{y_i} + 1 > 0]\Big)", "dC/da[L]", SVM_SCORES, svm_score_gradient,
           note="At a margin of exactly 0 the loss has no derivative: 1(0 > 0) = 0 is a subgradient, judged as a kink."),
    record("std-svm-weight-gradient", "Multiclass SVM, linear scores: dW by CS231n's loop", CS231N_OPT,
           "Computing the gradient analytically with Calculus",
           "∇_{w_{y_i}} L_i = -(Σ_{j≠y_i} 1(w_j^T x_i - w_{y_i}^T x_i + Δ > 0)) x_i and ∇_{w_j} L_i = "
           "1(w_j^T x_i - w_{y_i}^T x_i + Δ > 0) x_i, averaged over the examples",
           r"\nabla_{w_{y_i}} L_i = -\Big(\sum_{j \neq y_i} 1(w_j^T x_i - w_{y_i}^T x_i + \Delta > 0)\Big) x_i,\quad "
           r"\nabla_{w_j} L_i = 1(w_j^T x_i - w_{y_i}^T x_i + \Delta > 0)\, x_i", "dC/dW[1]", SVM, svm_weight_gradient,
           note="CS231n's scores have no bias (a bias column in X); here s = X W + b, which changes no dW."),
    record("std-leaky-relu-hidden-delta", "Leaky ReLU hidden layer: δ = (δ^{l+1} W^T) ⊙ (1 if z > 0 else 0.01)",
           PYTORCH_LEAKY, "negative_slope=0.01 (the default)",
           "LeakyReLU(x) = x for x >= 0 and negative_slope × x otherwise, negative_slope = 0.01 by default; so its "
           "derivative is 1 for x > 0 and 0.01 for x < 0",
           r"\delta^{L-1} = (\delta^L W^{L\,T}) \odot g'(z^{L-1}),\ g'(z) = 1 \text{ if } z > 0 \text{ else } 0.01",
           "dC/dz[L-1]", hidden("leaky_relu"), hidden_delta(leaky_relu_prime),
           note="At z = 0 the derivative does not exist; the strategies keep networks off it (as for relu)."),
    record("std-elu-hidden-delta", "ELU hidden layer (α = 1): g'(z) = 1 for z > 0, f(z) + α below", ELU_PAPER,
           "section 3, eq. (15)",
           "the ELU with 0 < α is f(x) = x if x > 0 and α(exp(x) - 1) if x <= 0, and its derivative is 1 if x > 0 and "
           "f(x) + α if x <= 0",
           r"\delta^{L-1} = (\delta^L W^{L\,T}) \odot f'(z^{L-1}),\ f'(z) = 1 \text{ if } z > 0 \text{ else } f(z) + \alpha",
           "dC/dz[L-1]", hidden("elu"), lambda n: hidden_delta(lambda z: elu_prime(z, n.a[n.L - 1]))(n),
           note="The paper writes the derivative below 0 from the output, f(x) + α = e^x: read here from a[L-1]."),
    record("std-softplus-hidden-delta", "Softplus hidden layer: g'(z) = σ(z), the logistic sigmoid", GOODFELLOW,
           "section 3.10, Useful Properties of Common Functions",
           "the softplus function ζ(x) = log(1 + exp(x)) is a smoothed version of max(0, x), and its derivative is "
           "the logistic sigmoid: d/dx ζ(x) = σ(x)",
           r"\delta^{L-1} = (\delta^L W^{L\,T}) \odot \sigma(z^{L-1})",
           "dC/dz[L-1]", hidden("softplus"), hidden_delta(logistic),
           note="Softplus' derivative is σ(z) itself, not the sigmoid's own derivative σ(z)(1 - σ(z))."),
    record("std-l2-hidden-weight-gradient", "L2 regularization: the data term's dW plus reg·W (CS231n's two-layer net)",
           CS231N_NET, "Training a Neural Network, the backward pass: the regularization's contribution",
           "with the regularization loss 0.5 * reg * sum(W * W) added to the data loss, the backward pass adds the "
           "regularization gradient after backpropagating the scores: dW += reg * W",
           r"\frac{\partial C}{\partial W^1} = X^\top \big((\tfrac{1}{N}(p - y)\, W^{2\,T}) \odot 1[h > 0]\big) "
           r"+ \lambda W^1", "dC/dW[1]", CS231N_TWO_LAYER, cs231n_hidden_weight_gradient,
           note="C = the mean cross-entropy + (λ/2) Σ_l ‖W[l]‖² over every weight matrix (λ is CS231n's reg, v.l2); "
                "the factor 0.5 is there so that the gradient is reg·W, not 2·reg·W."),
    record("std-gelu-hidden-delta", "GELU hidden layer (erf form): g'(z) = Φ(z) + z φ(z)", GELU_PAPER,
           "section 2, the GELU x Φ(x)",
           "the GELU nonlinearity is x Φ(x), where Φ is the standard Gaussian cumulative distribution function; its "
           "derivative follows by the product rule",
           r"\delta^{L-1} = (\delta^L W^{L\,T}) \odot (\Phi(z^{L-1}) + z^{L-1}\varphi(z^{L-1}))",
           "dC/dz[L-1]", hidden("gelu"), hidden_delta(gelu_prime),
           note="The paper gives the function; the derivative Φ(z) + z φ(z) is the product rule's, the form every "
                "implementation's backward uses. torch's default gelu (approximate='none') is this erf form."),
    record("std-activation-jacobian", "An elementwise activation's Jacobian: da/dz = diag(g'(z)) per sample", GOODFELLOW,
           "section 6.5.2, Chain Rule of Calculus",
           "for a function applied elementwise the Jacobian is diagonal, with the derivative of the function at each "
           "input on the diagonal",
           r"\frac{\partial a^l}{\partial z^l} = \operatorname{diag}(g'(z^l))", "da[l]/dz[l]", ELEMENTWISE_JACOBIANS,
           lambda n, l: diag(derivative(n, l))),
    record("std-softmax-jacobian", "The softmax's Jacobian: ds/dz = diag(s) - s sᵀ per sample", GOODFELLOW,
           "section 6.2.2.3, Softmax Units",
           "the derivative of softmax(z)_i with respect to z_j is softmax(z)_i (1(i = j) - softmax(z)_j)",
           r"\frac{\partial a^L}{\partial z^L} = \operatorname{diag}(s) - s s^\top,\ s = a^L", "da[L]/dz[L]",
           SOFTMAX_JACOBIANS, lambda n: softmax_jacobian(n.a[n.L])),
    record("std-linear-input-jacobian", "The linear map's Jacobian in its input: dz^l/da^{l-1} = W^l (out, in)",
           GOODFELLOW, "section 6.5.2, Chain Rule of Calculus",
           "for z = W a + b the Jacobian of z with respect to a is W",
           r"\frac{\partial z^l}{\partial a^{l-1}} = W^{l\,T}", "dz[l]/da[l-1]", ELEMENTWISE_JACOBIANS,
           lambda n, l: np.broadcast_to(n.W[l].T, (n.N,) + n.W[l].T.shape),
           note="Row convention: W here is (in, out), its transpose the Jacobian's (out, in), the same for every sample."),
    record("std-linear-weight-jacobian", "The linear map's Jacobian in its weights: ∂z_i/∂W_ki = a^{l-1}_k",
           GOODFELLOW, "section 6.5.4, Back-Propagation Computation in Fully-Connected MLP",
           "z = W a + b is linear in W: the derivative of z_i with respect to the weight from unit k to unit i is the "
           "input a_k, and z_i does not depend on the other units' weights",
           r"\frac{\partial z^l_i}{\partial W^l_{ki}} = a^{l-1}_k", "dz[l]/dW[l]", ELEMENTWISE_JACOBIANS,
           lambda n, l: np.broadcast_to(n.a[l - 1][:, :, None], (n.N,) + n.W[l].shape),
           note="Laid out as W (in, out) per sample: entry [n, k, i] is a^{l-1}_k of sample n, for every unit i."),
    record("std-layer-input-jacobian", "One layer's Jacobian: da^{l+1}/da^l = diag(g'(z^{l+1})) W^{l+1} per sample",
           GOODFELLOW, "section 6.5.2, Chain Rule of Calculus",
           "by the chain rule the Jacobian of a layer is the product of its activation's Jacobian and its linear "
           "map's, diag(g'(z)) W",
           r"\frac{\partial a^{l+1}}{\partial a^l} = \operatorname{diag}(g'(z^{l+1}))\, W^{l+1\,T}",
           "da[l+1]/da[l]", ELEMENTWISE_JACOBIANS, lambda n, l: derivative(n, l + 1)[:, :, None] * n.W[l + 1].T),
    record("std-softmax-layer-input-jacobian", "A softmax layer's Jacobian: da^L/da^{L-1} = (diag(s) - s sᵀ) W^L",
           GOODFELLOW, "section 6.2.2.3, Softmax Units",
           "the Jacobian of the softmax layer is the softmax's Jacobian times the linear map's W",
           r"\frac{\partial a^L}{\partial a^{L-1}} = (\operatorname{diag}(s) - s s^\top)\, W^{L\,T}",
           "da[L]/da[L-1]", SOFTMAX_JACOBIANS, lambda n: softmax_jacobian(n.a[n.L]) @ n.W[n.L].T),
    record("std-layer-weight-jacobian", "One layer's Jacobian in its weights: ∂a_i/∂W_ki = g'(z_i) a^{l-1}_k",
           GOODFELLOW, "section 6.5.4, Back-Propagation Computation in Fully-Connected MLP",
           "an elementwise unit's output a_i = g(z_i) depends on its own weights only, through g'(z_i) times the "
           "input a_k",
           r"\frac{\partial a^l_i}{\partial W^l_{ki}} = g'(z^l_i)\, a^{l-1}_k", "da[l]/dW[l]", ELEMENTWISE_JACOBIANS,
           lambda n, l: n.a[l - 1][:, :, None] * derivative(n, l)[:, None, :],
           note="Laid out as W (in, out) per sample, as dz[l]/dW[l]."),
]
