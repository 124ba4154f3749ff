"""The auditor audited: run the mutant corpus and the catalog's errata, and write reports/trust.json.

Numbers the trust report carries (README "Trust: tolerances, mutants, soak"):
- mutants, mutants_killed: corpus size and how many search found (verdict fails or error), per dtype;
- diagnosed / diagnosis_expected: mutants whose expected diagnosis (kind and fix) the engine gave;
- soak_checks, soak_false_alarms, worst_correct_ratio: from the soak (backprop_audit.trust.soak): correct
  formulas checked, how many were judged wrong, and the largest error / tolerance any of them reached;
- smallest_erratum_ratio: for every mutant and every catalog erratum that fails by a numeric mismatch,
  take the error / tolerance of its *minimal* counterexample (the shrunk network the report shows: the
  worst entry there); report the smallest over all of them. Errata that fail by an error verdict
  (shape, NaN, exception) have no finite ratio and are counted apart (errata_by_error);
- margin = smallest_erratum_ratio / worst_correct_ratio: how far apart the two populations are.
The corpus is backprop_audit/trust/mutants.py; it ships inside the package, so a wheel runs `soak --mutants`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from backprop_audit.verdicts.diagnose import diagnose
from backprop_audit.verdicts.vocabulary import Verdict
from backprop_audit.judging.memory import RunMemory
from backprop_audit.searching.search import search

def load_mutants() -> list:
    """The Mutant records of the corpus (backprop_audit.trust.mutants), which ships inside the package."""
    from backprop_audit.trust.mutants import MUTANTS

    return MUTANTS


def reproduce_command(formula_id: str, dtype: str, examples: int, seed: int) -> str:
    return (f"backprop-audit soak --checks 0 --mutants --only {formula_id} --dtypes {dtype} --examples {examples} "
            f"--seed {seed}")


def check_erratum(formula, dtype: str = "float64", examples: int = 50, *, seed: int = 0,
                  diagnose_it: bool = True, expected_kind=None, expected_fix=None, memory: RunMemory | None = None) -> dict:
    """Search a formula known to be wrong; return whether it was found, its minimal ratio and diagnosis.
    memory: the run's (default: a fresh one, for this formula alone)."""
    memory = memory if memory is not None else RunMemory()
    result = search(formula, dtype=dtype, examples=examples, seed=seed, memory=memory)
    record = {"id": formula.id, "dtype": dtype, "mistake": formula.note, "killed": not result.held,
              "examples": result.examples, "verdict": Verdict.HOLDS, "ratio": None, "kind": None,
              "diagnosis_kind": None, "fix": None, "expected_diagnosis": expected_kind, "expected_fix": expected_fix,
              "diagnosed_as_expected": None, "reproduce": reproduce_command(formula.id, dtype, examples, seed),
              "message": ""}
    if result.held:
        return record
    minimal = result.minimal
    record.update(verdict=minimal.status, kind=minimal.kind,
                  ratio=minimal.ratio if math.isfinite(minimal.ratio) else None, message=minimal.message,
                  network=minimal.network.describe())
    if diagnose_it and expected_kind is not None:
        found = diagnose(formula, [minimal] + result.failures, dtype=dtype, memory=memory)
        record.update(diagnosis_kind=found.kind, fix=found.fix, diagnosis=found.text,
                      diagnosed_as_expected=(found.kind == expected_kind and found.fix == expected_fix))
    return record


def mutant_records(dtypes=("float64", "float32"), examples: int = 50, seed: int = 0, only=None, progress=None) -> list:
    memory, records = RunMemory(), []  # mutants that share a setting are searched on the same networks
    for mutant in load_mutants():
        if only and mutant.formula.id not in only:
            continue
        for dtype in dtypes:
            records.append(check_erratum(mutant.formula, dtype, examples, seed=seed,
                                         expected_kind=mutant.diagnosis, expected_fix=mutant.fix, memory=memory))
            if progress:
                progress(records[-1])
    return records


def catalog_erratum_records(dtypes=("float64", "float32"), examples: int = 50, seed: int = 0, only=None) -> list:
    from backprop_audit.manual import catalog

    memory = RunMemory()  # errata that share a setting are searched on the same networks
    return [check_erratum(f, dtype, examples, seed=seed, diagnose_it=False, memory=memory)
            for f in catalog() if f.expected == "erratum" and (not only or f.id in only) for dtype in dtypes]


def summary(mutants: list, errata: list, soak: dict | None) -> dict:
    """The trust.json dict (see the module docstring for each number)."""
    failing = [r for r in mutants + errata if r["killed"] and r["ratio"] is not None]
    smallest = min(failing, key=lambda r: r["ratio"], default=None)
    expected = [r for r in mutants if r["expected_diagnosis"] is not None]
    worst_correct = soak.get("worst_correct_ratio") if soak else None
    return {
        "mutants": len({r["id"] for r in mutants}),
        "mutant_checks": len(mutants),
        "mutants_killed": len({r["id"] for r in mutants if r["killed"]}) if mutants else 0,
        "mutant_checks_killed": sum(r["killed"] for r in mutants),
        "mutants_survived": sorted({f"{r['id']} ({r['dtype']})" for r in mutants if not r["killed"]}),
        "diagnosis_expected": len(expected),
        "diagnosed_as_expected": sum(bool(r["diagnosed_as_expected"]) for r in expected),
        "misdiagnosed": [{k: r[k] for k in ("id", "dtype", "expected_diagnosis", "expected_fix", "diagnosis_kind", "fix")}
                         for r in expected if not r["diagnosed_as_expected"]],
        "catalog_errata": len({r["id"] for r in errata}),
        "catalog_errata_found": len({r["id"] for r in errata if r["killed"]}) if errata else 0,
        "errata_by_error": sum(r["killed"] and r["ratio"] is None for r in mutants + errata),
        "smallest_erratum_ratio": smallest["ratio"] if smallest else None,
        "smallest_erratum": f"{smallest['id']} ({smallest['dtype']}) on {smallest.get('network')}" if smallest else None,
        **(soak or {}),
        "margin": (smallest["ratio"] / worst_correct) if smallest and worst_correct else None,
        "records": mutants + errata,
    }


def write_trust(report: dict, out: Path) -> Path:
    from backprop_audit.reports.write import write_atomically

    path = Path(out) / "trust.json"
    write_atomically(path, json.dumps(report, indent=2, default=str) + "\n")
    return path
