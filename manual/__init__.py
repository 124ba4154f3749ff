"""The formulas of the four source documents, transcribed literally in NumPy, one module per document.

Each module holds a list FORMULAS of backprop_audit.Formula records, in the order the document gives
them. `catalog()` returns all of them.
"""
from __future__ import annotations

import importlib

DOCUMENT_MODULES = ("doc_000", "doc_001", "doc_002", "doc_003", "doc_003_listings")


def catalog() -> list:
    formulas = []
    for name in DOCUMENT_MODULES:
        formulas += importlib.import_module(f"backprop_audit.manual.{name}").FORMULAS
    return formulas
