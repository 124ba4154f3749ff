"""Oracle 2: every quantity of a network from jax.grad, compiled once per shape bucket.

The forward pass is written here again in jax.numpy; each activation and loss is its jax form in the
operation table (backprop_audit.model.operations), written in jax (nothing of manual/ or of the NumPy
forms is used). The integer codes below are positions in the table.
dC/dz[l] and dC/da[l] are the gradients of zero probes added to z[l] and a[l].

Compiles: XLA compiles once per input shape, and Hypothesis draws a new shape almost every example,
which would cost 80-300 ms each. So every network is padded into a bucket: each width to its width
bucket, the batch to a bucket size, with masks that make the padding inert:
- padded weights, biases, inputs and targets are zero, and padded units are masked out of every layer's
  output (a = mask * act(z)), so they feed nothing forward;
- softmax sees padded logits as -inf-like (masked) so they get probability 0;
- the loss is summed over real units and real rows only, and divided by the true batch size N.
Activation and loss names are traced integer codes, not part of the compile key, so one compiled
function serves every activation and loss. The compile key is (depth, the width bucket of each layer,
batch bucket, dtype). A small network (all widths <= 16) shallower than DEPTH_BUCKET gets identity
layers (W = I, b = 0, identity activation: a @ I + 0 = a exactly) in front of its first layer, so every
small network with batch <= 32 shares one key per dtype (an XLA compile costs 1-2 s here),
and a wide layer is padded to its own bucket only (a [256, 4096, 10] network is not padded to 4096
everywhere, which would multiply its work by hundreds).
`plain_quantities` is the same computation without padding, kept for the test that the bucketed
oracle equals the plain one.
"""
from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from backprop_audit.references.exported import Exported
from backprop_audit.references.frameworks import start

from backprop_audit.model import operations  # noqa: E402
from backprop_audit.model.operations import ACTIVATION_ROWS, LOSS_ROWS, LossTerms  # noqa: E402
from backprop_audit.model.normalization import EPS as BN_EPS  # noqa: E402  (ε of √(var + ε))
from backprop_audit.model.regularizers import L2  # noqa: E402

IDENTITY = operations.ACTIVATIONS.index("identity")
WIDTH_BUCKETS = (16, 64, 256, 1024, 4096)
BATCH_BUCKETS = (32, 256, 1024)
DEPTH_BUCKET = 4  # small networks shallower than this get exact identity layers in front: one compile per dtype
# The local Jacobians' buckets start smaller: a layer's call computes per-sample (out, out, in) Jacobians, so its
# cost grows with the padding (0.56 ms a call at 16 units and 32 rows, 0.12 ms at 8 and 8); every Jacobian network
# the catalog and the mutants draw (widths 1-5, batch 1-4) is in the smallest, one executable per dtype as before.
JACOBIAN_WIDTH_BUCKETS = (8,) + WIDTH_BUCKETS
JACOBIAN_BATCH_BUCKETS = (8,) + BATCH_BUCKETS



def compile_count() -> int:
    """How many oracle executables this process built (one per bucket: traced, or read from an export)."""
    return _compiled.built + _stacked.built + _jacobians_compiled.built


def _bucket(n: int, buckets: tuple[int, ...]) -> int:
    for size in buckets:
        if n <= size:
            return size
    return 1 << (n - 1).bit_length()


def _activate(code, z, unit_mask):
    """g(z) of the activation with this code (a position in the operation table), its jax form. A coupled
    activation (softmax) sees padded units as a very negative logit, so they get probability exactly 0."""
    big_negative = jnp.asarray(jnp.finfo(z.dtype).min / 4, z.dtype)
    masked = lambda: jnp.where(unit_mask, z, big_negative)
    return _choose(code, [lambda row=row: row.jax_form(jax, jnp, masked() if row.coupled else z)
                          for row in ACTIVATION_ROWS])


def _choose(code, choices: list):
    """choices[code](): a traced code selects among all of them (one compiled graph serves every
    network); a plain Python int (the plain oracle, compiled per network) computes its own choice only."""
    if isinstance(code, int):
        return choices[code]()
    # lax.switch runs the chosen branch only (under vmap, a padded stack's per-network codes, it becomes a
    # select of every branch): with 9 activations and 12 losses, a single network's oracle took 0.48 ms
    # computing them all, 0.36 ms with the switch (same process, alternated)
    return jax.lax.switch(code, choices)


def _loss(code, z, a, a_probe, y, mask, n_true):
    """C of the loss with this code (a position in the operation table), its jax form; mask marks real
    (row, unit) cells: sums run over them only, means divide by the true N, and padded logits are very
    negative so a softmax sees the real units only.

    For the cross-entropies the a-probe enters as log(s + probe) ~ log s + probe / s, its exact first
    order term; 1/s is held constant (stop_gradient) so no 0 * inf from a saturated s leaks into dC/dz,
    and s is floored at the dtype's tiny so an underflowed probability gives a huge, not infinite, slope.
    Σ (a - y)² is traced once for the four squared losses (LossTerms.squares).
    """
    big_negative = jnp.asarray(jnp.finfo(z.dtype).min / 4, z.dtype)
    # fresh terms per branch: each branch of lax.switch is traced on its own, and a LossTerms caches what it
    # computes (Σ (a - y)², shared by the squared losses when every branch is computed, a plain int code)
    terms = lambda: LossTerms(jnp.where(mask, z, big_negative), a, a_probe, y, n_true,
                              lambda x: jnp.sum(jnp.where(mask, x, 0)))
    return _choose(code, [lambda row=row: row.jax_form(jax, jnp, terms()) for row in LOSS_ROWS])


def _batch_norm(z, gamma, beta, row_mask, n_true):
    """γ ⊙ (z - μ)/√(var + ε) + β with the batch statistics of the real rows only (a padded row is in
    neither μ nor var), biased variance: jnp's own form, written from the definition."""
    rows = row_mask[:, None]
    mu = jnp.sum(jnp.where(rows, z, 0), axis=0) / n_true
    centred = jnp.where(rows, z - mu, 0)
    var = jnp.sum(centred * centred, axis=0) / n_true
    return gamma * ((z - mu) / jnp.sqrt(var + BN_EPS)) + beta


def _cost(params, z_probes, a_probes, norms, X, Y, act_codes, loss_code, unit_masks, row_mask, n_true, l2s,
          layered=None):
    """C of one (padded) network; l2s: per layer the λ of its (λ/2)‖W‖² term, traced data (0 for an
    identity layer in front and for a network without the term: where() then adds exactly 0).

    norms: per layer (γ, β, u-probe), the batch normalization's parameters and the probe whose gradient is
    dC/du; layered: (per layer a 0/1 flag "batch-normalized", the dropout mask, p), traced data, so
    one compiled oracle serves networks with and without them: with the flag 0, u = z + 0 exactly, and the
    mask 1 with p = 0 multiplies g(u) by 1 exactly. None for both (the padded stack of many networks, which
    holds no network with these layers: batching/padded.fits) traces no batch-norm or dropout code at all."""
    a = X
    z = None
    per_layer = zip(norms, *layered) if norms is not None else [None] * len(params)
    for (W, b), z_probe, a_probe, code, unit_mask, special in zip(params, z_probes, a_probes, act_codes, unit_masks,
                                                                   per_layer):
        z = a @ W.T + b + z_probe
        u = z
        if special is not None:
            (gamma, beta, u_probe), on, mask, p = special
            u = jnp.where(on > 0, _batch_norm(z, gamma, beta, row_mask, n_true), z) + u_probe
        g = _activate(code, u, unit_mask[None, :])
        if special is not None:  # inverted dropout: g(u) ⊙ mask / (1 - p)
            g = g * (mask * (1 / (1 - p)))
        a = jnp.where(row_mask[:, None] & unit_mask[None, :], g, 0) + a_probe
    out_mask = row_mask[:, None] & unit_masks[-1][None, :]
    C = _loss(loss_code, z, a, a_probes[-1], Y, out_mask, n_true)
    return C + sum(jnp.where(lam == 0, 0, L2.jax_form(jax, jnp, W, lam)) for (W, _), lam in zip(params, l2s))


def _gradients_and_step(params, z_probes, a_probes, norms, *rest):
    """C, its gradients, and one gradient-descent step of the parameters, (W - η·dC/dW, b - η·dC/db) per
    layer, in jax; rest ends with η (traced: 0 for a network without a step, whose step is not read) and
    `layered` (see _cost). grads: (params, z-probes, a-probes, norms)."""
    *rest, eta, layered = rest
    value, grads = jax.value_and_grad(_cost, argnums=(0, 1, 2, 3))(params, z_probes, a_probes, norms, *rest, layered)
    stepped = [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in zip(params, grads[0])]
    return value, grads, stepped


def _all_gradients(params, z_probes, a_probes, norms, *rest):
    return _gradients_and_step(params, z_probes, a_probes, norms, *rest)


def _table_digest() -> bytes:
    """What the traced oracle reads from the operation table, as it is in this process now: each row's name
    and the code of its jax form. The source digest covers the table as written; this covers a table
    replaced at run time (tests/claims/broken_jax_oracle.py swaps in a mutant jax form), which must be
    traced, never read from an export of the right one."""
    import marshal

    return b"".join(row.name.encode() + marshal.dumps(_located_nowhere(row.jax_form.__code__))
                    for row in ACTIVATION_ROWS + LOSS_ROWS)


def _located_nowhere(code):
    """`code` (and the code objects nested in it) without the file and first line it was read from: a code
    object's marshal holds both, so each clone of the repository (another folder) named other exports and
    traced and compiled them all again (measured 2026-12-07: a new clone's first test run 65-67 s, its second
    52-57 s, the same JAX cache). What the code does is in the rest; its text is the sources' digest."""
    import types

    consts = tuple(_located_nowhere(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename="", co_firstlineno=1, co_consts=consts)


# compiled once per bucket and process, traced once per bucket and machine (references/exported.py)
_compiled = Exported(_all_gradients, "_all_gradients", depends=_table_digest, packed=True)


def _pad(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if x.shape == shape:
        return x
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, s) for s in x.shape)] = x
    return out


def _run(net, padded: tuple[int, ...] | None, batch: int | None, fn, prepend: int = 0):
    """Call fn on the network with width l padded to padded[l] and the batch to `batch` (None: no padding),
    after `prepend` exact identity layers (W = I, b = 0, identity activation) in front of layer 1."""
    dtype = net.dtype
    widths = net.widths
    padded = padded or widths
    rows = batch or net.batch
    params, z_probes, a_probes, unit_masks = [], [], [], []
    for _ in range(prepend):  # a @ I + 0 is a, exactly: these layers pass the input on unchanged
        params.append((np.eye(padded[0], dtype=dtype), np.zeros(padded[0], dtype)))
        z_probes.append(np.zeros((rows, padded[0]), dtype))
        a_probes.append(np.zeros((rows, padded[0]), dtype))
        unit_masks.append(np.arange(padded[0]) < widths[0])
    for l, layer in enumerate(net.layers, start=1):
        n_out, n_in = padded[l], padded[l - 1]
        params.append((_pad(layer.W, (n_out, n_in)), _pad(layer.b, (n_out,))))
        z_probes.append(np.zeros((rows, n_out), dtype))
        a_probes.append(np.zeros((rows, n_out), dtype))
        unit_masks.append(np.arange(n_out) < widths[l])
    row_mask = np.arange(rows) < net.batch
    n_in0, n_outL = padded[0], padded[-1]
    act_codes = [IDENTITY] * prepend + [operations.ACTIVATIONS.index(layer.activation) for layer in net.layers]
    loss_code = operations.LOSSES.index(net.loss)
    if fn is not _plain:  # traced codes: one compile serves every activation and loss
        act_codes, loss_code = [np.int32(code) for code in act_codes], np.int32(loss_code)
    l2s = [np.asarray(0.0 if k < prepend else net.l2, dtype) for k in range(len(params))]  # traced data
    norms, layered = _special_layers(net, padded, rows, prepend)
    call = fn if fn is _plain else functools.partial(fn, (padded, rows, str(dtype)))  # the bucket: its key
    value, (g_params, g_z, g_a, g_norms), stepped = call(
        params, z_probes, a_probes, norms, _pad(net.X, (rows, n_in0)), _pad(net.Y, (rows, n_outL)),
        tuple(act_codes), loss_code, unit_masks, row_mask, np.asarray(net.batch, dtype), l2s,
        np.asarray(net.eta or 0.0, dtype), layered,
    )
    out = {"C": np.asarray(value)}
    N = net.batch
    for l, ((gW, gb), gz, ga, (W2, b2)) in enumerate(zip(g_params[prepend:], g_z[prepend:], g_a[prepend:],
                                                         stepped[prepend:]), start=1):
        n_out, n_in = widths[l], widths[l - 1]
        out[f"dC/dW[{l}]"] = np.asarray(gW)[:n_out, :n_in]
        out[f"dC/db[{l}]"] = np.asarray(gb)[:n_out]
        out[f"dC/dz[{l}]"] = np.asarray(gz)[:N, :n_out]
        out[f"dC/da[{l}]"] = np.asarray(ga)[:N, :n_out]
        if net.eta is not None:
            out[f"W'[{l}]"] = np.asarray(W2)[:n_out, :n_in]
            out[f"b'[{l}]"] = np.asarray(b2)[:n_out]
        if net.batchnorm and l < net.depth:
            ggamma, gbeta, gu = g_norms[prepend + l - 1]
            out[f"dC/dgamma[{l}]"] = np.asarray(ggamma)[:n_out]
            out[f"dC/dbeta[{l}]"] = np.asarray(gbeta)[:n_out]
            out[f"dC/du[{l}]"] = np.asarray(gu)[:N, :n_out]
    return out


def _special_layers(net, padded: tuple[int, ...], rows: int, prepend: int):
    """(norms, layered) of _cost for `net`, padded like its layers: γ, β (0 where not normalized), zero
    u-probes, the flags, the masks (1 where there is no dropout) and p (0 without dropout). Every network
    passes them, so one compiled oracle serves networks with and without batch norm and dropout. (The
    output layer has neither: its flag 0, its mask 1, its p 0.)"""
    dtype = net.dtype
    norms, flags, masks, ps = [], [], [], []
    for k in range(len(padded) - 1):
        l, n_out = k - prepend + 1, padded[k + 1]  # the network's layer (<= 0: an identity layer in front)
        layer = net.layers[l - 1] if l >= 1 else None
        normalized = layer is not None and layer.gamma is not None
        gamma = _pad(layer.gamma, (n_out,)) if normalized else np.zeros(n_out, dtype)
        beta = _pad(layer.beta, (n_out,)) if normalized else np.zeros(n_out, dtype)
        norms.append((gamma, beta, np.zeros((rows, n_out), dtype)))
        flags.append(np.asarray(1.0 if normalized else 0.0, dtype))
        mask = np.ones((rows, n_out), dtype)
        dropped = layer is not None and layer.mask is not None
        if dropped:
            mask[:layer.mask.shape[0], :layer.mask.shape[1]] = layer.mask
        masks.append(mask)
        ps.append(np.asarray(net.dropout if dropped else 0.0, dtype))  # p = 0 (a factor of 1) without dropout
    return norms, (flags, masks, ps)


def quantities(net) -> dict[str, np.ndarray]:
    """C and every dC/dW[l], dC/db[l], dC/dz[l], dC/da[l] of `net`, from the bucketed compiled oracle."""
    start()
    return _bucketed_quantities(net)


def _bucketed_quantities(net) -> dict[str, np.ndarray]:
    padded = tuple(_bucket(w, WIDTH_BUCKETS) for w in net.widths)
    batch = _bucket(net.batch, BATCH_BUCKETS)
    prepend = max(DEPTH_BUCKET - net.depth, 0) if max(padded) <= WIDTH_BUCKETS[0] else 0
    padded = (padded[0],) * prepend + padded
    return _run(net, padded, batch, _compiled, prepend)


def plain_quantities(net) -> dict[str, np.ndarray]:
    """The same with no padding (each layer at its own shape, every mask all true): the reference that
    the bucketed oracle is tested against. Compiled for the network's exact shapes (one compile per
    shape, not counted in compile_count): op-by-op execution under jax.disable_jit() computes the same
    values but took 2-10 s a network here, compiling the exact shape takes 1-2 s."""
    start()
    return _run(net, None, None, _plain)


# the activation and loss codes are static here (Python ints): each compile holds the network's own
# activations and loss only, not every one of them as the bucketed oracle's does (~0.8 s -> ~0.2 s each)
_plain = jax.jit(_gradients_and_step, static_argnums=(6, 7))


# A padded stack of many small networks (backprop_audit.batching.padded.PaddedStack): the same cost function,
# vmapped over the stack's leading network axis. The stack is only as large as its networks need; here
# it is padded further, the way _run pads one network, to a fixed shape (CHUNK networks, DEPTH layers, and
# the first stack bucket that holds its widths and batch) so that one compiled call serves every stack of
# a dtype and bucket: more identity layers in front, zero weights with false unit masks, false row masks, and
# empty slots (all masks false, so they contribute nothing). The stack's activation and loss codes are
# positions in the operation table, as this module's are.
_stacked = Exported(jax.vmap(_all_gradients), "_all_gradients_stacked", depends=_table_digest)
# (units, rows) of the stack buckets in front of padded.WIDTH, padded.BATCH (which every stack fits). The call's
# cost grows with the padding, as the table's every activation and loss is computed on every cell: 40 networks of
# widths [4, 5, 5, 3] and batch 4 took 4.5-7.8 ms a call at 16 units and 32 rows, 1.3-1.9 ms at 8 and 8 (torch's
# stack, at the stack's own shape, 1.2 ms). The catalog and the mutants draw widths 1-5 and batch 1-4: the small
# bucket serves them all, one executable per dtype as before, and a wider stack loads the large one.
SMALL_STACK_BUCKETS = ((8, 8),)


def _stack_bucket(stack) -> tuple[int, int]:
    """(units, rows) of the first stack bucket that holds the stack's widths and batch."""
    from backprop_audit.batching.padded import BATCH, WIDTH

    return next(((units, rows) for units, rows in SMALL_STACK_BUCKETS
                 if max(stack.widths) <= units and stack.batch <= rows), (WIDTH, BATCH))


def padded_quantities(stack) -> dict[str, np.ndarray]:
    """"C" (count,) and dC/dW[k], dC/db[k], dC/dz[k], dC/da[k] for every stack layer k = 1..stack.depth,
    with the network axis first and the stack's own shapes (read one network with stack.take)."""
    from backprop_audit.batching.padded import CHUNK, DEPTH

    start()
    dtype, count, gap = stack.dtype, stack.count, DEPTH - stack.depth
    units, rows = _stack_bucket(stack)
    activation_codes = np.concatenate([np.full((count, gap), IDENTITY, np.int32),
                                       stack.activation_codes.astype(np.int32)], axis=1)
    loss_codes = stack.loss_codes.astype(np.int32)
    identity = np.broadcast_to(np.eye(units, dtype=dtype), (CHUNK, units, units))
    params = [(identity, np.zeros((CHUNK, units), dtype))] * gap + [
        (_pad(W, (CHUNK, units, units)), _pad(b, (CHUNK, units))) for W, b in zip(stack.Ws, stack.bs)]
    unit_masks = [_pad(stack.unit_masks[0], (CHUNK, units))] * gap + [
        _pad(mask, (CHUNK, units)) for mask in stack.unit_masks[1:]]
    probes = [np.zeros((CHUNK, rows, units), dtype)] * DEPTH
    n_true = np.concatenate([stack.n_true, np.ones(CHUNK - count, dtype)])
    # per layer, each network's λ: 0 on the identity layers in front of it (the gap's and its own prepend)
    l2s = [np.zeros(CHUNK, dtype)] * gap + [_pad(np.where(stack.prepend < k, stack.l2, 0).astype(dtype), (CHUNK,))
                                            for k in range(1, stack.depth + 1)]
    # norms and layered None: a stack holds no network with batch normalization or dropout (padded.fits)
    value, (g_params, g_z, g_a, _), stepped = _stacked(
        (str(np.dtype(dtype)), units, rows), params, probes, probes, None, _pad(stack.X, (CHUNK, rows, units)),
        _pad(stack.Y, (CHUNK, rows, units)),
        [_pad(activation_codes[:, j], (CHUNK,)) for j in range(DEPTH)], _pad(loss_codes, (CHUNK,)),
        unit_masks, _pad(stack.row_mask, (CHUNK, rows)), n_true, l2s, _pad(stack.eta.astype(dtype), (CHUNK,)), None,
    )
    out = {"C": np.asarray(value)[:count]}
    widths, N = stack.widths, stack.batch
    for k in range(1, stack.depth + 1):
        (gW, gb), gz, ga = g_params[k - 1 + gap], g_z[k - 1 + gap], g_a[k - 1 + gap]
        out[f"dC/dW[{k}]"] = np.asarray(gW)[:count, :widths[k], :widths[k - 1]]
        out[f"dC/db[{k}]"] = np.asarray(gb)[:count, :widths[k]]
        out[f"dC/dz[{k}]"] = np.asarray(gz)[:count, :N, :widths[k]]
        out[f"dC/da[{k}]"] = np.asarray(ga)[:count, :N, :widths[k]]
        if stack.steps:
            W2, b2 = stepped[k - 1 + gap]
            out[f"W'[{k}]"] = np.asarray(W2)[:count, :widths[k], :widths[k - 1]]
            out[f"b'[{k}]"] = np.asarray(b2)[:count, :widths[k]]
    return out


# ---- local Jacobians (Quantity.is_jacobian) ------------------------------------------------------------
# Each from jax.jacobian of the one function it differentiates, per sample (vmap over the batch), so the
# cross-sample blocks are never formed: da[l]/dz[l] of g, dz[l]/da[l-1] and dz[l]/dW[l] of W a + b,
# da[l]/da[l-1] and da[l]/dW[l] of g(W a + b). A separate compiled function, one layer at a time, padded into width
# and batch buckets of its own (JACOBIAN_*_BUCKETS): it runs only for a Jacobian claim, and the gradients' oracle
# and its stacks stay as they were. The forward pass from layer to layer is its own (a = g(W a + b), in jax).

def _along_rows(J):
    """∂out_i/∂W_ik from the full per-sample (out, out, in) Jacobian: the entries that are not structurally
    zero (∂out_i/∂W_jk = 0 for j ≠ i when out is W a + b; see model/quantity.py for the layout)."""
    return jnp.einsum("iik->ik", J)


def _sample_jacobians(W, b, a_prev, code, unit_mask):
    """One layer's local Jacobians at one sample (a_prev: (in,)), and a = g(W a_prev + b) for the next layer."""
    act = lambda z: _activate(code, z, unit_mask)
    linear = lambda W_, a_: W_ @ a_ + b
    layer = lambda W_, a_: act(linear(W_, a_))
    z = linear(W, a_prev)
    return {"da/dz": jax.jacobian(act)(z),
            "dz/da": jax.jacobian(linear, argnums=1)(W, a_prev),
            "dz/dW": _along_rows(jax.jacobian(linear)(W, a_prev)),
            "da/da": jax.jacobian(layer, argnums=1)(W, a_prev),  # da[l]/da[l-1]: the kind da[l+1]/da[l] at l - 1
            "da/dW": _along_rows(jax.jacobian(layer)(W, a_prev))}, act(z)


def _all_jacobians(W, b, a_prev, code, unit_mask):
    """One layer's local Jacobians at every sample (vmap over the batch) and its output a, for the next layer."""
    return jax.vmap(_sample_jacobians, in_axes=(None, None, 0, None, None))(W, b, a_prev, code, unit_mask)


# One layer at a time: one executable per (width buckets of its input and output, batch bucket, dtype) serves every
# layer of every network of those buckets (all small networks: one per dtype), and its trace is one layer's (a
# whole network's, four layers of five jacobians through the activations' switch, took ~8 s to trace here).
_jacobians_compiled = Exported(_all_jacobians, "_all_jacobians", depends=_table_digest, packed=True)


def jacobians(net) -> dict[str, np.ndarray]:
    """Every local Jacobian of `net` (quantity.jacobian_names), (N, out, in) each, from jax.jacobian."""
    from backprop_audit.model.quantity import Quantity

    start()
    dtype, widths, N = net.dtype, net.widths, net.batch
    padded = tuple(_bucket(w, JACOBIAN_WIDTH_BUCKETS) for w in widths)
    a = _pad(net.X, (_bucket(N, JACOBIAN_BATCH_BUCKETS), padded[0]))
    out = {}
    for l, layer in enumerate(net.layers, start=1):
        n_out, n_in = widths[l], widths[l - 1]
        code = np.int32(operations.ACTIVATIONS.index(layer.activation))
        # padded units: zero weights and inputs, masked out of a softmax; padded rows: sliced off below
        key = (padded[l], padded[l - 1], a.shape[0], str(dtype))  # the layer's bucket
        J, a = _jacobians_compiled(key, _pad(layer.W, (padded[l], padded[l - 1])), _pad(layer.b, (padded[l],)), a,
                                   code, np.arange(padded[l]) < n_out)
        # back in NumPy for the next layer's call: passed on as jax's own output array, it made jit compile
        # the same bucket a second time (a committed device array is another signature than a NumPy input;
        # seen: two compiles per bucket and process, ~0.8 s each, on the layers after the first)
        a = np.asarray(a)
        out[str(Quantity.of("da/dz", l))] = np.asarray(J["da/dz"])[:N, :n_out, :n_out]
        out[str(Quantity.of("dz/da", l))] = np.asarray(J["dz/da"])[:N, :n_out, :n_in]
        out[str(Quantity.of("dz/dW", l))] = np.asarray(J["dz/dW"])[:N, :n_out, :n_in]
        out[str(Quantity.of("da/dW", l))] = np.asarray(J["da/dW"])[:N, :n_out, :n_in]
        if l >= 2:
            out[str(Quantity.of("da/da", l - 1))] = np.asarray(J["da/da"])[:N, :n_out, :n_in]
    return out


def warm(dtypes=("float64", "float32"), with_jacobians: bool = False) -> None:
    """Compile, or load from the persistent cache, the executables nearly every check uses: the single
    network bucket of all small networks and the stack, in each dtype; with_jacobians: also the local
    Jacobians' smallest bucket (the test session's workers both check Jacobian records: on a new machine
    each compiled both dtypes' Jacobians itself, ~1.4 s of CPU each, twice).

    Processes that start together (the pytest-xdist workers) share the work: each takes the executables
    no other process is compiling at that moment (one lock file per executable in the cache folder),
    then waits for the others' and loads them from the cache. Compiled side by side, both workers would
    compile all four (~2.5 s of CPU each here) before either could load one."""
    import contextlib
    import fcntl

    from backprop_audit.model.network import smallest
    from backprop_audit.batching.padded import PaddedStack

    start()  # the cache folder is read below
    tasks = {}
    for dtype in dtypes:
        tasks[f"single-{dtype}"] = lambda dtype=dtype: quantities(smallest(1, dtype))
        tasks[f"stacked-{dtype}"] = lambda dtype=dtype: padded_quantities(PaddedStack.of([smallest(1, dtype)]))
        if with_jacobians:
            tasks[f"jacobians-{dtype}"] = lambda dtype=dtype: jacobians(smallest(1, dtype))
    folder = jax.config.jax_compilation_cache_dir
    if not folder:
        for task in tasks.values():
            task()
        return
    for blocking in (False, True):  # first the free ones, then wait for the others' and load them
        for name in list(tasks):
            with open(os.path.join(folder, f"warm-{name}.lock"), "w") as lock:
                with contextlib.suppress(BlockingIOError):
                    fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                    tasks.pop(name)()
