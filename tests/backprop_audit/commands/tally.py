"""The closing line's counts, the same for `report` and `check`: how many were judged and what came of them."""
from __future__ import annotations

from backprop_audit.verdicts.vocabulary import Verdict


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 formula', '2 formulas' ('1 example', not '1 examples')."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def verdict_tally(entries: list, noun: str, plural: str | None = None) -> str:
    """'N nouns, H hold, F fail, E error' of report entries (`report` printed the holds alone)."""
    by = {verdict: sum(entry["verdict"] == verdict for entry in entries) for verdict in Verdict}
    return (f"{counted(len(entries), noun, plural)}, {by[Verdict.HOLDS]} hold, {by[Verdict.FAILS]} fail, "
            f"{by[Verdict.ERROR]} error")
