"""Design-based t-test of a difference between two groups, or of one mean (R ``svyttest``).

The difference of two domain means is the slope of ``y ~ group`` fitted on the design, so
its SE is that of the contrast of :func:`sipas.mean` by ``group`` (the same linearisation,
calibration and replicates as every estimate), and the t reference has the residual df of
that regression: the design df minus one.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> r = sipas.ttest(d, "p03", "urban")
>>> r.reference, r.df
('t', 29.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sipas._validate import check_level, plain
from sipas.design.protocol import SurveyDesign
from sipas.engine.intervals import t_quantile
from sipas.errors import DesignError, EstimationError
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import check_design, columns_of, mean
from sipas.estimation.recipes import levels
from sipas.tables.result import TestResult

__all__ = ["difference_test", "drop_missing", "group_levels", "rows_df", "t_result", "ttest"]


def ttest(design: SurveyDesign, y: str, group: str | None = None, *, mu: float = 0.0,
          level: float = 0.95) -> TestResult:
    """t-test of the difference in the mean of ``y`` between the two groups of ``group``
    (or, without ``group``, of ``mean(y) = mu``).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design.
    y : str
        A numeric column; rows where it is missing are left out (they stay in the design).
    group : str, optional
        A column with exactly two values (codes or text); the estimate is the mean of the
        second (in sorted order) minus the mean of the first, as R's regression coding.
        Rows where it is missing are left out.
    mu : float
        The hypothesised mean (one-sample test only).
    level : float
        Confidence level of the interval.

    Returns
    -------
    TestResult
        ``estimate`` (difference, or ``mean - mu``), ``se``, ``ci_low``, ``ci_high``, the t
        ``statistic``, its ``df`` and the two-sided ``p_value``; ``details`` holds the two
        groups (``groups``) and their means.

    Raises
    ------
    DesignError
        An unknown column; ``y`` not numeric; ``group`` without exactly two observed
        values (the message lists them); ``mu`` not finite.

    Notes
    -----
    ``t = (ybar_2 - ybar_1) / se``, ``se`` the design-based SE of the contrast of the two
    domain means (equal to the sandwich SE of the slope of ``svyglm(y ~ group)``);
    ``df`` = design df counted on the rows used, minus 1 (R ``df.residual``); one-sample:
    ``t = (ybar - mu) / se(ybar)`` on the design df minus 1.
    R equivalent: ``svyttest(y ~ group, design)``; one-sample
    ``svyttest(I(y - mu) ~ 0, design)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> r = sipas.ttest(d, "p03", mu=3.5)
    >>> r.estimate > 0, r.df
    (True, 29.0)
    """
    check_design(design)
    level = check_level(level)
    columns_of(design, y, "y")
    if group is None:
        if not isinstance(mu, (int, float)) or not math.isfinite(mu):
            raise DesignError(f"mu must be a finite number; got {mu!r}.")
        est = mean(design, y)
        df = float(rows_df(design, [y])) - 1
        value = float(est.to_frame()["estimate"][0]) - float(mu)
        se = float(est.to_frame()["se"][0])
        return t_result(f"Design-based one-sample t-test of mean({y}) = {plain(mu)}",
                         value, se, df, level, {"mean": value + mu, "mu": mu})
    design, lv = group_levels(design, group, y)
    est = mean(design, y, by=group)
    return difference_test(est, design, lv, [y, group], level,
                           f"Design-based t-test of {y} by {group}")


def group_levels(design: SurveyDesign, group: str, y: str) -> tuple[SurveyDesign, list[Any]]:
    """The two levels of ``group`` (refused otherwise); rows missing it are dropped from
    the domain (R's model frame drops them)."""
    columns_of(design, group, "group")
    lv = [plain(v) for v in levels(design.backend, group)]
    if len(lv) != 2:
        raise DesignError(f"group column {group!r} must have exactly two values; it has "
                          f"{len(lv)}: {lv[:12]}. Recode it to two groups, or use "
                          "sipas.rank_test(..., test='KruskalWallis') or sipas.chisq_test "
                          "for more groups.")
    return drop_missing(design, [group]), lv


def drop_missing(design: SurveyDesign, columns: list[str]) -> SurveyDesign:
    if not design.backend.in_memory:
        return design  # a missing domain value is refused by the domain coder
    frame = design.frame
    present = frame[columns].notna().all(axis=1).to_numpy()
    return design if present.all() else design.subset(present)


def rows_df(design: SurveyDesign, columns: list[str]) -> int:
    """Design df on the positive-weight rows where every column is answered."""
    if not design.backend.in_memory:
        return int(design.df)
    frame = design.frame
    used = frame[columns].notna().all(axis=1).to_numpy() & (design.weight_array > 0)
    if used.all():
        return int(design.df)
    return int(design.domain_df(used))


def difference_test(est: Estimate, design: SurveyDesign, lv: list[Any], columns: list[str],
                    level: float, test: str) -> TestResult:
    """t-test of the second row of a two-domain estimate minus the first."""
    if len(est) != 2:
        raise EstimationError(f"the groups {lv} do not both have respondents with an answer; "
                              "a difference needs two groups.")
    diff = est.basis.combine(np.array([[-1.0], [1.0]]))
    value = float(diff.full[0])
    se = float(np.sqrt(max(diff.var()[0], 0.0)))
    df = float(rows_df(design, columns)) - 1
    means = est.to_frame()["estimate"].tolist()
    return t_result(test, value, se, df, level, {"groups": lv, "means": means})


def t_result(test: str, value: float, se: float, df: float, level: float,
              details: dict[str, Any]) -> TestResult:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = value / se if se > 0 else math.nan
    p = float(2 * stats.t.sf(abs(t), df)) if df > 0 else math.nan
    q = float(t_quantile(level, np.array([df]))[0]) if df > 0 else math.nan
    return TestResult(test, "t", t, df=df, p_value=p, estimate=value, se=se,
                      ci=(value - q * se, value + q * se), level=level, details=details)
