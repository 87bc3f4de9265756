"""Planning next wave's sample: precision from last wave, sample size, allocation, selection.

Not to be confused with :mod:`sipas.weighting.plan`, the ``[weighting]`` section of the
pipeline file (how last wave's weights were made).
"""

from __future__ import annotations

from sipas.plan.allocation import Allocation, allocate
from sipas.plan.precision import Precision, precision
from sipas.plan.selection import Selection, inclusion_probabilities, select
from sipas.plan.size import SampleSize, margin_of_error, sample_size
from sipas.plan.workflow import SamplePlan, plan_sample

__all__ = ["Allocation", "Precision", "SamplePlan", "SampleSize", "Selection", "allocate",
           "inclusion_probabilities", "margin_of_error", "plan_sample", "precision",
           "sample_size", "select"]
