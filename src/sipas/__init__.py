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

from sipas import datasets, models, plan, small_area, units
from sipas._version import __version__
from sipas.compare import compare_domains, compare_waves, rank_domains
from sipas.design import Design, ReplicateDesign, WeightingStep, replicate
from sipas.drivers import DriverResult, drivers
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
    UnitError,
    WeightingError,
)
from sipas.estimation import (
    Estimate,
    contrast,
    mean,
    nonlinear_contrast,
    proportion,
    quantile,
    ratio,
    total,
)
from sipas.indices import IndexResult, factor_index, satisfaction_index
from sipas.indices.reliability import ReliabilityRules, flag
from sipas.io import SurveyData, SurveyMeta, read_survey
from sipas.models import ModelResult, glm, ordinal
from sipas.multiple import MultipleResponse, multiple_response
from sipas.reproduction import Reproduction, published_figures, reproduce
from sipas.spec import Spec, load_spec
from sipas.tables import Crosstab, TestResult, chisq_test, crosstab, rank_test, ttest
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
    "Crosstab",
    "Design",
    "DesignError",
    "DesignWarning",
    "DriverResult",
    "Estimate",
    "EstimationError",
    "IndexResult",
    "ModelResult",
    "MultipleResponse",
    "ReadError",
    "ReliabilityRules",
    "ReplicateDesign",
    "Reproduction",
    "ScoringError",
    "SipasError",
    "SipasWarning",
    "Spec",
    "SpecError",
    "SurveyData",
    "SurveyMeta",
    "TestResult",
    "UnitError",
    "WeightingError",
    "WeightingReport",
    "WeightingStep",
    "__version__",
    "base_weights",
    "calibrate",
    "chisq_test",
    "compare_domains",
    "compare_waves",
    "contrast",
    "crosstab",
    "datasets",
    "drivers",
    "factor_index",
    "flag",
    "glm",
    "load_spec",
    "mean",
    "models",
    "multiple_response",
    "nonlinear_contrast",
    "nonresponse",
    "ordinal",
    "plan",
    "poststratify",
    "proportion",
    "published_figures",
    "quantile",
    "rake",
    "rank_domains",
    "rank_test",
    "ratio",
    "read_survey",
    "replicate",
    "reproduce",
    "satisfaction_index",
    "small_area",
    "total",
    "trim",
    "ttest",
    "units",
    "weight_diagnostics",
    "weighting_report",
]
