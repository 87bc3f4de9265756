"""PAR-style composite scoring: schemes, points from survey indices, totals, ranks.

Examples
--------
>>> from sipas.par import load_scheme
>>> load_scheme("province-2022").max_by_source()["appraisal"]
68.0
"""

from sipas.par.pipeline import score_pipeline
from sipas.par.scenarios import shortfall, what_if
from sipas.par.scheme import Area, Criterion, Scheme, SubCriterion, load_scheme, parse_scheme
from sipas.par.scoring import ParResult, score, survey_table

__all__ = [
    "Area",
    "Criterion",
    "ParResult",
    "Scheme",
    "SubCriterion",
    "load_scheme",
    "parse_scheme",
    "score",
    "score_pipeline",
    "shortfall",
    "survey_table",
    "what_if",
]
