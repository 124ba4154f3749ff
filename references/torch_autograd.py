"""Oracle 1: every quantity of a network from torch.autograd.

The forward pass is written here again in torch, from the canonical layout in backprop_audit.model.network;
each activation and loss is its torch form in the operation table (backprop_audit.model.operations),
written in torch (nothing of manual/ or of the NumPy forms is used). dC/dz[l] and dC/da[l] are read as the gradients of
zero probes added to z[l] and a[l]: the probes change no value, and their gradient is the derivative
asked for. The cross-entropies take log a[L] from the logits (log_softmax, logsigmoid) for stability.
"""
from __future__ import annotations


import numpy as np
import torch

from backprop_audit.model import operations
from backprop_audit.model.operations import ACTIVATIONS, LOSSES, LossTerms  # a padded stack's codes index these
from backprop_audit.model.normalization import EPS as BN_EPS  # ε of √(var + ε) (BatchNorm1d's default)
from backprop_audit.model.regularizers import L2
from backprop_audit.references.frameworks import start  # one torch thread, set before the first computation

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _activate(name: str, z: torch.Tensor) -> torch.Tensor:
    """g(z), the table's torch form (a softmax over the units, the last axis)."""
    return operations.activation(name).torch_form(torch, z)


def _loss(name: str, z: torch.Tensor, a: torch.Tensor, probe: torch.Tensor, y: torch.Tensor, n, total):
    """C from the output, the table's torch form: a = act(z) + probe for the squared losses; logits z for
    the cross-entropies, where the a-probe enters log(s + probe) by its exact first-order term
    probe / s, with 1/s held constant and s floored at the dtype's tiny: the same form as jax_grad.py's,
    so that saturated outputs give the same huge (not infinite) slope in both oracles and no 0 * inf
    leaks into dC/dz. total(x): the sum over one network's cells; n: its batch size."""
    return operations.loss(name).torch_form(torch, LossTerms(z, a, probe, y, n, total))


def quantities(net) -> dict[str, np.ndarray]:
    """C and every dC/dW[l], dC/db[l], dC/dz[l], dC/da[l] of `net`, in the canonical layout; with the
    network's η also W'[l], b'[l] (one gradient-descent step); C includes the network's L2 term."""
    start()
    return _quantities(net)


def _quantities(net) -> dict[str, np.ndarray]:
    dtype = TORCH_DTYPES[str(net.dtype)]
    # from_numpy shares the network's memory instead of copying it (nothing here writes to a leaf);
    # a copy is made only for an array that is not C-contiguous or not already in the network's dtype.
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    a = as_tensor(net.X)
    y = as_tensor(net.Y)
    leaves = []  # per layer: W, b, z-probe, a-probe, in this order
    normalized = []  # per batch-normalized layer: (layer, gamma, beta, u-probe)
    z = None
    for l, layer in enumerate(net.layers, start=1):
        W, b = as_tensor(layer.W).requires_grad_(), as_tensor(layer.b).requires_grad_()
        z_probe = torch.zeros((a.shape[0], W.shape[0]), dtype=dtype, requires_grad=True)
        a_probe = torch.zeros_like(z_probe, requires_grad=True)
        z = a @ W.T + b + z_probe
        u = z
        if layer.gamma is not None:  # batch normalization, batch statistics (biased variance)
            gamma, beta = as_tensor(layer.gamma).requires_grad_(), as_tensor(layer.beta).requires_grad_()
            u_probe = torch.zeros_like(z_probe, requires_grad=True)
            u = _batch_norm(z, gamma, beta) + u_probe
            normalized.append((l, gamma, beta, u_probe))
        a = _activate(layer.activation, u)
        if layer.mask is not None:  # inverted dropout with the network's fixed mask: g(u) ⊙ mask / (1 - p)
            a = a * (as_tensor(layer.mask) / (1.0 - net.dropout))
        a = a + a_probe
        leaves += [W, b, z_probe, a_probe]
    C = _loss(net.loss, z, a, leaves[-1], y, y.shape[0], lambda x: x.sum())
    if net.l2:  # C = loss + (λ/2) Σ_l ‖W[l]‖², the regularizer's torch form (no term at all for λ = 0)
        C = C + sum(L2.torch_form(torch, W, net.l2) for W in leaves[0::4])
    extra = [leaf for _, gamma, beta, u_probe in normalized for leaf in (gamma, beta, u_probe)]
    grads = torch.autograd.grad(C, leaves + extra)  # one backward pass, every leaf's gradient at once
    out = {"C": C.detach().numpy()}
    for l in range(1, net.depth + 1):
        gW, gb, gz, ga = grads[4 * (l - 1): 4 * l]
        out[f"dC/dW[{l}]"] = gW.numpy()
        out[f"dC/db[{l}]"] = gb.numpy()
        out[f"dC/dz[{l}]"] = gz.numpy()
        out[f"dC/da[{l}]"] = ga.numpy()
        if net.eta is not None:  # one gradient-descent step, in torch: W - η·dC/dW
            W, b = leaves[4 * (l - 1)].detach(), leaves[4 * (l - 1) + 1].detach()
            out[f"W'[{l}]"] = (W - net.eta * gW).numpy()
            out[f"b'[{l}]"] = (b - net.eta * gb).numpy()
    for i, (l, *_) in enumerate(normalized):
        ggamma, gbeta, gu = grads[len(leaves) + 3 * i: len(leaves) + 3 * i + 3]
        out[f"dC/dgamma[{l}]"], out[f"dC/dbeta[{l}]"], out[f"dC/du[{l}]"] = ggamma.numpy(), gbeta.numpy(), gu.numpy()
    return out




def _batch_norm(z: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """γ ⊙ (z - μ)/√(var + ε) + β over the batch (dim 0), biased variance: what torch.nn.BatchNorm1d computes
    in training mode, written out here because F.batch_norm refuses a batch of one sample."""
    var, mu = torch.var_mean(z, dim=0, correction=0)
    return gamma * ((z - mu) * torch.rsqrt(var + BN_EPS)) + beta


# The most entries one chunk of copies holds in any of its per-sample W copies (units · N · out · in): 2^22 float64
# entries are 32 MiB a tensor (and as much again for its gradient); the catalog's networks (1-5 units, 1-4 samples)
# take one chunk a layer, a [64, 64]/128 layer 8 chunks of 8 units.
JACOBIAN_CHUNK_ENTRIES = 1 << 22


def jacobians(net) -> dict[str, np.ndarray]:
    """Every local Jacobian of `net` (quantity.jacobian_names), (N, out, in) each, from torch.autograd.

    Per layer, three functions, each on leaves of its own (no function reads another's): g at z for da[l]/dz[l];
    a[l-1] Wᵀ + b for dz[l]/da[l-1] and dz[l]/dW[l]; g(a[l-1] Wᵀ + b) for da[l]/da[l-1] and da[l]/dW[l]. Each is
    evaluated on c copies of its inputs, one per output unit of a chunk of the layer's units, and copy j
    contributes only its unit i (= the chunk's first + j), summed over the batch; one backward pass a chunk.
    Every operation is sample by sample, so the gradient with respect to copy j's input (N, in) is row i of each
    sample's Jacobian (the cross-sample blocks are zero). With respect to W each sample of each copy has its own
    W, of which only row i of copy j is kept: ∂out_i/∂W_ik (the reduced layout of model/quantity.py; a softmax's
    out_i reads every row, so W needs the copies too). Chunks bound the memory (JACOBIAN_CHUNK_ENTRIES); a
    chunk of one unit is a backward pass per output unit.

    Why not torch.func.jacrev: its first call in a process imports torch._dynamo (827 modules, 3.3 s here, every
    pytest worker and claims worker), and autograd.grad's is_grads_batched 0.95 s. The copies cost nothing to
    start; on the soak's small networks (widths ≤ 8, batch ≤ 8) a backward pass per layer took 0.8-0.9 ms a
    network where one per output unit took 1.7 ms (the catalog's Jacobian records: ~1,400 networks a dtype)."""
    from backprop_audit.model.quantity import Quantity

    start()
    dtype = TORCH_DTYPES[str(net.dtype)]
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    a, N, out = as_tensor(net.X), net.batch, {}
    for l, layer in enumerate(net.layers, start=1):
        W, b = as_tensor(layer.W), as_tensor(layer.b)
        z = a @ W.T + b
        n_out, n_in = W.shape
        step = max(1, JACOBIAN_CHUNK_ENTRIES // max(1, N * n_out * n_in))
        rows = {kind: [] for kind in ("da/dz", "dz/da", "dz/dW", "da/da", "da/dW")}
        for first in range(0, n_out, step):
            for kind, piece in _jacobian_rows(layer.activation, W, b, a, z, range(first, min(first + step, n_out))).items():
                rows[kind].append(piece)
        joined = {kind: torch.cat(pieces, dim=1).numpy() for kind, pieces in rows.items()}  # (N, out, in)
        for kind in ("da/dz", "dz/da", "dz/dW", "da/dW"):
            out[str(Quantity.of(kind, l))] = joined[kind]
        if l >= 2:
            out[str(Quantity.of("da/da", l - 1))] = joined["da/da"]
        a = _activate(layer.activation, z)
    return out


def _jacobian_rows(activation: str, W, b, a, z, units: range) -> dict:
    """Rows `units` of one layer's five Jacobians, (N, len(units), in) each, from one backward pass (see jacobians)."""
    c, N = len(units), a.shape[0]
    copies = lambda x: x.detach().expand(c, *x.shape).clone().requires_grad_()  # (c, *x.shape)
    z_in, a_linear, a_layer = copies(z), copies(a), copies(a)
    W_linear, W_layer = copies(W.expand(N, *W.shape)), copies(W.expand(N, *W.shape))  # (c, N, out, in)
    act_z = _activate(activation, z_in)
    linear = (W_linear @ a_linear[..., None])[..., 0] + b  # per copy and sample: W a + b
    layer_out = _activate(activation, (W_layer @ a_layer[..., None])[..., 0] + b)
    j, unit = torch.arange(c), torch.arange(units.start, units.stop)
    own_unit = lambda t: t[j, :, unit].sum()  # copy j's unit, over the batch
    total = own_unit(act_z) + own_unit(linear) + own_unit(layer_out)
    d_z, d_a_linear, d_W_linear, d_a_layer, d_W_layer = torch.autograd.grad(
        total, (z_in, a_linear, W_linear, a_layer, W_layer))
    per_sample = lambda g: g.transpose(0, 1)  # (c, N, in) -> (N, c, in)
    own_row = lambda g: g[j, :, unit, :].transpose(0, 1)  # (c, N, out, in) -> (N, c, in)
    return {"da/dz": per_sample(d_z), "dz/da": per_sample(d_a_linear), "dz/dW": own_row(d_W_linear),
            "da/da": per_sample(d_a_layer), "da/dW": own_row(d_W_layer)}


def stacked_jacobians(nets) -> list[dict[str, np.ndarray]]:
    """jacobians(net) for each of `nets` (one depth and dtype, no batch norm or dropout), from one backward pass
    a layer for all of them: the copies of `jacobians`, with the networks padded to the widest (zero weights,
    inputs and biases) and stacked on an axis of their own after the copies' (c, G, N, ...), each with its own
    activation (codes, as padded_quantities does; a softmax sees its real units only). Networks share no leaf,
    so each gets its own rows. Padded units, rows and inputs are cut off; every real entry sums the same terms
    as `jacobians` does (the padding adds exact zeros), in an order that may differ: equal to it to rounding
    (2.2e-16 relative in float64, 1.6e-7 in float32 on the catalog's networks). Each layer holds all units
    at once: the caller keeps G · N · out · out · in ≤ JACOBIAN_CHUNK_ENTRIES (the copies of W).

    Why: ~1.1 ms a network one at a time (autograd's graph, built op by op, whatever the size), ~0.13 ms in
    stacks of 64 (the catalog's Jacobian records, both dtypes)."""
    from backprop_audit.model.quantity import Quantity

    start()
    dtype, G, depth = TORCH_DTYPES[str(nets[0].dtype)], len(nets), nets[0].depth
    widths = [max(net.widths[k] for net in nets) for k in range(depth + 1)]
    N = max(net.batch for net in nets)
    stacked = lambda arrays, shape: torch.from_numpy(np.stack([_padded(x, shape) for x in arrays])).to(dtype)
    a = stacked([net.X for net in nets], (N, widths[0]))  # (G, N, in)
    rows = torch.from_numpy(np.stack([np.arange(N) < net.batch for net in nets]))[:, :, None]
    out = [{} for _ in nets]
    for l in range(1, depth + 1):
        n_out, n_in = widths[l], widths[l - 1]
        W = stacked([net.layers[l - 1].W for net in nets], (n_out, n_in))  # (G, out, in)
        b = stacked([net.layers[l - 1].b for net in nets], (n_out,))[:, None, :]  # (G, 1, out)
        codes = np.array([ACTIVATIONS.index(net.layers[l - 1].activation) for net in nets])
        units = torch.from_numpy(np.stack([np.arange(n_out) < net.widths[l] for net in nets]))[:, None, :]
        z = a @ W.transpose(1, 2) + b  # (G, N, out)
        J = _stacked_jacobian_rows(codes, units, W, b, a, z)
        for g, net in enumerate(nets):
            rows_g, out_g, in_g = net.batch, net.widths[l], net.widths[l - 1]
            cut = lambda kind, n: np.ascontiguousarray(J[kind][g, :rows_g, :out_g, :n])
            out[g][str(Quantity.of("da/dz", l))] = cut("da/dz", out_g)
            for kind in ("dz/da", "dz/dW", "da/dW"):
                out[g][str(Quantity.of(kind, l))] = cut(kind, in_g)
            if l >= 2:
                out[g][str(Quantity.of("da/da", l - 1))] = cut("da/da", in_g)
        a = torch.where(rows & units, _coded_activation(codes, z, units), 0)  # padded cells feed nothing on
    return out


def _stacked_jacobian_rows(codes, units, W, b, a, z) -> dict:
    """_jacobian_rows for a stack (G networks, all `out` units of the layer at once): (G, N, out, in) each."""
    c, (G, N, n_out), n_in = W.shape[1], z.shape, W.shape[2]
    copy_codes, copy_units = np.tile(codes, c), units.repeat(c, 1, 1)  # copy j of network g is row j·G + g
    act = lambda t: _coded_activation(copy_codes, t.reshape(c * G, N, n_out), copy_units).reshape(c, G, N, n_out)
    copies = lambda x: x.detach().expand(c, *x.shape).clone().requires_grad_()  # (c, *x.shape)
    z_in, a_linear, a_layer = copies(z), copies(a), copies(a)
    per_sample_W = W[:, None].expand(G, N, n_out, n_in)
    W_linear, W_layer = copies(per_sample_W), copies(per_sample_W)  # (c, G, N, out, in)
    act_z = act(z_in)
    linear = (W_linear @ a_linear[..., None])[..., 0] + b
    layer_out = act((W_layer @ a_layer[..., None])[..., 0] + b)
    j = torch.arange(c)
    own_unit = lambda t: t[j, :, :, j].sum()  # copy j's unit, over every network and sample
    total = own_unit(act_z) + own_unit(linear) + own_unit(layer_out)
    d_z, d_a_linear, d_W_linear, d_a_layer, d_W_layer = torch.autograd.grad(
        total, (z_in, a_linear, W_linear, a_layer, W_layer))
    per_sample = lambda g: g.permute(1, 2, 0, 3).numpy()  # (c, G, N, in) -> (G, N, c, in)
    own_row = lambda g: g[j, :, :, j, :].permute(1, 2, 0, 3).numpy()  # (c, G, N, out, in) -> (G, N, c, in)
    return {"da/dz": per_sample(d_z), "dz/da": per_sample(d_a_linear), "dz/dW": own_row(d_W_linear),
            "da/da": per_sample(d_a_layer), "da/dW": own_row(d_W_layer)}


def _padded(x: np.ndarray, shape: tuple) -> np.ndarray:
    if x.shape == shape:
        return x
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, n) for n in x.shape)] = x
    return out


def stacked_quantities(Ws, bs, X, Y, activations, loss, names=None) -> dict[str, np.ndarray]:
    """Every quantity of `count` networks of one architecture at once: Ws[l-1] is (count, out, in),
    bs[l-1] (count, out), X (count, N, n0), Y (count, N, nL); the result arrays carry that axis first.

    The same forward pass and loss as `quantities`, written for the stack (batched matmuls, per-network
    sums), and ONE torch.autograd backward of the sum of the networks' costs: network i's parameters
    and probes enter only C_i, so d(Σ_j C_j)/dW_i = dC_i/dW_i, each network's own gradient (checked
    equal to `quantities` network by network in tests/test_sweep.py). No torch.func.vmap: its batching
    rules cost more than the arithmetic on networks this small.

    names: the quantities wanted (default: all); only their leaves get gradients (a probe nobody asks
    about is not added: adding a zero changes no value)."""
    start()
    wanted = set(names) if names is not None else None
    want = lambda q: wanted is None or q in wanted
    dtype = TORCH_DTYPES[str(X.dtype)]
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    count, N = X.shape[:2]
    a, y = as_tensor(X), as_tensor(Y)
    leaves, keys = [], []
    z = a_probe = None
    for l, (W, b, activation) in enumerate(zip(Ws, bs, activations), start=1):
        W, b = as_tensor(W), as_tensor(b)
        for q, leaf in ((f"dC/dW[{l}]", W), (f"dC/db[{l}]", b)):
            if want(q):
                leaf.requires_grad_()
                leaves.append(leaf)
                keys.append(q)
        z = torch.baddbmm(b[:, None, :], a, W.transpose(1, 2))
        if want(f"dC/dz[{l}]"):
            z_probe = torch.zeros((count, N, W.shape[1]), dtype=dtype, requires_grad=True)
            z = z + z_probe
            leaves.append(z_probe)
            keys.append(f"dC/dz[{l}]")
        a = _activate(activation, z)
        a_probe = None
        if want(f"dC/da[{l}]"):
            a_probe = torch.zeros((count, N, W.shape[1]), dtype=dtype, requires_grad=True)
            leaves.append(a_probe)
            keys.append(f"dC/da[{l}]")
            a = a + a_probe
    probe = torch.zeros_like(z) if a_probe is None else a_probe  # no a-probe asked for at the output: a zero
    C = _loss(loss, z, a, probe, y, y.shape[-2], lambda m: m.sum(dim=(-2, -1)))  # one C per network
    out = {"C": C.detach().numpy()} if want("C") else {}
    if leaves:
        grads = torch.autograd.grad(C.sum(), leaves)
        out.update({q: g.numpy() for q, g in zip(keys, grads)})
    return out


# --------------------------------------------------------------------------------------------------
# The padded stack: many small networks of different shapes, activations and losses in one graph.


def padded_quantities(stack) -> dict[str, np.ndarray]:
    """Every quantity of every network of a backprop_audit.batching.padded.PaddedStack, from ONE forward and ONE
    backward pass over the whole stack.

    Why: `quantities` costs ~0.6 ms of torch overhead per network (building the autograd graph op by op),
    whatever its size, while the arithmetic of a small network takes microseconds. The stack pads CHUNK
    networks into one shape, so that overhead is paid once per CHUNK networks: every matmul is a batched
    matmul over the network axis, and C_total = Σ_g C_g is differentiated once. The networks share no
    leaf, so ∂C_total/∂(a leaf of network g) = ∂C_g/∂(that leaf): each network gets its own gradient.

    How padding is made inert (padded weights, biases, inputs and targets are already 0 in the stack):
    - every layer's output is a = where(real row & real unit, act(z), 0) + a_probe, so a padded unit or
      row feeds nothing forward and receives exactly 0 gradient (z of a padded row is b, not 0: the where
      is needed, not cosmetic);
    - softmax runs over the real units only (padded logits replaced by a huge negative number: exactly
      0 probability);
    - the loss is summed over real (row, unit) cells only, and the means and cross-entropies divide by
      n_true, the network's true batch size;
    - a network shallower than DEPTH has exact identity layers in front (see padded.py); its real layer l
      sits at stack layer k = l + prepend, which `PaddedStack.take` undoes.

    Activations and losses differ per network: each is an integer code (index into operations.ACTIVATIONS,
    operations.LOSSES); every candidate present in the stack is computed for all networks and one is
    selected per network with torch.where. torch.where sends 0 gradient to the unselected candidates, but
    0 * inf = nan inside a candidate's own backward, so every candidate uses the finite forms of `_loss`
    (log_softmax, logsigmoid, the a-probe entering as probe * (1 / clamp(s, tiny)).detach()).

    Cost: the arithmetic now runs on every padded cell and every present candidate (on the default
    distribution ~14% of the cells of z are real), so the stack is elementwise-bound, not overhead-bound:
    measured 2.5-6x faster than 64 calls of `quantities` (tests/test_padded_oracles.py prints it).

    Returns the stack quantity names ("C" of shape (count,), "dC/dW[k]" (count, width[k], width[k-1]),
    "dC/db[k]" (count, width[k]), "dC/dz[k]" and "dC/da[k]" (count, batch, width[k]), k = 1..depth) in the
    stack's dtype.
    Entries outside a layer's real units and rows are exactly 0; the identity layers in front of a shallow
    network carry real nonzero gradients (dC/dW[k] is the gradient at W = I, dC/da[k] is dC/dX), which
    are not quantities of the network: read results through `PaddedStack.take`.
    """
    start()
    dtype = TORCH_DTYPES[str(stack.dtype)]
    as_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    Ws = [as_tensor(W).requires_grad_() for W in stack.Ws]  # (CHUNK, out, in), canonical per network
    bs = [as_tensor(b).requires_grad_() for b in stack.bs]
    rows_of = lambda W: (stack.X.shape[0], stack.X.shape[1], W.shape[1])  # (count, batch, layer width)
    z_probes = [torch.zeros(rows_of(W), dtype=dtype, requires_grad=True) for W in Ws]
    a_probes = [torch.zeros(rows_of(W), dtype=dtype, requires_grad=True) for W in Ws]
    rows = torch.from_numpy(stack.row_mask)[:, :, None]  # (CHUNK, BATCH, 1)
    units = [torch.from_numpy(m)[:, None, :] for m in stack.unit_masks]  # (CHUNK, 1, WIDTH), k = 0..DEPTH

    a, z = as_tensor(stack.X), None
    for k, (W, b, z_probe, a_probe) in enumerate(zip(Ws, bs, z_probes, a_probes), start=1):
        real = rows & units[k]  # (CHUNK, BATCH, WIDTH): the real cells of z[k] and a[k]
        z = a @ W.transpose(1, 2) + b[:, None, :] + z_probe  # per network: a @ W.T + b, as in `quantities`
        a = torch.where(real, _coded_activation(stack.activation_codes[:, k - 1], z, units[k]), 0) + a_probe
    C = _coded_loss(stack.loss_codes, z, a, a_probes[-1], as_tensor(stack.Y), real, as_tensor(stack.n_true))
    if stack.l2.any():  # each network's (λ/2) Σ ‖W‖² over its real layers (not the identity layers in front)
        lam = as_tensor(stack.l2)
        C = C + sum(torch.where(torch.from_numpy(stack.prepend < k), L2.torch_form(torch, W, lam), 0)
                    for k, W in enumerate(Ws, start=1))
    leaves = [leaf for layer in zip(Ws, bs, z_probes, a_probes) for leaf in layer]
    grads = torch.autograd.grad(C.sum(), leaves)  # one backward pass for every network of the stack
    out = {"C": C.detach().numpy()}
    eta = as_tensor(stack.eta)
    for k in range(1, len(Ws) + 1):
        gW, gb, gz, ga = grads[4 * (k - 1): 4 * k]
        out[f"dC/dW[{k}]"] = gW.numpy()
        out[f"dC/db[{k}]"] = gb.numpy()
        out[f"dC/dz[{k}]"] = gz.numpy()
        out[f"dC/da[{k}]"] = ga.numpy()
        if stack.steps:  # one gradient-descent step per network, in torch: W - η·dC/dW
            out[f"W'[{k}]"] = (Ws[k - 1].detach() - eta[:, None, None] * gW).numpy()
            out[f"b'[{k}]"] = (bs[k - 1].detach() - eta[:, None] * gb).numpy()
    return out


def _select(codes: np.ndarray, candidates: dict) -> torch.Tensor:
    """Per network g, candidates[codes[g]]: codes (CHUNK,) integers, candidates {code: (CHUNK, ...) tensor}
    holding (at least) every code that occurs. A single candidate is returned as it is (no where)."""
    present = sorted(candidates)
    selected = candidates[present[-1]]
    code = torch.from_numpy(codes.astype(np.int64)).reshape((-1,) + (1,) * (selected.dim() - 1))
    for c in present[:-1]:
        selected = torch.where(code == c, candidates[c], selected)
    return selected


def _big_negative(dtype) -> float:
    """The logit that masks a padded unit out of a softmax: exp of it minus any real logit is exactly 0.
    It must stay finite: with -inf a padded row (every logit masked) has log_softmax nan, whose backward
    sends nan into z and from there into dC/dW, and y · log s = 0 · -inf = nan at every padded unit."""
    return torch.finfo(dtype).min / 4


def _coded_activation(codes: np.ndarray, z: torch.Tensor, unit_mask: torch.Tensor) -> torch.Tensor:
    """act(z) with each network's own activation (codes index operations.ACTIVATIONS); z (CHUNK, BATCH, WIDTH).
    Only the activations that occur in this layer of the stack are computed; a coupled one (softmax)
    sees each row's real units only."""
    candidates = {}
    for c in np.unique(codes).tolist():
        row = operations.activation(ACTIVATIONS[c])
        candidates[c] = row.torch_form(torch, torch.where(unit_mask, z, _big_negative(z.dtype)) if row.coupled else z)
    return _select(codes, candidates)


def _coded_loss(codes, z, a, probe, y, mask, n_true) -> torch.Tensor:
    """C per network, shape (CHUNK,): the table's torch forms (as `_loss`), with sums over the real cells
    (mask, (CHUNK, BATCH, WIDTH)) only and n the true batch size n_true (CHUNK,). The logits of padded
    cells are masked (_big_negative) so a softmax sees the real units only; every other loss reads z on
    real cells only. Only the losses that occur are computed."""
    terms = LossTerms(torch.where(mask, z, _big_negative(z.dtype)), a, probe, y, n_true,
                      lambda x: torch.where(mask, x, 0).sum(dim=(1, 2)))
    return _select(codes, {c: operations.loss(LOSSES[c]).torch_form(torch, terms) for c in np.unique(codes).tolist()})
