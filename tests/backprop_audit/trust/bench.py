"""The benchmark behind `backprop-audit bench`: how fast the engine checks, measured, never asserted.

Every number is measured here on this machine and printed with the command that reproduces it; wall
time and process CPU time are both kept, because on a shared machine the wall clock measures the
neighbours too. Measured:
- per formula, on the default network distribution (depth 1-4, widths 1-16, batch 1-32): end-to-end
  search rate (Hypothesis + both oracles + tolerance + comparison), each oracle and the tolerance model
  (with the kink test) alone on the same networks, one network at a time and over padded stacks, and the
  floor: Hypothesis drawing the same networks with no check at all;
- JAX compiles in the session (jax_grad.compile_count(): executables built, traced or read from an export);
- against torch.autograd.gradcheck (slow mode, every entry) on one network: its time over ours;
- the sweep (sweep.py): networks per second on one architecture;
- scale: one check of a wide network in float32 and float64, and whether it held.
"""
from __future__ import annotations

import time

import numpy as np

from backprop_audit.judging import tolerance
from backprop_audit.trust.bench_formulas import DEFAULT_DISTRIBUTION, WEIGHT_GRADIENT
from backprop_audit.judging.evaluate import evaluate, kinks
from backprop_audit.model.network import Layer, Network
from backprop_audit.batching.padded import PaddedStack, chunks
from backprop_audit.batching.screen import check_many
from backprop_audit.judging.memory import RunMemory
from backprop_audit.searching.search import draw, search
from backprop_audit.searching.strategies import networks
from backprop_audit.batching.sweep import Architecture, sweep


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


REPEATS = 3  # the headline rates (end to end, floor, sweep) are the median of this many runs, all kept


def rate(count: int, clock: Clock) -> dict:
    return {"wall": round(count / clock.wall, 1), "cpu": round(count / clock.cpu, 1) if clock.cpu else None}


def median_rate(runs: list[dict]) -> dict:
    """The median run's wall and cpu rates (each its own median), with every run's wall rate: on this
    shared machine one run in three or so was seen ~25% slower than its neighbours, in the same process."""
    middle = lambda values: sorted(values)[len(values) // 2]
    cpus = [run["cpu"] for run in runs if run["cpu"] is not None]
    return {"wall": middle([run["wall"] for run in runs]), "cpu": middle(cpus) if cpus else None,
            "runs_wall": [run["wall"] for run in runs]}


def draw_networks(setting, count: int, dtype="float64") -> tuple[list, Clock]:
    """The floor: Hypothesis drawing `count` networks of `setting` with nothing checked (search's first pass)."""
    strategy = networks(setting, dtype=np.dtype(dtype))
    with Clock() as clock:
        drawn = draw(strategy, count)
    return drawn, clock


def formula_rates(formula, examples: int) -> dict:
    """Examples per second for `formula`: end to end (search: Hypothesis draws, both oracles, the
    tolerances, the comparison), the floor (Hypothesis drawing the same networks, nothing checked), and
    each part alone on those networks: each oracle one network at a time and over padded stacks, the
    batched check (screen.check_many) and the single check (evaluate)."""
    from backprop_audit.references import jax_grad, torch_autograd

    search(formula, examples=20)  # warm-up: imports, the JAX compiles of the buckets
    runs = []
    for _ in range(REPEATS):
        with Clock() as clock:  # a fresh memory: the search draws its networks and computes their oracles
            result = search(formula, examples=examples, memory=RunMemory())
        runs.append(rate(result.examples, clock))
    out = {"formula": formula.id, "examples": result.examples, "held": result.held, "end_to_end": median_rate(runs)}
    floors = []
    for _ in range(REPEATS):
        nets, floor = draw_networks(formula.setting, examples)
        floors.append(rate(len(nets), floor))
    out["hypothesis_floor"] = median_rate(floors)
    for name, oracle in (("torch", torch_autograd), ("jax", jax_grad)):
        with Clock() as clock:
            for net in nets:
                oracle.quantities(net)
        out[name] = rate(len(nets), clock)
        with Clock() as clock:
            for part in chunks(nets):
                oracle.padded_quantities(PaddedStack.of(part))
        out[f"{name}_stacked"] = rate(len(nets), clock)
    with Clock() as clock:
        for net in nets:  # as the single check computes them: one forward pass for both
            parameters = tolerance.Parameters.of(net)
            forward = tolerance.forward_pass(parameters)
            tolerance.tolerances(parameters, forward=forward), kinks(parameters, forward)
    out["tolerances"] = rate(len(nets), clock)
    with Clock() as clock:  # building each stack included: the batched check builds it too
        for part in chunks(nets):
            parameters = tolerance.Parameters.of_padded(PaddedStack.of(part))
            forward = tolerance.forward_pass(parameters)
            tolerance.tolerances(parameters, forward=forward), tolerance.on_a_kink(parameters, forward)
    out["tolerances_stacked"] = rate(len(nets), clock)
    with Clock() as clock:
        check_many(formula, nets)
    out["screen"] = rate(len(nets), clock)
    with Clock() as clock:
        for net in nets:
            evaluate(formula, net)
    out["evaluate"] = rate(len(nets), clock)
    return out


def _mlp(widths, batch, dtype, seed=0, activations=None, loss="half_sum_sq") -> Network:
    rng = np.random.default_rng(seed)
    activations = activations or ["tanh"] * (len(widths) - 2) + ["identity"]
    layers = tuple(Layer((rng.uniform(-1, 1, (widths[l], widths[l - 1])) / np.sqrt(widths[l - 1])).astype(dtype),
                         rng.uniform(-0.5, 0.5, widths[l]).astype(dtype), activations[l - 1])
                   for l in range(1, len(widths)))
    X = rng.uniform(-1, 1, (batch, widths[0])).astype(dtype)
    Y = rng.uniform(-1, 1, (batch, widths[-1])).astype(dtype)
    return Network(layers, loss, X, Y)


def gradcheck_comparison(widths=(100, 200, 10), batch=16) -> dict:
    """torch.autograd.gradcheck (fast_mode=False: every entry of the Jacobian, by finite differences)
    of C with respect to every weight and bias, against one evaluate() of the dC/dW formula."""
    import torch

    from backprop_audit.references.torch_autograd import _activate

    net = _mlp(widths, batch, "float64")
    evaluate(WEIGHT_GRADIENT, net)  # warm-up (JAX compile of this bucket)
    with Clock() as ours:
        outcome = evaluate(WEIGHT_GRADIENT, net)
    params = [torch.tensor(p, requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
    X, Y = torch.tensor(net.X), torch.tensor(net.Y)

    def cost(*params):
        a = X
        for l, layer in enumerate(net.layers):
            a = _activate(layer.activation, a @ params[2 * l].T + params[2 * l + 1])
        return 0.5 * ((a - Y) ** 2).sum()

    with Clock() as theirs:
        passed = torch.autograd.gradcheck(cost, params, fast_mode=False)
    return {"network": f"widths {list(widths)}, batch {batch}, float64", "ours_s": round(ours.wall, 5),
            "ours_held": not outcome.failed, "gradcheck_s": round(theirs.wall, 3), "gradcheck_passed": bool(passed),
            "parameters": int(sum(p.numel() for p in params)),
            "speedup": round(theirs.wall / ours.wall, 1)}


SWEEP_ARCHITECTURES = (
    Architecture((4, 8, 8, 3), 8, ("tanh", "sigmoid", "identity"), "mean_sum_sq", "real"),
    Architecture((3, 4, 2), 4, ("tanh", "identity"), "mean_sum_sq", "real"),
)


def sweep_rate(count: int = 20_000, arch: Architecture = SWEEP_ARCHITECTURES[0]) -> dict:
    sweep(WEIGHT_GRADIENT, arch, min(200, count))  # warm-up
    results = [sweep(WEIGHT_GRADIENT, arch, count) for _ in range(REPEATS)]
    runs = median_rate([{"wall": round(r.networks_per_s, 1), "cpu": round(r.networks_per_cpu_s, 1)} for r in results])
    return {"architecture": arch.describe(), "networks": results[0].networks,
            "flagged": max(r.flagged for r in results), "confirmed_failures": max(len(r.failures) for r in results),
            "broadcast": all(r.broadcast for r in results),
            "networks_per_s": runs["wall"], "networks_per_s_runs": runs["runs_wall"],
            "networks_per_cpu_s": runs["cpu"]}  # this process's CPU time: the neighbours excluded


def scale_check(widths=(256, 4096, 10), batch=1024) -> dict:
    """One check of dC/dW[l] on a wide network, in each dtype: seconds and whether it held."""
    out = {}
    for dtype in ("float32", "float64"):
        net = _mlp(widths, batch, dtype, seed=1)
        with Clock() as first:  # includes JAX's one compile for this shape
            evaluate(WEIGHT_GRADIENT, net)
        with Clock() as clock:
            outcome = evaluate(WEIGHT_GRADIENT, net)
        out[dtype] = {"seconds": round(clock.wall, 3), "cpu_seconds": round(clock.cpu, 3),
                      "first_check_seconds": round(first.wall, 3), "held": not outcome.failed,
                      "worst_ratio": round(outcome.ratio, 4), "message": outcome.message}
    out["network"] = f"widths {list(widths)}, batch {batch}, tanh/identity, half_sum_sq"
    return out


def run_bench(examples: int = 300, formulas=None, sweep_networks: int = 20_000, scale: bool = True,
              gradcheck: bool = True, say=print, gradcheck_widths=(100, 200, 10), scale_widths=(256, 4096, 10),
              scale_batch: int = 1024) -> dict:
    from backprop_audit.references import jax_grad

    formulas = formulas or [WEIGHT_GRADIENT]
    report = {"machine_note": "2 shared cores: wall-clock rates include the neighbours' load; cpu rates "
                              "count this process's own CPU time", "default_distribution": DEFAULT_DISTRIBUTION.describe()}
    per_formula = []
    for formula in formulas:
        r = formula_rates(formula, examples)
        per_formula.append(r)
        say(f"{r['formula']}: {r['examples']} networks, held={r['held']}; examples/s end to end "
            f"{r['end_to_end']['wall']} (cpu {r['end_to_end']['cpu']}; median of {r['end_to_end']['runs_wall']}), floor "
            f"(Hypothesis alone) {r['hypothesis_floor']['wall']} (cpu {r['hypothesis_floor']['cpu']}; median of "
            f"{r['hypothesis_floor']['runs_wall']}); batched check "
            f"{r['screen']['wall']}, single check {r['evaluate']['wall']}; torch {r['torch']['wall']} one at a time, "
            f"{r['torch_stacked']['wall']} stacked; jax {r['jax']['wall']} one at a time, {r['jax_stacked']['wall']} stacked; "
            f"tolerances and kinks {r['tolerances']['wall']} one at a time, {r['tolerances_stacked']['wall']} stacked")
    report["per_formula"] = per_formula
    report["examples_per_s_end_to_end"] = min(r["end_to_end"]["wall"] for r in per_formula)
    report["examples_per_s_end_to_end_cpu"] = min(r["end_to_end"]["cpu"] for r in per_formula)
    report["hypothesis_floor_examples_per_s"] = min(r["hypothesis_floor"]["wall"] for r in per_formula)
    report["hypothesis_floor_examples_per_s_cpu"] = min(r["hypothesis_floor"]["cpu"] for r in per_formula)
    if gradcheck:
        g = gradcheck_comparison(gradcheck_widths)
        report["gradcheck"] = g
        report["gradcheck_speedup"] = g["speedup"]
        say(f"gradcheck (slow mode) on {g['network']}, {g['parameters']} parameters: {g['gradcheck_s']} s; "
            f"ours {g['ours_s']} s (held={g['ours_held']}): speedup {g['speedup']}x")
    sweeps = [sweep_rate(sweep_networks, arch) for arch in SWEEP_ARCHITECTURES]
    report["sweep"] = sweeps[0]
    report["sweeps"] = sweeps
    report["sweep_networks_per_s"] = sweeps[0]["networks_per_s"]  # the larger architecture, not the best
    for s in sweeps:
        say(f"sweep on {s['architecture']}: {s['networks_per_s']} networks/s (median of {s['networks_per_s_runs']}; {s['networks']} networks, "
            f"{s['flagged']} flagged, {s['confirmed_failures']} confirmed, broadcast={s['broadcast']})")
    if scale:
        sc = scale_check(scale_widths, scale_batch)
        report["scale"] = sc
        for dtype in ("float32", "float64"):
            say(f"scale {sc['network']} {dtype}: {sc[dtype]['seconds']} s (cpu {sc[dtype]['cpu_seconds']} s; first check "
                f"with its JAX compile {sc[dtype]['first_check_seconds']} s), held={sc[dtype]['held']} "
                f"(worst {sc[dtype]['worst_ratio']} x tolerance)")
    report["jax_compiles"] = jax_grad.compile_count()
    say(f"JAX compiles this session: {report['jax_compiles']}")
    return report


__all__ = ["run_bench", "tolerance"]
