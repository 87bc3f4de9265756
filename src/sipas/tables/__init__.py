"""Two-way tables and design-based tests: shares with SEs, Rao–Scott and Wald tests of
association, the t-test and rank tests of a difference between groups.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> sipas.chisq_test(d, "urban", "p01").reference
'F'
"""

from sipas.tables.chisq import chisq_test
from sipas.tables.crosstab import Crosstab, crosstab
from sipas.tables.ranktest import rank_test
from sipas.tables.result import TestResult
from sipas.tables.ttest import ttest

__all__ = ["Crosstab", "TestResult", "chisq_test", "crosstab", "rank_test", "ttest"]
