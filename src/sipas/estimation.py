"""Design-based estimators: mean, total, proportion, ratio, quantile, and contrasts.

Every estimator takes a design (Taylor or replicate: the design decides the variance method),
one or several variables, optional ``by=`` domain columns, and returns an :class:`Estimate`
whose ``to_frame()`` has the fixed columns
``<by...>, variable, estimate, se, ci_low, ci_high, df, deff, n, n_missing, cv, deff_replace``.

Domains and missing values follow R's ``survey``: rows outside a domain, and rows where the
analysed variable is missing, keep their place in the design with zero weight (so strata and
PSUs stay in the variance); ``n`` counts the respondents used and ``n_missing`` those left
out. ``missing="error"`` refuses missing values instead.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> est = sipas.proportion(d, "q01", value=[4, 5])
>>> list(est.to_frame().columns[:5])
['variable', 'estimate', 'se', 'ci_low', 'ci_high']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sipas._validate import (
    as_name_list,
    check_choice,
    check_df,
    check_level,
    message,
    plain,
)
from sipas.backends import is_dask
from sipas.ci import CIMethod, proportion_interval, wald_interval
from sipas.errors import DesignError, EstimationError
from sipas.estimate import Estimate, _from_basis, _table
from sipas.fitting import (
    AnyDesign,
    _check_design,
    _fit_in_memory,
    _mask_columns,
    _require,
    domains,
)
from sipas.recipes import (
    Missing,
    NumericRecipe,
    RatioRecipe,
    ShareRecipe,
    _levels,
)
from sipas.variance import RatioSource, VarBasis

__all__ = ["Estimate", "contrast", "mean", "proportion", "ratio", "total"]
def mean(design: AnyDesign, variables: str | Sequence[str], *, by: str | Sequence[str] | None
         = None, level: float = 0.95, df: float | None = None,
         missing: Missing = "omit") -> Estimate:
    """Weighted mean of one or more numeric variables, overall or by domains.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method (linearization or replicates).
    variables : str or list of str
        Numeric column(s); one result row per column (and domain).
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave missing values out as a domain (R ``na.rm=TRUE``) or refuse them.

    Returns
    -------
    Estimate
        One row per (domain, variable); statistic ``mean``.

    Raises
    ------
    DesignError
        ``design`` is not a design; a column is not in the data, is not numeric or holds
        infinite values; a ``by`` column has missing values; ``level``, ``df`` or
        ``missing`` is invalid.
    EstimationError
        ``missing="error"`` and a positive-weight row has no value.

    Notes
    -----
    ``ybar = sum w y / sum w``; influence ``w (y - ybar) / sum w``. ``deff`` compares with
    simple random sampling without replacement, ``v_srs = s^2 (N - n)/(N n)`` with the
    weighted ``s^2`` (n-1 divisor) as in R ``svymean(deff=TRUE)``.
    R equivalent: ``svymean(~y, design, na.rm=TRUE)``, ``svyby(~y, ~by, design, svymean)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> round(float(sipas.mean(d, "p03").to_frame()["estimate"][0]), 2)
    3.77
    """
    names = _variables(design, variables, "variables")
    check_choice("missing", missing, ("omit", "error"))
    return _ratio_estimate(design, NumericRecipe(tuple(names), missing), names, by, level, df,
                           "mean", deff=True)


def total(design: AnyDesign, variables: str | Sequence[str], *, by: str | Sequence[str] | None
          = None, level: float = 0.95, df: float | None = None,
          missing: Missing = "omit") -> Estimate:
    """Weighted total (``sum w y``) of one or more numeric variables, overall or by domains.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method (linearization or replicates).
    variables : str or list of str
        Numeric column(s); one result row per column (and domain).
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave missing values out (they add nothing, R ``na.rm=TRUE``) or refuse them.

    Returns
    -------
    Estimate
        One row per (domain, variable); statistic ``total``. A domain without respondents
        has a NaN total (not 0).

    Raises
    ------
    DesignError
        ``design`` is not a design; a column is not in the data, is not numeric or holds
        infinite values; a ``by`` column has missing values; ``level``, ``df`` or
        ``missing`` is invalid.
    EstimationError
        ``missing="error"`` and a positive-weight row has no value.

    Notes
    -----
    ``Y = sum w y``; influence ``w y``. ``deff`` compares with simple random sampling
    without replacement, ``v_srs = N^2 s^2 (N - n)/(N n)`` with ``N = sum w`` over the
    answered rows and the weighted ``s^2`` (n-1 divisor).
    R equivalent: ``svytotal(~y, design, na.rm=TRUE)``, ``svyby(~y, ~by, design, svytotal)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> float(sipas.total(d, "p03").to_frame()["n"][0]) > 0
    True
    """
    names = _variables(design, variables, "variables")
    check_choice("missing", missing, ("omit", "error"))
    return _ratio_estimate(design, NumericRecipe(tuple(names), missing, total=True), names, by,
                           level, df, "total", deff=True)


def proportion(design: AnyDesign, variable: str | Sequence[str], value: Any = None, *,
               by: str | Sequence[str] | None = None, method: CIMethod = "logit",
               level: float = 0.95, df: float | None = None,
               missing: Missing = "omit") -> Estimate:
    """Share of respondents whose answer is ``value`` (or one of a list of values).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method (linearization or replicates).
    variable : str or list of str
        Column(s) (numeric codes or text). Several columns need ``value`` (the same codes
        for all, e.g. the satisfied codes of 22 items): one row per column.
    value : scalar or list, optional
        The category (or categories, e.g. ``[4, 5]`` for the top two boxes) to count.
        ``None``: one row per observed category of the (single) column.
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    method : {"logit", "wald", "mean", "xlogit", "likelihood", "asin", "beta", "wilson"}
        Interval method (see :mod:`sipas.ci`); the SE is always the linearized SE.
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave unanswered rows out of the denominator (R ``na.rm=TRUE``) or refuse them.

    Returns
    -------
    Estimate
        One row per (domain, column, category) with ``variable`` named ``q01=4`` or
        ``q01 in [4, 5]``; statistic ``proportion``; shares in [0, 1].

    Raises
    ------
    DesignError
        Several columns without ``value``; ``value`` never occurs in a column (the message
        lists the codes found); an unknown ``method``; and the errors of :func:`mean`.
    EstimationError
        ``missing="error"`` and a positive-weight row has no answer; ``method="likelihood"``
        on a Dask design.

    Notes
    -----
    ``p = sum w 1[y in value] / sum w 1[y answered]``, a ratio estimator with influence
    ``w (1[y in value] - p) / sum w``; the interval formulas are in :mod:`sipas.ci`.
    R equivalent: ``svyciprop(~I(y == value), design, method=)`` (``wald`` = ``svymean``),
    by domains ``svyby(~I(y == value), ~by, design, svyciprop)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> f = sipas.proportion(d, "p01", value=1).to_frame()
    >>> bool(f.ci_low[0] < f.estimate[0] < f.ci_high[0])
    True
    >>> len(sipas.proportion(d, ["q01", "q02", "q03"], value=[4, 5]))
    3
    """
    check_choice("method", method, ("wald", "mean", "logit", "xlogit", "likelihood", "asin",
                                    "beta", "wilson"))
    check_choice("missing", missing, ("omit", "error"))
    names_in = _variables(design, variable, "variable")
    if len(names_in) > 1 and value is None:
        raise DesignError("proportion of several columns needs value= (the codes to count in "
                          "every column, e.g. value=[4, 5]).")
    groups, names = [], []
    for var in names_in:
        if value is None:
            levels = [[lv] for lv in _levels(design, var)]
        else:
            levels = [list(value) if isinstance(value, (list, tuple, set)) else [value]]
        for g in levels:
            groups.append((var, tuple(g)))
            names.append(f"{var}={plain(g[0])}" if len(g) == 1 else
                         f"{var} in {[plain(v) for v in g]}")
    recipe = ShareRecipe(tuple(groups), missing, check=value is not None)
    return _ratio_estimate(design, recipe, names, by, level, df, "proportion", deff=True,
                           ci_method=method, binary=True)


def ratio(design: AnyDesign, numerator: str | Sequence[str], denominator: str | Sequence[str],
          *, by: str | Sequence[str] | None = None, level: float = 0.95,
          df: float | None = None, missing: Missing = "omit") -> Estimate:
    """Ratio of weighted totals ``sum w y / sum w x`` (several pairs at once).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method (linearization or replicates).
    numerator : str or list of str
        Numeric column(s) ``y``.
    denominator : str or list of str
        Numeric column(s) ``x``: one for every numerator, or one per numerator (pairs).
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave a row missing either value out of both sums (R ``na.rm=TRUE``) or refuse it.

    Returns
    -------
    Estimate
        One row per (domain, pair), ``variable`` named ``y/x``; statistic ``ratio``
        (``deff`` is NaN).

    Raises
    ------
    DesignError
        ``denominator`` has neither one column nor one per numerator; and the errors of
        :func:`mean`.
    EstimationError
        Without ``by``: the weighted total of a denominator is 0, so the ratio is undefined;
        ``missing="error"`` and a positive-weight row has no value.

    Notes
    -----
    ``R = sum w y / sum w x``; influence ``w (y - R x) / sum w x``. A row missing either
    variable is left out of both. R equivalent: ``svyratio(~y, ~x, design, na.rm=TRUE)``,
    by domains ``svyby(~y, ~by, design, svyratio, denominator=~x)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> r = sipas.ratio(d, "q23", "p03").to_frame()
    >>> r["variable"][0]
    'q23/p03'
    """
    nums = _variables(design, numerator, "numerator")
    dens = _variables(design, denominator, "denominator")
    if len(dens) == 1 and len(nums) > 1:
        dens = dens * len(nums)
    if len(nums) != len(dens):
        raise DesignError(message("denominator", f"one column or {len(nums)} columns", dens))
    check_choice("missing", missing, ("omit", "error"))
    names = [f"{a}/{b}" for a, b in zip(nums, dens)]
    est = _ratio_estimate(design, RatioRecipe(tuple(nums), tuple(dens), missing), names, by,
                          level, df, "ratio", deff=False)
    undefined = est.table["estimate"].isna().to_numpy() & (est.table["n"].to_numpy() > 0)
    if by is None and undefined.any():
        zero = [dens[i] for i in np.flatnonzero(undefined)]
        raise EstimationError(f"the weighted total of denominator column(s) {zero} is 0, so "
                              "the ratio is undefined. Check the column (all zeros?) or choose "
                              "another denominator.")
    return est


def contrast(estimate: Estimate, weights: Mapping[str, float] | np.ndarray | Sequence[float],
             *, name: str = "contrast", level: float | None = None,
             df: float | None = None) -> Estimate:
    """Linear combination ``sum_i c_i theta_i`` of the rows of an estimate, with its SE.

    Parameters
    ----------
    estimate : Estimate
        The estimates to combine (mean, total, proportion, ratio, index or contrast rows of
        one design; quantiles carry no covariance).
    weights : mapping, array or matrix
        A mapping row label -> coefficient (labels are ``Estimate.labels``; rows left out
        get 0), or an array with one coefficient per row, or a (rows x q) matrix for q
        contrasts at once.
    name : str
        Name of the result row (``variable`` column); ``name_1``... for several.
    level : float, optional
        Confidence level of the interval; default the level of ``estimate``.
    df : float, optional
        Default: the smallest df of the rows involved.

    Returns
    -------
    Estimate
        One row per contrast; statistic ``contrast``, Wald-t interval; ``n`` and
        ``n_missing`` are NA and ``deff`` NaN. It keeps a covariance, so contrasts of
        contrasts work.

    Raises
    ------
    EstimationError
        ``estimate`` has no covariance; a label in ``weights`` is not a row; the number of
        coefficients differs from the number of rows; a coefficient is not finite.
    DesignError
        ``level`` or ``df`` is invalid.

    Notes
    -----
    ``var(c' theta) = c' V c`` with the full covariance ``V`` of the rows. A row with a zero
    coefficient does not enter, even when it is NaN (an empty domain).
    R equivalent: ``svycontrast(svyby(..., covmat=TRUE), contrasts)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> by = sipas.mean(d, "p03", by="urban")
    >>> diff = sipas.contrast(by, [1, -1], name="urban - rural")
    >>> diff.to_frame()["variable"][0]
    'urban - rural'
    """
    if estimate.basis is None:
        raise EstimationError(f"{estimate.statistic} estimates have no covariance; contrasts "
                              "need means, totals, proportions, ratios or indices.")
    level = estimate.level if level is None else check_level(level)
    df = check_df(df)
    k = len(estimate)
    if isinstance(weights, Mapping):
        labels = estimate.labels
        unknown = [key for key in weights if key not in labels]
        if unknown:
            raise EstimationError(f"contrast names unknown row(s) {unknown}; rows are {labels}.")
        mat = np.array([[weights.get(lb, 0.0)] for lb in labels], dtype="float64")
    else:
        mat = np.asarray(weights, dtype="float64")
        mat = mat[:, None] if mat.ndim == 1 else mat
    if mat.shape[0] != k:
        raise EstimationError(message("weights", f"{k} coefficients (one per row)", mat.shape[0]))
    if not np.all(np.isfinite(mat)):
        raise EstimationError(message("weights", "finite numbers", mat.ravel().tolist()))
    basis = estimate.basis.combine(mat)
    involved = np.abs(mat).sum(axis=1) > 0
    row_df = float(estimate.table["df"].to_numpy()[involved].min()) if df is None else df
    names = [name] if mat.shape[1] == 1 else [f"{name}_{i + 1}" for i in range(mat.shape[1])]
    return _from_basis(basis, names, level, np.full(len(names), row_df), "contrast",
                       ci_method="wald")


# ---------------------------------------------------------------------- engine

def _ratio_estimate(design: AnyDesign, recipe: Any, names: list[str], by: Any, level: float,
                    df: float | None, statistic: str, *, deff: bool,
                    ci_method: str = "wald", binary: bool = False) -> Estimate:
    level = check_level(level)
    df = check_df(df)
    _check_design(design)
    if is_dask(design.frame):
        from sipas.backends.dask import fit_recipe

        if ci_method == "likelihood":
            raise EstimationError("the likelihood interval needs the rows in memory; use "
                                  "another method (logit, beta, ...) on a Dask design.")
        fit, labels = fit_recipe(design, recipe, by, second_moment=deff, binary=binary)
    else:
        codes, labels = domains(design, by)
        fit = _fit_in_memory(design, recipe, codes, len(labels), deff, binary,
                             keep_rows=ci_method == "likelihood")
    basis, n, j = fit.basis, fit.n, len(names)
    if statistic == "total" and np.any(n == 0):
        # a total over no respondents is not estimated (a mean or ratio is NaN by itself)
        basis = VarBasis(_mask_columns(basis.values, n == 0), np.where(n == 0, np.nan,
                                                                      basis.full), basis.engine)
    est = basis.full
    var = basis.var()
    se = np.sqrt(np.maximum(var, 0))
    row_df = np.full(len(est), df) if df is not None else np.repeat(fit.domain_df(), j)
    if statistic == "proportion":
        ci = proportion_interval(
            ci_method, est, se, row_df, level, np.repeat(fit.rows, j),
            likelihood=lambda: _likelihood(design, fit.source, est, se, row_df, level))
    else:
        ci = wald_interval(est, se, row_df, level)
    table = _table(labels, names, est, se, ci, row_df, n.astype(np.int64),
                   (np.repeat(fit.rows, j) - n).astype(np.int64),
                   fit.deff(var, statistic) if deff else (np.nan, np.nan))
    return Estimate(table=table, statistic=statistic, level=level, ci_method=ci_method,
                    by=tuple(labels.columns), basis=basis)


def _likelihood(design: AnyDesign, source: RatioSource, est: np.ndarray, se: np.ndarray,
                row_df: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from sipas._likelihood import likelihood_interval

    return likelihood_interval(design, source, est, se, row_df, level)


# ---------------------------------------------------------------------- input checks

def _variables(design: AnyDesign, variables: Any, role: str) -> list[str]:
    names = as_name_list(role, variables)
    if not names:
        raise DesignError(message(role, "at least one column name", variables))
    _require(design, names)
    return names

