"""Document 000_66b432f981c9d2a4.txt — a Q&A answer: 'how are the weights of the middle layers updated'.

Convention: row-major batches, z = a @ w + b, so "row": a[l] is (N, n_l), w is (in, out). Its loss is
E := np.mean(np.sum(.5 * (a[2] - Y)**2, axis=1), axis=0), i.e. "mean_half_sum_sq".

Layer numbering differs from ours. The document numbers weighted layers from 0: its w[i], b[i], z[i],
f[i] and its delta d[i] (= dE/dz[i]) are our W[i+1], b[i+1], z[i+1], activation[i+1] and dC/dz[i+1].
Its activations are numbered like ours: its a[i] is our a[i] (a[0] is the input in both). Every record
below writes the document's symbols and says, in a comment, where the index is shifted.

The document's toy network has one hidden layer and an output layer (depth 2); its general recursion
("repeat this for all layers in your network") is checked on depths 1-3. It writes df[l](z) for the
derivative of an activation applied elementwise, so the output activation is one with an elementwise
derivative (sigmoid, tanh, identity); softmax breaks that precondition, and the records that hold say so
with `violates`.

Three things the document gets wrong, each a record of its own (with its corrected form):
- its derivatives drop the 1/N of its own batch mean: dE/da[2] = (a[2] - Y) is the derivative of the
  sum over the batch, not of the mean it defines (the text's formulas are right for N = 1 only);
- the first weight formula is labelled dE/dw[0] (the hidden layer) while its chain rule, dz[1]/dw[1],
  and its value are the output layer's gradient: an index erratum;
- its products do not conform as written in its own row-major forward pass (d @ w where d @ w.T is
  meant, a * b where a.T @ b is meant); the text says so itself ("Usually you have to transpose a[1]",
  "w[1] and a[0] might need to be transposed"), so those formulas get a literal and an intended record.
Where one printed formula carries several of these at once, a record isolating each mistake (computed
with the others corrected) sits next to the literal one, so that each is found and diagnosed on its own.
The general recursion's two steps are fed the correct incoming delta for the same reason.
"""
import numpy as np

from backprop_audit import Expected, Formula, Setting, Source
from backprop_audit.model.operations import derivative

DOC = "000_66b432f981c9d2a4.txt"
# the document's notation against the report's (layers 1..L, W, b, z, a, y, N), for its readers
NOTATION = ("Row convention (z = a @ w + b: a[l] is (N, n_l), w[l] (in, out)). The text numbers weighted layers from "
            "0: its w[i], b[i], z[i] and d[i] (= dE/dz[i]) are this report's W[i+1], b[i+1], z[i+1] and dC/dz[i+1]; its "
            "a[i] is a[i] (a[0] the input). Its loss E is the batch mean of ½‖a[2] - Y‖² (mean_half_sum_sq); the report "
            "writes y for its Y and g'(z) (σ'(z) for a sigmoid) for its df(z).")
ELEMENTWISE_OUTPUTS = ("sigmoid", "tanh", "identity")
# The toy network of the text: input a[0], one hidden layer (its w[0]), one output layer (its w[1]).
TOY = Setting(depth=(2, 2), loss=("mean_half_sum_sq",), output=ELEMENTWISE_OUTPUTS)
# "repeat this for all layers in your network from last to first"
ANY_DEPTH = Setting(depth=(1, 3), loss=("mean_half_sum_sq",), output=ELEMENTWISE_OUTPUTS)
SOFTMAX_OUTPUT = {"output": ("softmax",)}  # no elementwise df for softmax: breaks df[l](z[l])


def df(n, l):
    """df[l-1](z[l-1]) in the document's numbering: the derivative of our layer l's activation at z[l]."""
    return derivative(n.activation[l], n.z[l])


# --- The toy network: document symbols -> our indices (depth 2) -----------------------------------
# a[0], a[1], a[2]  -> n.a[0], n.a[1], n.a[2]   (same numbering)
# z[0], w[0], f[0]  -> n.z[1], n.W[1], layer 1  (document numbers layers from 0)
# z[1], w[1], f[1]  -> n.z[2], n.W[2], layer 2


def output_delta_as_written(n):
    """d[1] := dE/da[2] * da[2]/dz[1] = (a[2] - Y) * df[1](z[1]), with the text's dE/da[2]."""
    return (n.a[2] - n.Y) * df(n, 2)  # the document's z[1] is our z[2]


def output_delta_of_the_mean(n):
    """d[1] with the 1/N of E's batch mean: (a[2] - Y) / N * df[1](z[1])."""
    return (n.a[2] - n.Y) / n.N * df(n, 2)


# --- The general recursion, any depth --------------------------------------------------------------
def delta_step_as_written(n, l):
    """d[i] = d[i+1] @ w[i+1] * df[i](z[i]), one step, from the correct d[i+1].

    In our indices the document's d[i] is delta[l] with l = i + 1, and its w[i+1] is W[l+1]:
    delta[l] = delta[l+1] @ W[l+1] * df(z[l]). The incoming delta[l+1] is the correct one
    (deltas_corrected, checked on its own by 000-delta-recursion-corrected), so the record checks the
    step the sentence states and nothing else; the text's starting delta is checked by the toy records.
    """
    return deltas_corrected(n)[l + 1] @ n.W[l + 1] * df(n, l)  # literal: w[i+1] not transposed


def deltas_corrected(n):
    """The recursion that holds: the output delta carries 1/N and w[i+1] is transposed (w is (in, out))."""
    delta = {n.L: (n.a[n.L] - n.Y) / n.N * df(n, n.L)}
    for l in range(n.L - 1, 0, -1):
        delta[l] = delta[l + 1] @ n.W[l + 1].T * df(n, l)
    return delta


FORMULAS = [
    Formula(
        id="000-loss-mean-half-squared-error",
        title="The loss E: batch mean of half the summed squared error",
        source=Source(DOC, "toy example, 'If, E := ...'", "If, E := np.mean(np.sum(.5 * (a[2] - Y)**2, axis=1), axis=0)"),
        written=r"E := \mathrm{np.mean}(\mathrm{np.sum}(.5 (a[2] - Y)^2, \mathrm{axis}=1), \mathrm{axis}=0)",
        convention="row",
        quantity="C",
        setting=TOY,
        compute=lambda n: np.mean(np.sum(.5 * (n.a[2] - n.Y) ** 2, axis=1), axis=0),
        note="The definition every derivative of the document is taken of; checked so that the loss the "
             "oracles differentiate is the one the text defines.",
    ),
    Formula(
        id="000-output-activation-gradient",
        title="dE/da[2] = (a[2] - Y), without the 1/N of the mean E",
        source=Source(DOC, "toy example, 'then:'", "then: dE/da[2] = (a[2] - Y)"),
        written=r"\frac{dE}{da[2]} = (a[2] - Y)",
        convention="row",
        quantity="dC/da[2]",  # a[2] is numbered alike in the document and here
        setting=TOY,
        compute=lambda n: n.a[2] - n.Y,
        expected="erratum", expected_diagnosis=Expected(kind="factor", fix="x 1/N"),
        note="E is a mean over the batch, so each sample's share of dE/da[2] is (a[2] - Y) / N; as printed "
             "it is the derivative of the sum, right only for N = 1.",
    ),
    Formula(
        id="000-output-activation-gradient-corrected",
        title="dE/da[2] = (a[2] - Y) / N",
        source=Source(DOC, "toy example, 'then:'", "then: dE/da[2] = (a[2] - Y)"),
        written=r"\frac{dE}{da[2]} = \frac{1}{N}(a[2] - Y)",
        convention="row",
        quantity="dC/da[2]",
        setting=TOY,
        compute=lambda n: (n.a[2] - n.Y) / n.N,
        corrects="000-output-activation-gradient",
        note="The derivative of the E the text defines: the batch mean brings 1/N.",
    ),
    Formula(
        id="000-output-activation-derivative",
        title="da[2]/dz[1] = df(z[1]): the step from dE/da[2] to the output delta",
        source=Source(DOC, "toy example, 'For da[2]/dz[1]'",
                      "For da[2]/dz[1], remember that a[l+1] = f[l](z[1]): da[2]/dz[1] = df[l](z[1])"),
        written=r"\frac{da[2]}{dz[1]} = df[l](z[1])",
        convention="row",
        quantity="dC/dz[2]",  # the document's z[1] is our z[2]
        setting=TOY,
        compute=lambda n: (n.a[2] - n.Y) / n.N * df(n, 2),
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="Checked here as the chain step it is used for (as a Jacobian of its own: "
             "000-output-activation-jacobian-literal): dE/dz[1] = dE/da[2] * da[2]/dz[1], with the corrected dE/da[2] (1/N), i.e. the output "
             "delta d[1]. The text's 'df[l]' means df[1], the output layer's f (it just wrote a[l+1] = f[l]); "
             "the elementwise product is right only for an activation that acts elementwise, so softmax "
             "breaks it.",
    ),
    Formula(
        id="000-output-weight-gradient-literal",
        title="'dE/dw[0]' = (a[2] - Y) * df(z[1]) @ a[1], as printed (label, order and 1/N)",
        source=Source(DOC, "toy example, 'Finally:'", "dE/dw[0] = (a[2] - Y) * df[l](z[1]) @ a[1]"),
        written=r"\frac{dE}{dw[0]} = (a[2] - Y) * df[l](z[1]) \mathbin{@} a[1]",
        convention="row",
        # As labelled: the document's w[0] is our W[1] (the hidden layer). Its chain rule, dz[1]/dw[1],
        # and its value are the output layer's gradient, our W[2]: the label is an index erratum.
        quantity="dC/dW[1]",
        setting=TOY,
        compute=lambda n: (n.a[2] - n.Y) * df(n, 2) @ n.a[1],  # Python: ((a - Y) * df) @ a[1], as read
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands; read as dC/dW[2]; x 1/N"),
        note="Literal reading: label w[0] and the product (N, n2) @ (N, n1) exactly as printed; the text "
             "itself warns 'Usually you have to transpose a[1] and/or multiply a[1].T with the rest' — "
             "see 000-output-weight-gradient-intended for that reading. Three mistakes at once (label, operand "
             "order, 1/N), so no single transform fixes it; -label, -intended and 000-output-activation-gradient "
             "isolate them one by one.",
    ),
    Formula(
        id="000-output-weight-gradient-corrected",
        title="dE/dw[1] = a[1].T @ ((a[2] - Y) / N * df(z[1]))",
        source=Source(DOC, "toy example, 'Finally:'", "dE/dw[0] = (a[2] - Y) * df[l](z[1]) @ a[1]"),
        written=r"\frac{dE}{dw[1]} = a[1]^\top \mathbin{@} \left(\tfrac{1}{N}(a[2] - Y) * df[1](z[1])\right)",
        convention="row",
        quantity="dC/dW[2]",  # the document's w[1] is our W[2]
        setting=TOY,
        compute=lambda n: n.a[1].T @ output_delta_of_the_mean(n),
        corrects="000-output-weight-gradient-literal",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="The label fixed to w[1] (the output layer, as its own chain rule dz[1]/dw[1] says), a[1].T "
             "multiplied on the left, and the 1/N of the mean. This is also the checkable reading of "
             "'dz[1]/dw[1] = a[1]': in z = a @ w, a[1] enters the weight gradient as a[1].T on the left.",
    ),
    Formula(
        id="000-output-weight-gradient-intended",
        title="dE/dw[1] = a[1].T @ ((a[2] - Y) * df(z[1])): the transpose the text asks for, no 1/N",
        source=Source(DOC, "toy example, after 'Finally:'",
                      "Usually you have to transpose a[1] and/or multiply a[1].T with the rest."),
        written=r"\frac{dE}{dw[1]} = a[1]^\top \mathbin{@} \left((a[2] - Y) * df[1](z[1])\right)",
        convention="row",
        quantity="dC/dW[2]",  # the chain rule's dz[1]/dw[1]: the document's w[1] is our W[2]
        setting=TOY,
        compute=lambda n: n.a[1].T @ output_delta_as_written(n),
        expected="erratum", expected_diagnosis=Expected(kind="factor", fix="x 1/N"),
        note="Intended reading of the printed formula: 'multiply a[1].T with the rest', and the label read as "
             "the output layer its chain rule differentiates. What remains wrong is the missing 1/N of the "
             "mean E (inherited from dE/da[2]).",
    ),
    Formula(
        id="000-output-weight-gradient-intended-mean",
        title="dE/dw[1] = (1/N) a[1].T @ ((a[2] - Y) * df(z[1]))",
        source=Source(DOC, "toy example, after 'Finally:'",
                      "Usually you have to transpose a[1] and/or multiply a[1].T with the rest."),
        written=r"\frac{dE}{dw[1]} = \frac{1}{N} a[1]^\top \mathbin{@} \left((a[2] - Y) * df[1](z[1])\right)",
        convention="row",
        quantity="dC/dW[2]",
        setting=TOY,
        compute=lambda n: n.a[1].T @ output_delta_as_written(n) / n.N,
        corrects="000-output-weight-gradient-intended",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="The intended reading with the one change it needs: the factor 1/N of the batch mean.",
    ),
    Formula(
        id="000-output-weight-gradient-label",
        title="The output layer's gradient labelled dE/dw[0]: the index erratum alone",
        source=Source(DOC, "toy example, 'Now, to update your weights'",
                      "dE/dw[0] := dE/da[2] * da[2]/dz[1] * dz[1]/dw[1]"),
        written=r"\frac{dE}{dw[0]} := \frac{dE}{da[2]} \frac{da[2]}{dz[1]} \frac{dz[1]}{dw[1]}",
        convention="row",
        quantity="dC/dW[1]",  # as labelled: the document's w[0] is our W[1], the hidden layer
        setting=TOY,
        # The chain the text writes, with every factor right (1/N, a[1].T on the left): only the label is on trial.
        compute=lambda n: n.a[1].T @ output_delta_of_the_mean(n),
        expected="erratum", expected_diagnosis=Expected(kind="index", fix="layer l+1"),
        note="The chain rule ends in dz[1]/dw[1] and the text calls it 'the weights on the output layer' first, "
             "yet labels it dE/dw[0] (the hidden layer, which it derives next under the same label). Computed "
             "with every factor corrected so that the index is the only mistake left.",
    ),
    Formula(
        id="000-output-weight-gradient-relabelled",
        title="dE/dw[1] := dE/da[2] * da[2]/dz[1] * dz[1]/dw[1]",
        source=Source(DOC, "toy example, 'Now, to update your weights'",
                      "dE/dw[0] := dE/da[2] * da[2]/dz[1] * dz[1]/dw[1]"),
        written=r"\frac{dE}{dw[1]} := \frac{dE}{da[2]} \frac{da[2]}{dz[1]} \frac{dz[1]}{dw[1]}",
        convention="row",
        quantity="dC/dW[2]",  # the document's w[1] is our W[2]
        setting=TOY,
        compute=lambda n: n.a[1].T @ output_delta_of_the_mean(n),
        corrects="000-output-weight-gradient-label",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="The same chain with the label the text's own chain rule gives it.",
    ),
    Formula(
        id="000-hidden-activation-gradient-literal",
        title="dz[1]/da[1] = w[1]: the step dE/da[1] = d[1] @ w[1], as printed",
        source=Source(DOC, "toy example, 'for the hidden layer, things just go on'", "dz[1]/da[1] = w[1]"),
        written=r"\frac{dz[1]}{da[1]} = w[1]",
        convention="row",
        quantity="dC/da[1]",  # a[1] is numbered alike in the document and here
        setting=TOY,
        compute=lambda n: output_delta_of_the_mean(n) @ n.W[2],  # the document's w[1] is our W[2]
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="transpose W[L]"),
        note="This is the chain step the Jacobian is used for (the Jacobian as written is checked on its own by "
             "000-hidden-input-jacobian-literal): dE/da[1] = d[1] @ dz[1]/da[1], in the order the hidden-layer formula multiplies it (d[1] @ w[1]). "
             "d[1] is taken with the 1/N of the mean so that only the local derivative is on trial. In "
             "z = a @ w + b, w[1] is (n1, n2) and d[1] is (N, n2): the product conforms only for equally wide "
             "layers, and w[1].T is meant — the text: 'w[1] and a[0] might need to be transposed'.",
    ),
    Formula(
        id="000-hidden-activation-gradient-corrected",
        title="dE/da[1] = d[1] @ w[1].T",
        source=Source(DOC, "toy example, 'for the hidden layer, things just go on'", "dz[1]/da[1] = w[1]"),
        written=r"\frac{dE}{da[1]} = d[1] \mathbin{@} w[1]^\top, \quad d[1] = \tfrac{1}{N}(a[2] - Y) * df[1](z[1])",
        convention="row",
        quantity="dC/da[1]",
        setting=TOY,
        compute=lambda n: output_delta_of_the_mean(n) @ n.W[2].T,
        corrects="000-hidden-activation-gradient-literal",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="w[1] transposed: z[1] = a[1] @ w[1] + b[1] with w[1] of shape (in, out).",
    ),
    Formula(
        id="000-hidden-weight-gradient-literal",
        title="dE/dw[0] = d[1] @ w[1] * df[0](z[0]) * a[0], as printed",
        source=Source(DOC, "toy example, 'for the hidden layer, things just go on'",
                      "dE/dw[0] = d[1] @ w[1] * df[0](z[0]) * a[0]"),
        written=r"\frac{dE}{dw[0]} = d[1] \mathbin{@} w[1] * df[0](z[0]) * a[0]",
        convention="row",
        quantity="dC/dW[1]",  # the document's w[0] is our W[1]
        setting=TOY,
        # d[1] = dE/da[2] * da[2]/dz[1] as the text defines it; w[1] -> W[2], z[0] -> z[1], a[0] -> a[0].
        compute=lambda n: output_delta_as_written(n) @ n.W[2] * df(n, 1) * n.a[0],
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="@ for ⊙; transpose W[L]; x 1/N"),
        note="Literal reading: (N, n2) @ (n1, n2), then elementwise products with (N, n1) and (N, n0). The text "
             "adds 'w[1] and a[0] might need to be transposed and such' — see "
             "000-hidden-weight-gradient-intended. d[1] is the text's own output delta, (a[2] - Y) * df(z[1]).",
    ),
    Formula(
        id="000-hidden-weight-gradient-corrected",
        title="dE/dw[0] = a[0].T @ (d[1] @ w[1].T * df[0](z[0])), with d[1] carrying 1/N",
        source=Source(DOC, "toy example, 'for the hidden layer, things just go on'",
                      "dE/dw[0] = d[1] @ w[1] * df[0](z[0]) * a[0]"),
        written=r"\frac{dE}{dw[0]} = a[0]^\top \mathbin{@} \left(d[1] \mathbin{@} w[1]^\top * df[0](z[0])\right),"
                r"\quad d[1] = \tfrac{1}{N}(a[2] - Y) * df[1](z[1])",
        convention="row",
        quantity="dC/dW[1]",
        setting=TOY,
        compute=lambda n: n.a[0].T @ (output_delta_of_the_mean(n) @ n.W[2].T * df(n, 1)),
        corrects="000-hidden-weight-gradient-literal",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="w[1] transposed (it is (in, out) in z = a @ w), a[0].T multiplied on the left instead of an "
             "elementwise product, and the 1/N of the mean in d[1]. Also the checkable reading of the local "
             "derivatives da[1]/dz[0] = df[0](z[0]) and dz[0]/dw[0] = a[0] (dz[1]/da[1] = w[1] has records of "
             "its own).",
    ),
    Formula(
        id="000-hidden-weight-gradient-intended",
        title="dE/dw[0] = a[0].T @ (d[1] @ w[1].T * df[0](z[0])): transposed as the text allows, no 1/N",
        source=Source(DOC, "toy example, after the hidden-layer formula",
                      "Yet again w[1] and a[0] might need to be transposed and such depending how you design your "
                      "network, but the calculation is there."),
        written=r"\frac{dE}{dw[0]} = a[0]^\top \mathbin{@} \left(d[1] \mathbin{@} w[1]^\top * df[0](z[0])\right)",
        convention="row",
        quantity="dC/dW[1]",
        setting=TOY,
        compute=lambda n: n.a[0].T @ (output_delta_as_written(n) @ n.W[2].T * df(n, 1)),
        expected="erratum", expected_diagnosis=Expected(kind="factor", fix="x 1/N"),
        note="Intended reading: w[1] and a[0] transposed 'and such' (the last * becomes a[0].T @ ...), with the "
             "text's d[1] = (a[2] - Y) * df(z[1]). What remains wrong is the 1/N of the mean E.",
    ),
    Formula(
        id="000-hidden-weight-gradient-intended-mean",
        title="dE/dw[0] = (1/N) a[0].T @ (d[1] @ w[1].T * df[0](z[0]))",
        source=Source(DOC, "toy example, after the hidden-layer formula",
                      "Yet again w[1] and a[0] might need to be transposed and such depending how you design your "
                      "network, but the calculation is there."),
        written=r"\frac{dE}{dw[0]} = \frac{1}{N} a[0]^\top \mathbin{@} \left(d[1] \mathbin{@} w[1]^\top * df[0](z[0])\right)",
        convention="row",
        quantity="dC/dW[1]",
        setting=TOY,
        compute=lambda n: n.a[0].T @ (output_delta_as_written(n) @ n.W[2].T * df(n, 1)) / n.N,
        corrects="000-hidden-weight-gradient-intended",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="The intended reading with the one change it needs: the factor 1/N of the batch mean.",
    ),
    Formula(
        id="000-delta-recursion-literal",
        title="d[i] = d[i+1] @ w[i+1] * df[i](z[i]), as printed",
        source=Source(DOC, "'Long story short'", "d[i] = d[i+1] @ w[i+1] * df[i](z[i])"),
        written=r"d[i] = d[i+1] \mathbin{@} w[i+1] * df[i](z[i])",
        convention="row",
        # The step lands on the document's d[i] for the layer below the output: our dC/dz[L-1].
        quantity="dC/dz[L-1]",
        setting=ANY_DEPTH.restricted(depth=(2, 3)),
        compute=lambda n: delta_step_as_written(n, n.L - 1),
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="transpose W[L]"),
        note="Literal reading of the step, fed the correct d[i+1] so that only the step is on trial (the text's "
             "starting delta misses 1/N, see 000-output-activation-gradient). In the row-major z = a @ w + b "
             "of the text, w[i+1] is (in, out): d[i+1] @ w[i+1] conforms only when the two layers are equally "
             "wide, and then multiplies by the wrong orientation; w[i+1].T is meant ('might need to be "
             "transposed', as the text says of the toy formula).",
    ),
    Formula(
        id="000-delta-recursion-corrected",
        title="d[i] = d[i+1] @ w[i+1].T * df[i](z[i]), from d = (a - Y) / N * df(z)",
        source=Source(DOC, "'Long story short'", "d[i] = d[i+1] @ w[i+1] * df[i](z[i])"),
        written=r"d[i] = d[i+1] \mathbin{@} w[i+1]^\top * df[i](z[i]), \quad d[\mathrm{last}] = \tfrac{1}{N}(a - Y) * df(z)",
        convention="row",
        quantity="dC/dz[l]",  # every layer: the document's d[i] is our dC/dz[i+1]
        setting=ANY_DEPTH,
        compute=lambda n, l: deltas_corrected(n)[l],
        corrects="000-delta-recursion-literal",
        violates=ANY_DEPTH.restricted(**SOFTMAX_OUTPUT),
        note="w[i+1] transposed (it is (in, out)); the recursion started from the output delta with the 1/N of "
             "the mean, and checked at every layer.",
    ),
    Formula(
        id="000-weight-gradient-recursion-literal",
        title="dw[i] = d[i] @ a[i], as printed",
        source=Source(DOC, "'Long story short'", "dw[i] = d[i] @ a[i]"),
        written=r"dw[i] = d[i] \mathbin{@} a[i]",
        convention="row",
        # dw[i] is our dC/dW[i+1]; d[i] is our delta[i+1]; a[i] is our a[i]. With l = i + 1: delta[l] @ a[l-1].
        quantity="dC/dW[l]",
        setting=ANY_DEPTH,
        compute=lambda n, l: deltas_corrected(n)[l] @ n.a[l - 1],
        expected="erratum", expected_diagnosis=Expected(kind="repair", fix="swap the operands"),
        note="Literal reading, fed the correct deltas so that only this product is on trial: (N, n_l) @ "
             "(N, n_{l-1}) conforms only when n_l = N, and is then the wrong product; a[i].T @ d[i] is meant.",
    ),
    Formula(
        id="000-weight-gradient-recursion-corrected",
        title="dw[i] = a[i].T @ d[i], with the corrected deltas",
        source=Source(DOC, "'Long story short'", "dw[i] = d[i] @ a[i]"),
        written=r"dw[i] = a[i]^\top \mathbin{@} d[i]",
        convention="row",
        quantity="dC/dW[l]",
        setting=ANY_DEPTH,
        compute=lambda n, l: n.a[l - 1].T @ deltas_corrected(n)[l],
        corrects="000-weight-gradient-recursion-literal",
        violates=ANY_DEPTH.restricted(**SOFTMAX_OUTPUT),
        note="a[i].T on the left (z = a @ w), deltas from 000-delta-recursion-corrected.",
    ),
    # --- The local Jacobians as the text writes them (model/quantity.py: per sample (out, in), stacked over
    # the batch; with respect to w, w's own (in, out) layout per sample). The chain steps they are used in
    # are checked above; here each is checked as a Jacobian of its own.
    Formula(
        id="000-output-activation-jacobian-literal",
        title="da[2]/dz[1] = df[l](z[1]) as a Jacobian: the vector of its diagonal",
        source=Source(DOC, "toy example, 'For da[2]/dz[1]'",
                      "For da[2]/dz[1], remember that a[l+1] = f[l](z[1]): da[2]/dz[1] = df[l](z[1])"),
        written=r"\frac{da[2]}{dz[1]} = df[l](z[1])",
        convention="row",
        quantity="da[L]/dz[L]",  # the document's a[2], z[1] are our a[2], z[2] (its layers are numbered from 0)
        setting=TOY,
        compute=lambda n: df(n, 2),  # (N, n2): f'(z) of each unit of each sample
        expected="erratum", expected_diagnosis=Expected(kind="jacobian-layout", fix="diag(v) per sample"),
        note="As written da[2]/dz[1] is the vector df(z[1]), one derivative per unit; the Jacobian of the elementwise "
             "f is the diagonal matrix with that vector on its diagonal. The text only ever multiplies it elementwise "
             "('*'), which is what a diagonal matrix does, so its chain steps hold (000-output-activation-derivative); "
             "as a Jacobian the vector is its diagonal only. 'df[l]' is df[1] (it just wrote a[l+1] = f[l]). "
             "Corrected: 000-output-activation-jacobian-corrected.",
    ),
    Formula(
        id="000-output-activation-jacobian-corrected",
        title="da[2]/dz[1] = diag(df[1](z[1])) per sample",
        source=Source(DOC, "toy example, 'For da[2]/dz[1]'",
                      "For da[2]/dz[1], remember that a[l+1] = f[l](z[1]): da[2]/dz[1] = df[l](z[1])"),
        written=r"\frac{da[2]}{dz[1]} = \operatorname{diag}(df[1](z[1]))",
        convention="row",
        quantity="da[L]/dz[L]",
        setting=TOY,
        compute=lambda n: df(n, 2)[:, :, None] * np.eye(n.sizes[2], dtype=n.z[2].dtype),
        corrects="000-output-activation-jacobian-literal",
        violates=TOY.restricted(**SOFTMAX_OUTPUT),
        note="The elementwise f's Jacobian is diagonal; a softmax output has off-diagonal terms and breaks it.",
    ),
    Formula(
        id="000-output-weight-jacobian-literal",
        title="dz[1]/dw[1] = a[1] as a Jacobian: one row for every unit",
        source=Source(DOC, "toy example, 'Finally:'", "Finally: dz[1]/dw[1] = a[1]"),
        written=r"\frac{dz[1]}{dw[1]} = a[1]",
        convention="row",
        quantity="dz[L]/dW[L]",  # the document's z[1], w[1] are our z[2], W[2]; its a[1] is ours
        setting=TOY,
        compute=lambda n: n.a[1],  # (N, n1)
        expected="erratum", expected_diagnosis=Expected(kind="jacobian-layout", fix="repeat over the output units"),
        note="∂z_i/∂w_ki = a_k for every output unit i (and 0 for another unit's weights): the text gives the part that "
             "is the same for every unit, a[1] (N, n1), where the Jacobian in w's (in, out) layout is (N, n1, n2). "
             "Corrected: 000-output-weight-jacobian-corrected.",
    ),
    Formula(
        id="000-output-weight-jacobian-corrected",
        title="dz[1]/dw[1]: a[1] for every output unit, in w[1]'s (in, out) layout",
        source=Source(DOC, "toy example, 'Finally:'", "Finally: dz[1]/dw[1] = a[1]"),
        written=r"\frac{\partial z[1]_i}{\partial w[1]_{ki}} = a[1]_k",
        convention="row",
        quantity="dz[L]/dW[L]",
        setting=TOY,
        compute=lambda n: np.repeat(n.a[1][:, :, None], n.sizes[2], axis=2),
        corrects="000-output-weight-jacobian-literal",
    ),
    Formula(
        id="000-hidden-input-jacobian-literal",
        title="dz[1]/da[1] = w[1] as a Jacobian: w's (in, out), its transpose",
        source=Source(DOC, "the hidden layer, 'Where dE/da[2] * da[2]/dz[1] is common'", "dz[1]/da[1] = w[1]"),
        written=r"\frac{dz[1]}{da[1]} = w[1]",
        convention="row",
        quantity="dz[L]/da[L-1]",  # the document's z[1], w[1] are our z[2], W[2]; its a[1] is ours
        setting=TOY,
        # the same matrix for every sample: stacked over the batch, as the quantity holds it
        compute=lambda n: np.broadcast_to(n.W[2], (n.N,) + n.W[2].shape),
        expected="erratum", expected_diagnosis=Expected(kind="transpose", fix="transpose"),
        note="With z = a @ w + b (w (in, out)), ∂z_i/∂a_k = w_ki: the Jacobian (out, in) is wᵀ. The text says so itself: "
             "'w[1] and a[0] might need to be transposed'. Corrected: 000-hidden-input-jacobian-corrected.",
    ),
    Formula(
        id="000-hidden-input-jacobian-corrected",
        title="dz[1]/da[1] = w[1]ᵀ per sample",
        source=Source(DOC, "the hidden layer, 'Where dE/da[2] * da[2]/dz[1] is common'", "dz[1]/da[1] = w[1]"),
        written=r"\frac{dz[1]}{da[1]} = w[1]^T",
        convention="row",
        quantity="dz[L]/da[L-1]",
        setting=TOY,
        compute=lambda n: np.broadcast_to(n.W[2].T, (n.N,) + n.W[2].T.shape),
        corrects="000-hidden-input-jacobian-literal",
    ),
]
