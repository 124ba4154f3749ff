"""backprop-audit: the checking engine (strategies, comparison, verdicts, diagnosis) and the command.

Installed as the package `backprop_audit`; the catalog (manual/), the oracles (references/) and the
report writer (reports/) are installed as its subpackages backprop_audit.manual, .references, .reports.
This folder lives under tests/ because the design puts the strategies and the comparison helper there;
pytest, `backprop-audit report` and `backprop-audit check` all import it from here.
"""
from .formula import Formula, RecordError, Setting, Source  # noqa: F401
from .network import Layer, Network, NetworkError  # noqa: F401

__version__ = "0.1.0"
