"""Weighting: base weights, non-response, post-stratification, raking, calibration, trimming.

Every function takes a design and returns a new one (the input is never changed) that
records the step in ``design.history``; :func:`weight_diagnostics` and
:func:`weighting_report` show what each step did.
"""

from sipas.weighting.adjust import base_weights, nonresponse, trim
from sipas.weighting.calibrate import calibrate
from sipas.weighting.cells import poststratify, rake
from sipas.weighting.diagnostics import WeightingReport, weight_diagnostics, weighting_report

__all__ = [
    "WeightingReport",
    "base_weights",
    "calibrate",
    "nonresponse",
    "poststratify",
    "rake",
    "trim",
    "weight_diagnostics",
    "weighting_report",
]
