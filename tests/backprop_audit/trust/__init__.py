"""How far the engine can be trusted and how fast it is: the mutant corpus (mutants.py) and its audit
(trust.py), the soak of correct formulas (soak.py), the benchmark (bench.py, bench_formulas.py)."""
