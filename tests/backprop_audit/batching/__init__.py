"""The same judgement over many networks at once: padded stacks (padded.py), their tolerances
(padded_tolerance.py), the stacked check (screen.py) and the sweep of one architecture (sweep.py)."""
