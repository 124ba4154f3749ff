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
