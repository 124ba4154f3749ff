"""The same judgement over many networks at once: padded stacks (padded.py; judging's tolerance model
and kink test run on them as on one network), the stacked check (screen.py) and the sweep of one
architecture (sweep.py)."""
