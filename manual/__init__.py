"""The formulas of the four source documents, transcribed literally in NumPy, one module per document, and
the standard formulas of the operations they do not cover (standard.py).

Each module holds a list FORMULAS of backprop_audit.Formula records, in the order the document gives
them. `catalog()` returns all of them.
"""
from __future__ import annotations

import importlib

DOCUMENT_MODULES = ("doc_000", "doc_001", "doc_002", "doc_003", "doc_003_listings", "standard", "standard_layers")
# standard: the usual correct formulas of the losses and activations no seed document covers (CS231n, Bishop,
# the torch documentation, the ELU and GELU papers), their quotes marked as paraphrases


def catalog() -> list:
    formulas = []
    for name in DOCUMENT_MODULES:
        formulas += importlib.import_module(f"backprop_audit.manual.{name}").FORMULAS
    return formulas


def notations() -> dict:
    """{document: its notation against the report's, in a few sentences}: the NOTATION of each module that states
    one (a reviewer: document 000's layers numbered from 0 were explained in its module alone, while every
    diagnosis names the report's W[2] for its w[1])."""
    found = {}
    for name in DOCUMENT_MODULES:
        module = importlib.import_module(f"backprop_audit.manual.{name}")
        if hasattr(module, "NOTATION"):
            found[module.DOC] = module.NOTATION
    return found
