"""Shared pytest configuration.

Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``:

* ``ci`` (the default): deterministic examples, no deadline, the failing example printed as
  a reproducible blob; each property test runs its own modest number of examples, so the
  whole hypothesis suite takes well under a minute.
* ``thorough``: 25 times as many examples per test, random, for a longer run locally
  (``HYPOTHESIS_PROFILE=thorough python -m pytest -k propert``).

Property tests take their number of examples from :func:`examples`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """Examples for a property test: ``n`` in CI, 25 times more with the thorough profile."""
    return n * 25 if PROFILE == "thorough" else n
