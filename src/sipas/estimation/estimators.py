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
['variable', 'value', 'estimate', 'se', 'ci_low']
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import sparse

from sipas._validate import (
    as_name_list,
    check_choice,
    check_df,
    check_level,
    deprecated_alias,
    message,
    require_columns,
)
from sipas.backends.base import needs_memory
from sipas.design.protocol import SurveyDesign, is_design
from sipas.engine.intervals import CIMethod, proportion_interval, wald_interval
from sipas.errors import DesignError, EstimationError
from sipas.estimation.estimate import Estimate, build_estimate
from sipas.estimation.fit import fit
from sipas.estimation.likelihood import likelihood_interval
from sipas.estimation.recipes import (
    Missing,
    NumericRecipe,
    RatioRecipe,
    Recipe,
    ShareRecipe,
    levels,
)

__all__ = ["check_design", "columns_of", "mean", "proportion", "ratio", "total"]
def mean(design: SurveyDesign, variables: str | Sequence[str], *, by: str | Sequence[str] | None
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
    names = columns_of(design, variables, "variables")
    check_choice("missing", missing, ("omit", "error"))
    return _ratio_estimate(design, NumericRecipe(tuple(names), missing), names, by, level, df,
                           "mean", deff=True)


def total(design: SurveyDesign, variables: str | Sequence[str], *, by: str | Sequence[str] | None
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
    names = columns_of(design, variables, "variables")
    check_choice("missing", missing, ("omit", "error"))
    return _ratio_estimate(design, NumericRecipe(tuple(names), missing, total=True), names, by,
                           level, df, "total", deff=True)


def proportion(design: SurveyDesign, variable: str | Sequence[str],
               value: Hashable | Sequence[Hashable] | None = None, *,
               by: str | Sequence[str] | None = None, ci: CIMethod = "logit",
               level: float = 0.95, df: float | None = None,
               missing: Missing = "omit", method: CIMethod | None = None) -> Estimate:
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
    ci : {"logit", "wald", "mean", "xlogit", "likelihood", "asin", "beta", "wilson"}
        Interval method (see :mod:`sipas.engine.intervals`); the SE is always the
        linearized SE.
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave unanswered rows out of the denominator (R ``na.rm=TRUE``) or refuse them.
    method : str, optional
        Deprecated spelling of ``ci``.

    Returns
    -------
    Estimate
        One row per (domain, column, category): ``variable`` the column, ``value`` the
        category counted (a tuple such as ``(4, 5)`` for several); statistic
        ``proportion``; shares in [0, 1].

    Raises
    ------
    DesignError
        Several columns without ``value``; ``value`` never occurs in a column (the message
        lists the codes found); an unknown ``ci``; and the errors of :func:`mean`.
    EstimationError
        ``missing="error"`` and a positive-weight row has no answer; ``ci="likelihood"``
        on a Dask design.

    Notes
    -----
    ``p = sum w 1[y in value] / sum w 1[y answered]``, a ratio estimator with influence
    ``w (1[y in value] - p) / sum w``; the interval formulas are in
    :mod:`sipas.engine.intervals`.
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
    ci = deprecated_alias("method", method, "ci", ci, default="logit")
    check_choice("ci", ci, ("wald", "mean", "logit", "xlogit", "likelihood", "asin", "beta",
                            "wilson"))
    check_choice("missing", missing, ("omit", "error"))
    names_in = columns_of(design, variable, "variable")
    if len(names_in) > 1 and value is None:
        raise DesignError("proportion of several columns needs value= (the codes to count in "
                          "every column, e.g. value=[4, 5]).")
    groups, names, values = [], [], []
    for var in names_in:
        if value is None:
            counted = [[lv] for lv in levels(design.backend, var)]
        else:
            counted = [list(value) if isinstance(value, (list, tuple, set)) else [value]]
        for g in counted:
            groups.append((var, tuple(g)))
            names.append(var)
            values.append(_py(g[0]) if len(g) == 1 else tuple(_py(v) for v in g))
    recipe = ShareRecipe(tuple(groups), missing, check=value is not None)
    return _ratio_estimate(design, recipe, names, by, level, df, "proportion", deff=True,
                           ci_method=ci, binary=True, values=values)


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value (keys and tables show ``4``, not ``np.int64(4)``)."""
    return value.item() if isinstance(value, np.generic) else value


def ratio(design: SurveyDesign, numerator: str | Sequence[str], denominator: str | Sequence[str],
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
    nums = columns_of(design, numerator, "numerator")
    dens = columns_of(design, denominator, "denominator")
    if len(dens) == 1 and len(nums) > 1:
        dens = dens * len(nums)
    if len(nums) != len(dens):
        raise DesignError(message("denominator", f"one column or {len(nums)} columns", dens))
    check_choice("missing", missing, ("omit", "error"))
    names = [f"{a}/{b}" for a, b in zip(nums, dens)]
    est = _ratio_estimate(design, RatioRecipe(tuple(nums), tuple(dens), missing), names, by,
                          level, df, "ratio", deff=False)
    table = est.to_frame()
    undefined = table["estimate"].isna().to_numpy() & (table["n"].to_numpy() > 0)
    if by is None and undefined.any():
        zero = [dens[i] for i in np.flatnonzero(undefined)]
        raise EstimationError(f"the weighted total of denominator column(s) {zero} is 0, so "
                              "the ratio is undefined. Check the column (all zeros?) or choose "
                              "another denominator.")
    return est


# ---------------------------------------------------------------------- engine

def _ratio_estimate(design: SurveyDesign, recipe: Recipe, names: list[str], by: Any,
                    level: float, df: float | None, statistic: str, *, deff: bool,
                    ci_method: str = "wald", binary: bool = False,
                    values: list[Any] | None = None) -> Estimate:
    level = check_level(level)
    df = check_df(df)
    if ci_method == "likelihood":
        needs_memory(design.backend, "the likelihood interval")
    domains = design.domains(by)
    result = fit(design, recipe, domains, second_moment=deff, binary=binary)
    basis, n, j = result.basis, result.n, len(names)
    if statistic == "total" and np.any(n == 0):
        # a total over no respondents is not estimated (a mean or ratio is NaN by itself)
        basis = replace(basis, values=_mask_columns(basis.values, n == 0),
                        full=np.where(n == 0, np.nan, basis.full))
    est = basis.full
    var = basis.var()
    se = np.sqrt(np.maximum(var, 0))
    row_df = np.full(len(est), df) if df is not None else np.repeat(result.domain_df(), j)
    if statistic == "proportion":
        ci = proportion_interval(
            ci_method, est, se, row_df, level, np.repeat(result.rows, j),
            likelihood=lambda: likelihood_interval(design, recipe, domains, est, se, row_df,
                                                   level))
    else:
        ci = wald_interval(est, se, row_df, level)
    rows = np.repeat(result.rows, j)
    return build_estimate(domains.labels, names, est=est, se=se, ci=ci, df=row_df,
                          statistic=statistic, level=level, ci_method=ci_method, basis=basis,
                          values=values, n=n.astype(np.int64),
                          n_missing=(rows - n).astype(np.int64),
                          deff=result.deff(var, statistic) if deff else (np.nan, np.nan),
                          notes={"df": "given" if df is not None else "domain"})


def _mask_columns(values: Any, mask: np.ndarray) -> Any:
    if sparse.issparse(values):
        return values  # the NaN estimate masks the variance of those columns
    return np.where(mask, np.nan, values)


# ---------------------------------------------------------------------- input checks

def columns_of(design: SurveyDesign, names: Any, role: str) -> list[str]:
    """Column names given as one name or a list, checked against the design's data.

    Raises
    ------
    DesignError
        No name, or a name that is not a column.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> columns_of(d, "p03", "variables")
    ['p03']
    """
    out = as_name_list(role, names)
    if not out:
        raise DesignError(message(role, "at least one column name", names))
    check_design(design)
    require_columns(design.backend.columns, out, role)
    return out


def check_design(design: Any) -> None:
    """Refuse anything that is not a design, in one wording.

    Examples
    --------
    >>> check_design("not a design")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sipas.errors.DesignError: design must be a sipas.Design or sipas.ReplicateDesign; got 'str'...
    """
    if not is_design(design):
        raise DesignError(message("design", "a sipas.Design or sipas.ReplicateDesign",
                                  type(design).__name__,
                                  "Build one with sipas.Design(frame, ids=..., weights=...)."))
