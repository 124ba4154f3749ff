"""How a check run from a user's own test picks its seed and its number of networks: from Hypothesis's
own options, as a @given test would, so that pytest's `--hypothesis-seed`, `--hypothesis-profile` and
the user's registered settings profiles steer it.

The engine always runs seeded (its two passes must meet the same networks, searching/search.py), so
"no seed given" is resolved here, once per check, to the seed Hypothesis would have used.
"""
from __future__ import annotations

import random

from hypothesis import core, settings

from backprop_audit.model.network import DTYPES

DERANDOMIZED_SEED = 0  # under a derandomized profile every run draws the same networks


def resolved_seed(seed):
    """`seed` when given; otherwise in Hypothesis's own order of precedence (hypothesis.core's
    get_random_for_wrapped_test): a derandomized settings profile gives a fixed seed; then the seed of
    `pytest --hypothesis-seed` (hypothesis.core.global_force_seed); otherwise a fresh random one (every
    failure's reproduce line names it)."""
    if seed is not None:
        return seed
    if settings.default.derandomize:
        return DERANDOMIZED_SEED
    if core.global_force_seed is not None:
        return core.global_force_seed
    return random.SystemRandom().getrandbits(32)  # a fresh generator: the user's random state is left alone


def resolved_examples(examples) -> int:
    """`examples` (networks per dtype) when given, else the loaded settings profile's max_examples."""
    examples = settings.default.max_examples if examples is None else examples
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise ValueError(f"examples must be a whole number of networks, at least 1, got {examples!r}")
    return examples


def resolved_dtypes(dtypes) -> tuple[str, ...]:
    """The dtypes as a tuple of names, each one the engine checks in (float64 and float32)."""
    names = (dtypes,) if isinstance(dtypes, str) else tuple(str(d) for d in dtypes)
    unknown = [d for d in names if d not in DTYPES]
    if unknown or not names:
        raise ValueError(f"dtypes must name one or more of {', '.join(DTYPES)}, got {dtypes!r}")
    return names
