"""The oracles: the same quantities from torch.autograd and from jax.grad, and central finite
differences in float64 as the tie-breaker when those two disagree.

Each oracle module writes its own forward pass and loss; none imports manual/. An oracle whose
framework is not installed is reported missing (`available()`), and the checks run with the other.
"""
from __future__ import annotations

import importlib

ORACLE_MODULES = {"torch": "backprop_audit.references.torch_autograd", "jax": "backprop_audit.references.jax_grad"}
_loaded: dict = {}
_missing: dict = {}


def _load(name: str):
    if name not in _loaded and name not in _missing:
        try:
            _loaded[name] = importlib.import_module(ORACLE_MODULES[name])
        except ImportError as error:  # the framework itself is not installed
            _missing[name] = f"{name} oracle unavailable: {error}"
    return _loaded.get(name)


def available() -> list[str]:
    """The oracles that can run here, in a fixed order."""
    return [name for name in ORACLE_MODULES if _load(name) is not None]


def missing() -> dict[str, str]:
    available()
    return dict(_missing)


def quantities(net) -> dict[str, dict]:
    """{oracle name: {quantity name: canonical array}} for every available oracle."""
    return {name: _load(name).quantities(net) for name in available()}
