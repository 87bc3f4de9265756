"""sipas: design-based statistics for citizen-satisfaction surveys and the PAR INDEX.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> design = sipas.Design.from_spec(sd)
>>> est = sipas.proportion(design, "p01", value=1)
>>> 0.6 < float(est.to_frame()["estimate"][0]) < 0.8
True
"""

from __future__ import annotations

from sipas import datasets
from sipas._version import __version__
from sipas.design import Design, ReplicateDesign, WeightingStep, replicate
from sipas.errors import (
    ConvergenceError,
    DesignError,
    DesignWarning,
    EstimationError,
    ReadError,
    ScoringError,
    SipasError,
    SipasWarning,
    SpecError,
    WeightingError,
)
from sipas.estimation import Estimate, contrast, mean, proportion, quantile, ratio, total
from sipas.indices import IndexResult, factor_index, satisfaction_index
from sipas.io import SurveyData, SurveyMeta, read_survey
from sipas.spec import Spec, load_spec
from sipas.weighting import (
    WeightingReport,
    base_weights,
    calibrate,
    nonresponse,
    poststratify,
    rake,
    trim,
    weight_diagnostics,
    weighting_report,
)

__all__ = [
    "ConvergenceError",
    "Design",
    "DesignError",
    "DesignWarning",
    "Estimate",
    "EstimationError",
    "IndexResult",
    "ReadError",
    "ReplicateDesign",
    "ScoringError",
    "SipasError",
    "SipasWarning",
    "Spec",
    "SpecError",
    "SurveyData",
    "SurveyMeta",
    "WeightingError",
    "WeightingReport",
    "WeightingStep",
    "__version__",
    "base_weights",
    "calibrate",
    "contrast",
    "datasets",
    "factor_index",
    "load_spec",
    "mean",
    "nonresponse",
    "poststratify",
    "proportion",
    "quantile",
    "rake",
    "ratio",
    "read_survey",
    "replicate",
    "satisfaction_index",
    "total",
    "trim",
    "weight_diagnostics",
    "weighting_report",
]
