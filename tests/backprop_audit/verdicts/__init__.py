"""From searches to a formula's verdict: the audit of one formula (audit.py), the diagnosis of a failure
(diagnose.py) and a run over many formulas (run.py)."""
