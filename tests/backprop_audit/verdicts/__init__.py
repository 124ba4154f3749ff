"""From searches to a formula's verdict: the one vocabulary of verdicts, findings and diagnoses
(vocabulary.py), the audit of one formula (audit.py) into its typed result (result.py), the one writer
of its report.json entry (entry.py, contract: ../report.schema.json), the diagnosis of a failure
(diagnose.py) and a run over many formulas (run.py)."""
