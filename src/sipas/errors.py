"""The exceptions sipas raises.

Every failure a user can cause is a :class:`SipasError`. The subclasses say which layer
refused the input; they also subclass :class:`ValueError` so that code written against the
standard library keeps working.

Examples
--------
>>> from sipas.errors import SpecError, SipasError
>>> issubclass(SpecError, SipasError) and issubclass(SpecError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "DesignError",
    "DesignWarning",
    "DisclosureError",
    "EstimationError",
    "PlanError",
    "ReadError",
    "ScoringError",
    "SipasError",
    "SipasWarning",
    "SmallAreaError",
    "SpecError",
    "UnitError",
    "WeightingError",
]


class SipasError(Exception):
    """Base class of every error sipas raises on purpose."""


class ReadError(SipasError, ValueError):
    """A data file cannot be read, or its content does not match the questionnaire spec."""


class SpecError(SipasError, ValueError):
    """A questionnaire spec, pipeline file or PAR scheme is invalid."""


class DesignError(SipasError, ValueError):
    """A survey design (or an argument of an estimator) is invalid."""


class EstimationError(DesignError):
    """An estimate cannot be computed from the data given."""


class WeightingError(SipasError, ValueError):
    """A weighting step cannot be applied (targets, cells, bounds)."""


class ConvergenceError(WeightingError):
    """An iterative weighting step did not reach its tolerance."""


class ScoringError(SipasError, ValueError):
    """PAR scoring inputs do not fit the scheme."""


class DisclosureError(SipasError, ValueError):
    """A table would disclose respondents (respondent-level rows in a report)."""


class UnitError(SipasError, ValueError):
    """An administrative unit cannot be found, is ambiguous, or a crosswalk loses population."""


class SipasWarning(UserWarning):
    """Base class of the warnings sipas gives on purpose (an input it accepts but doubts)."""


class DesignWarning(SipasWarning):
    """A design is valid but its columns contradict each other (e.g. fpc and weights)."""


class PlanError(SipasError, ValueError):
    """A sample plan cannot be made: a target, population, allocation or frame is invalid."""


class SmallAreaError(SipasError, ValueError):
    """A small-area model cannot be fitted: direct estimates, variances or covariates."""
