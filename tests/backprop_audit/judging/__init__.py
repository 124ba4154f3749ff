"""Judging one formula on one network: the tolerance model (tolerance.py), the entrywise comparison
(compare.py) and the check that ties them to the oracles (evaluate.py)."""
