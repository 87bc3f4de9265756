"""Design-based rank tests: Wilcoxon, van der Waerden, median, Kruskal–Wallis (R
``svyranktest``, Lumley and Scott 2013).

Every row gets its estimated population rank (the weighted mid-rank, over the population
size); a score of it (the rank itself, its normal quantile, or whether it is above the
median) is then compared between groups as a domain mean: two groups by a t-test on the
difference, more groups by a Wald F test of all differences from the first group. The
scores are computed once on the full sample, so the test is on in-memory designs.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> sipas.rank_test(d, "p03", "urban").reference
't'
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sipas._validate import check_choice, plain
from sipas.backends.base import needs_memory
from sipas.design.protocol import SurveyDesign
from sipas.errors import DesignError
from sipas.estimation.estimators import check_design, columns_of, total
from sipas.estimation.recipes import levels
from sipas.tables.result import TestResult
from sipas.tables.ttest import drop_missing, rows_df, t_result

__all__ = ["RankTest", "rank_scores", "rank_test"]

RankTest = Literal["wilcoxon", "vanderWaerden", "median", "KruskalWallis"]
TESTS = ("wilcoxon", "vanderWaerden", "median", "KruskalWallis")
_SCORE = "__sipas_rank_score"


def rank_scores(y: np.ndarray, w: np.ndarray, test: RankTest) -> np.ndarray:
    """The rank score of every row (NaN where ``y`` is missing or the weight is 0).

    Parameters
    ----------
    y : numpy.ndarray
        The values (NaN: missing).
    w : numpy.ndarray
        The weights.
    test : {"wilcoxon", "vanderWaerden", "median", "KruskalWallis"}
        ``r / N`` (Wilcoxon, Kruskal–Wallis), ``Phi^-1(r / N)`` (van der Waerden), or
        ``1[r > N / 2]`` (median), with ``r`` the estimated population mid-rank.

    Notes
    -----
    ``r_i = sum_{j before i} w_j + w_i / 2`` in the order of ``y``; tied values get the
    plain (unweighted) mean of their mid-ranks, rows in their data order within a tie, as R
    ``svyranktest`` (so with unequal weights the ranks of ties depend on the row order, as
    in R).

    Examples
    --------
    >>> import numpy as np
    >>> rank_scores(np.array([3.0, 1.0, 2.0]), np.ones(3), "wilcoxon").round(4).tolist()
    [0.8333, 0.1667, 0.5]
    """
    keep = np.flatnonzero(~np.isnan(y) & (w > 0))
    order = keep[np.argsort(y[keep], kind="stable")]
    ws = w[order]
    mid = np.cumsum(ws) - ws / 2
    ys = y[order]
    tie = np.cumsum(np.r_[True, ys[1:] != ys[:-1]]) - 1
    mid = (np.bincount(tie, weights=mid) / np.bincount(tie))[tie]
    n = ws.sum()
    if test == "vanderWaerden":
        score = stats.norm.ppf(mid / n)
    elif test == "median":
        score = (mid > n / 2).astype("float64")
    else:
        score = mid / n
    out = np.full(len(y), np.nan)
    out[order] = score
    return out


def rank_test(design: SurveyDesign, y: str, group: str, *, test: RankTest = "wilcoxon",
              level: float = 0.95) -> TestResult:
    """Design-based rank test of a difference in ``y`` between the groups of ``group``.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (in memory: the ranks need every row).
    y : str
        A numeric (or ordinal) column; rows where ``y`` or ``group`` is missing are left
        out (they stay in the design).
    group : str
        The groups (two or more values).
    test : {"wilcoxon", "vanderWaerden", "median", "KruskalWallis"}
        The rank score (see :func:`rank_scores`). With two groups every test is a t-test of
        the difference in mean score (``KruskalWallis`` is then ``wilcoxon``); with more
        groups, a Wald F test of the group differences.
    level : float
        Confidence level of the interval (two groups).

    Returns
    -------
    TestResult
        Two groups: ``estimate`` (mean score of the second group minus the first), ``se``,
        interval, t ``statistic``, ``df`` = design df - 1, ``p_value``. More groups: F
        ``statistic`` = ``chisq / df_num`` with ``df_num`` = groups - 1 and ``df`` = design
        df - ``df_num``; ``details["chisq"]`` is the Wald chi-square.

    Raises
    ------
    DesignError
        An unknown column; ``y`` not numeric; ``group`` with fewer than two values; an
        unknown ``test``.
    EstimationError
        The design is on a Dask frame.

    Notes
    -----
    The difference in mean score is the slope of the weighted regression of the score on
    the group, and its SE is the design-based SE of the contrast of the group means of the
    score (the scores held fixed), as R. More groups: ``chisq = b' V^-1 b`` for the
    differences ``b`` from the first group and their covariance ``V``.
    R equivalent: ``svyranktest(y ~ group, design, test=...)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> r = sipas.rank_test(d, "p03", "district", test="KruskalWallis")
    >>> r.df_num, r.df
    (9.0, 21.0)
    """
    check_design(design)
    check_choice("test", test, TESTS)
    columns_of(design, [y, group], "y and group")
    needs_memory(design.backend, "a rank test")
    lv = [plain(v) for v in levels(design.backend, group)]
    if len(lv) < 2:
        raise DesignError(f"group column {group!r} must have at least two values; it has "
                          f"{lv}.")
    design = drop_missing(design, [group])
    frame = design.frame
    if not pd.api.types.is_numeric_dtype(frame[y]):
        raise DesignError(f"column {y!r} must be numeric for a rank test; got dtype "
                          f"{frame[y].dtype}. Convert ordered codes with pd.to_numeric.")
    values = frame[y].to_numpy(dtype="float64", na_value=np.nan)
    kind = "wilcoxon" if test == "KruskalWallis" else test
    w = design.weight_array * frame[group].notna().to_numpy()
    scores = rank_scores(values, w, kind)
    groups = pd.Categorical(frame[group], categories=lv).codes
    used = ~np.isnan(scores)
    g = len(lv)
    wsum = np.bincount(groups[used], weights=w[used], minlength=g)
    means = np.bincount(groups[used], weights=(w * scores)[used], minlength=g) / wsum
    infl = _influence(scores, groups, used, means, wsum)
    with warnings.catch_warnings():
        # a replicate design's frame holds one column per replicate: pandas calls it
        # fragmented; the columns added here are few and temporary
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        scored = design.with_columns({f"{_SCORE}{j}": infl[:, j] for j in range(g - 1)})
    totals = total(scored, [f"{_SCORE}{j}" for j in range(g - 1)])
    b = means[1:] - means[0]
    cov = totals.basis.cov()
    name = {"wilcoxon": "Wilcoxon", "vanderWaerden": "van der Waerden", "median": "median",
            "KruskalWallis": "Kruskal-Wallis"}[test]
    what = f"Design-based {name} rank test of {y} by {group}"
    if g == 2:
        df = float(rows_df(design, [y, group])) - 1
        return t_result(what, float(b[0]), float(np.sqrt(max(cov[0, 0], 0.0))), df, level,
                        {"groups": lv, "means": means.tolist()})
    chisq = float(b @ np.linalg.solve(cov, b))
    ndf = float(g - 1)
    ddf = float(rows_df(design, [y, group])) - ndf
    f = chisq / ndf
    return TestResult(f"{what} ({g} groups)", "F", f, df_num=ndf, df=ddf,
                      p_value=float(stats.f.sf(f, ndf, ddf)),
                      details={"chisq": chisq, "groups": lv, "means": means.tolist()})


def _influence(scores: np.ndarray, groups: np.ndarray, used: np.ndarray, means: np.ndarray,
               wsum: np.ndarray) -> np.ndarray:
    """Influence of each row on the differences of group mean scores from the first group,
    scores held fixed: ``(s_i - mean_g(i)) (1[g(i) = g] / N_g - 1[g(i) = 1] / N_1)``."""
    n, g = len(scores), len(means)
    resid = np.where(used, scores - means[np.maximum(groups, 0)], 0.0)
    out = np.zeros((n, g - 1))
    first = used & (groups == 0)
    for j in range(1, g):
        out[:, j - 1] = np.where(used & (groups == j), resid / wsum[j], 0.0)
        out[first, j - 1] = -resid[first] / wsum[0]
    return out
