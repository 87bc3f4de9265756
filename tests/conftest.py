"""Shared pytest configuration.

Hypothesis profiles: ``ci`` (deterministic examples, no deadline, failing example printed as a
reproducible blob) is chosen with ``HYPOTHESIS_PROFILE=ci``; the default is hypothesis's own.
Tests still set their own ``max_examples`` to stay fast.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
