"""The oracles: the same quantities from torch.autograd and from jax.grad, and central finite
differences in float64 as the tie-breaker when those two disagree.

Each oracle module writes its own forward pass and loss; none imports manual/. An oracle whose
framework is not installed is reported missing (`available()`, `missing()`): the tool says so once on
stderr, runs with the other, and run.py marks the report (environment.missing_oracles). With neither,
there is nothing to check against: `quantities` stops the program with exit status 2 and a message.

Importing this package (or the oracle modules) configures nothing: `start()` (frameworks.py) sets torch
and jax up for checking, once per process; each oracle calls it before its first computation.
"""
from __future__ import annotations

import importlib
import sys

from backprop_audit.references.frameworks import start  # noqa: F401  (backprop_audit.references.start())

ORACLE_MODULES = {"torch": "backprop_audit.references.torch_autograd", "jax": "backprop_audit.references.jax_grad"}
NO_ORACLE_EXIT = 2  # the command's usage/input-error status
_loaded: dict = {}
_missing: dict = {}
_announced: list = []


class NoOracleAvailable(SystemExit):
    """Neither torch nor jax can be imported: no check can run. Exits with status 2 when uncaught."""

    def __init__(self, message: str):
        super().__init__(NO_ORACLE_EXIT)
        self.message = message

    def __str__(self):
        return self.message


def _load(name: str):
    if name not in _loaded and name not in _missing:
        try:
            _loaded[name] = importlib.import_module(ORACLE_MODULES[name])
        except ImportError as error:  # the framework itself is not installed
            _missing[name] = f"{name} oracle unavailable: {error}"
    return _loaded.get(name)


def available() -> list[str]:
    """The oracles that can run here, in a fixed order; says once on stderr which one is missing."""
    names = [name for name in ORACLE_MODULES if _load(name) is not None]
    if _missing and names and not _announced:
        _announced.append(True)
        for reason in _missing.values():
            print(f"backprop-audit: warning: {reason}; checking against {' and '.join(names)} only "
                  f"(the report lists it under environment.missing_oracles)", file=sys.stderr)
    return names


def missing() -> dict[str, str]:
    available()
    return dict(_missing)


def require() -> list[str]:
    """The available oracles; with none, print why on stderr and stop with exit status 2."""
    names = available()
    if not names:
        message = ("backprop-audit: no oracle available, nothing to check against: "
                   + "; ".join(_missing.values())
                   + '. Install torch or jax beside it: pip install "backprop-audit[torch]", [jax] or [oracles].')
        print(message, file=sys.stderr)
        raise NoOracleAvailable(message)
    return names


def quantities(net) -> dict[str, dict]:
    """{oracle name: {quantity name: canonical array}} for every available oracle (at least one), computed
    afresh: a run remembers them (backprop_audit.judging.memory.RunMemory.oracle_answers)."""
    return {name: _load(name).quantities(net) for name in require()}


def jacobians(net, computed: dict | None = None) -> dict[str, dict]:
    """{oracle name: {Jacobian name: (N, out, in) array}} for every available oracle: the local Jacobians
    (model/quantity.py), computed only for a Jacobian claim (RunMemory.jacobian_answers remembers them).
    computed: some oracles' answers for this network, already computed (in a stack: batching/jacobians.py)."""
    computed = computed or {}
    return {name: computed[name] if name in computed else _load(name).jacobians(net) for name in require()}
