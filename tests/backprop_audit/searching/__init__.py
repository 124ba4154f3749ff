"""Hypothesis: the network strategies (strategies.py), the two-pass search that finds and shrinks a
counterexample (search.py) and the profiles dev/ci/nightly (profiles.py)."""
