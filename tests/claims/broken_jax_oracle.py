"""A broken instrument for the tests: the jax oracle's softmax rows (the activation and the cross-entropy's
log-softmax) over the batch axis instead of the units; torch's are untouched.

`install(setattr)` puts it in place in this process: the compiled oracles are rebuilt around new functions
so that jax traces the mutant instead of reusing a trace of the right one. The tests pass pytest's
monkeypatch.setattr (everything is put back after the test); a claims file run by `check` in its worker
process imports this module and calls install() with the plain setattr (the worker ends with the run).
"""
import builtins
import dataclasses
import functools
from pathlib import Path

import jax

from backprop_audit.references import jax_grad
from backprop_audit.references.exported import Exported


def _softmax_over_the_batch(jax, jnp, z):
    return jax.nn.softmax(z, axis=0)  # the mutant: axis 0 is the batch, the units are axis -1


def _cross_entropy_over_the_batch(jax, jnp, t):
    log_s = jax.nn.log_softmax(t.z, axis=0)  # the same mistake in the loss's own softmax
    return -t.total(t.y * log_s) / t.n


def _mutated(rows, name, form):
    return tuple(dataclasses.replace(row, jax_form=form) if row.name == name else row for row in rows)


def _mutant_digest() -> bytes:
    """What the exports of the mutant read beyond the package's own code (references/exported.py): the operation
    table as it is now, and this file."""
    return jax_grad._table_digest() + Path(__file__).read_bytes()


@functools.cache
def _broken_oracles() -> dict:
    """The compiled oracles around new functions, made once per process: traced under the mutant rows at their
    first call, they stay the mutant, and a second install (the next test) reuses their compiles (~1.5 s each); a
    new process reads their exports (references/exported.py) instead of tracing them again."""
    # exported like the right oracle, under names of their own (a test instrument: the session's count of oracle
    # executables, tests/conftest.py, counts the tool's oracle only, as before they were exported); the file names
    # digest the operation table as it is at trace time (jax_grad._table_digest: the mutant rows' code), so neither
    # is ever read for the other
    return {"_compiled": Exported(lambda *args: jax_grad._all_gradients(*args), "broken_jax_gradients",
                                  depends=_mutant_digest),
            "_stacked": Exported(jax.vmap(lambda *args: jax_grad._all_gradients(*args)),
                                 "broken_jax_gradients_stacked", depends=_mutant_digest),
            "_plain": jax.jit(lambda *args: jax_grad._gradients_and_step(*args), static_argnums=(6, 7))}


def install(setattr=builtins.setattr) -> None:
    setattr(jax_grad, "ACTIVATION_ROWS", _mutated(jax_grad.ACTIVATION_ROWS, "softmax", _softmax_over_the_batch))
    setattr(jax_grad, "LOSS_ROWS", _mutated(jax_grad.LOSS_ROWS, "softmax_ce", _cross_entropy_over_the_batch))
    for name, oracle in _broken_oracles().items():
        setattr(jax_grad, name, oracle)
