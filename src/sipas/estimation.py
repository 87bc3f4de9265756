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

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

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
from sipas.design import Design
from sipas.errors import DesignError, EstimationError
from sipas.reduction import UnitSums, unit_sums
from sipas.replication import ReplicateDesign
from sipas.variance import RatioSource, TaylorEngine, VarBasis, calibrated_unit_totals

__all__ = ["Estimate", "contrast", "mean", "proportion", "ratio", "total"]

AnyDesign = Design | ReplicateDesign
Missing = Literal["omit", "error"]
COLUMNS = ("variable", "estimate", "se", "ci_low", "ci_high", "df", "deff", "n", "n_missing",
           "cv", "deff_replace")


# ---------------------------------------------------------------------- result type

@dataclass(frozen=True, eq=False, repr=False)
class Estimate:
    """Estimates with their standard errors, intervals and covariance.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (domain, variable); use :meth:`to_frame` for a copy.
    statistic : str
        ``mean``, ``total``, ``proportion``, ``ratio``, ``quantile``, ``contrast``, ``index``.
    level : float
        Confidence level of the intervals.
    ci_method : str
        Interval method (``wald`` = Wald with t on ``df``).
    by : tuple of str
        Domain columns (the first columns of the table).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> est = sipas.mean(d, "p03", by="urban")
    >>> est.statistic, est.by, len(est)
    ('mean', ('urban',), 2)
    """

    table: pd.DataFrame
    statistic: str
    level: float
    ci_method: str
    by: tuple[str, ...]
    basis: VarBasis | None
    notes: Mapping[str, Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table with the fixed column names.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then ``variable, estimate, se, ci_low, ci_high, df, deff, n,
            n_missing, cv, deff_replace`` (quantiles add ``quantile`` after ``variable``).
            The names never depend on the arguments, so results concatenate; changing the
            copy does not change the estimate.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> list(sipas.mean(d, "p03", by="urban").to_frame().columns[:4])
        ['urban', 'variable', 'estimate', 'se']
        """
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    @property
    def labels(self) -> list[str]:
        """A readable label per row: ``variable`` or ``by=value, ...: variable``.

        These labels name the rows in :meth:`vcov` and in the ``weights`` mapping of
        :func:`contrast`.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.mean(d, "p03", by="urban").labels
        ['urban=1.0: p03', 'urban=2.0: p03']
        """
        out = []
        for _, row in self.table.iterrows():
            dom = ", ".join(f"{b}={row[b]}" for b in self.by)
            out.append(f"{dom}: {row['variable']}" if dom else str(row["variable"]))
        return out

    def vcov(self) -> pd.DataFrame:
        """Variance-covariance matrix of the rows (same design: covariances included).

        Returns
        -------
        pandas.DataFrame
            Square, indexed by :attr:`labels` on both axes; the diagonal is ``se**2``.

        Raises
        ------
        EstimationError
            The estimate carries no covariance (a quantile: its SE comes from the interval).

        Notes
        -----
        R equivalent: ``vcov(svymean(...))``, ``vcov(svyby(..., covmat=TRUE))``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> est = sipas.mean(d, "p03", by="urban")
        >>> v = est.vcov()
        >>> v.shape, bool(abs(v.iloc[0, 0] - est.to_frame()["se"][0] ** 2) < 1e-12)
        ((2, 2), True)
        """
        if self.basis is None:
            raise EstimationError(f"{self.statistic} estimates carry no covariance (their SE "
                                  "comes from an interval).")
        return pd.DataFrame(self.basis.cov(), index=self.labels, columns=self.labels)

    def __repr__(self) -> str:
        shown = self.table[[*self.by, "variable", "estimate", "se", "ci_low", "ci_high"]]
        head = shown.head(8).to_string(index=False, float_format=lambda v: f"{v:.6g}")
        more = f"\n... {len(self.table) - 8} more rows" if len(self.table) > 8 else ""
        return (f"<Estimate {self.statistic}, {len(self.table)} row(s), level={self.level:g}, "
                f"ci={self.ci_method}>\n{head}{more}")

    def _repr_html_(self) -> str:
        caption = html.escape(f"{self.statistic} · level {self.level:g} · "
                              f"interval {self.ci_method}")
        table = self.table.to_html(index=False, float_format=lambda v: f"{v:.6g}")
        start = table.index(">") + 1  # after the opening <table ...> tag
        return f"{table[:start]}\n  <caption>{caption}</caption>{table[start:]}"


# ---------------------------------------------------------------------- public estimators

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


def _levels(design: AnyDesign, var: str) -> list[Any]:
    col = design.frame[var]
    uniq = col.dropna().unique()
    uniq = uniq.compute() if hasattr(uniq, "compute") else uniq
    return sorted(pd.unique(np.asarray(uniq)), key=_sort_key)


@dataclass(frozen=True)
class NumericRecipe:
    """Numeric columns as (num, den, valid): the values, and 1 where they are not missing
    (``total=True``: no denominator)."""

    names: tuple[str, ...]
    missing: str = "omit"
    total: bool = False

    def __call__(self, frame: pd.DataFrame, w: np.ndarray):
        y, valid_f, _valid = _numeric_matrices(frame, list(self.names), self.missing, w)
        return y, (None if self.total else valid_f), valid_f

    def split(self, size: int) -> list[NumericRecipe]:
        return [NumericRecipe(self.names[i: i + size], self.missing, self.total)
                for i in range(0, len(self.names), size)]


@dataclass(frozen=True)
class RatioRecipe:
    """Pairs of numeric columns: a row missing either value is left out of both."""

    nums: tuple[str, ...]
    dens: tuple[str, ...]
    missing: str = "omit"

    def __call__(self, frame: pd.DataFrame, w: np.ndarray):
        y, _f, vy = _numeric_matrices(frame, list(self.nums), self.missing, w)
        x, _f, vx = _numeric_matrices(frame, list(self.dens), self.missing, w)
        valid = vy & vx
        return y * valid, x * valid, np.asarray(valid, dtype="float64", order="F")

    def split(self, size: int) -> list[RatioRecipe]:
        return [RatioRecipe(self.nums[i: i + size], self.dens[i: i + size], self.missing)
                for i in range(0, len(self.nums), size)]


@dataclass(frozen=True)
class ShareRecipe:
    """Indicators of answers in a set of codes, over the answered rows."""

    groups: tuple[tuple[str, tuple[Any, ...]], ...]
    missing: str = "omit"
    check: bool = True

    def __call__(self, frame: pd.DataFrame, w: np.ndarray):
        nums, valids = [], []
        for var, g in self.groups:
            col = frame[var]
            present = col.notna().to_numpy()
            if self.missing == "error":
                _refuse_missing(w, var, present)
            hit = _indicator(col, list(g), present)
            if self.check and not hit.any() and len(frame):
                _check_values_present(col, list(g), var)
            nums.append(hit)
            valids.append(present)
        valid = _fortran(valids)
        return _fortran(nums), valid, valid

    def split(self, size: int) -> list[ShareRecipe]:
        return [ShareRecipe(self.groups[i: i + size], self.missing, self.check)
                for i in range(0, len(self.groups), size)]


def _fortran(columns: list[np.ndarray]) -> np.ndarray:
    """Stack columns into a column-major float array (each variable contiguous)."""
    out = np.empty((len(columns[0]), len(columns)), order="F")
    for j, c in enumerate(columns):
        out[:, j] = c
    return out


def _indicator(col: pd.Series, values: list[Any], present: np.ndarray) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        arr = col.to_numpy(dtype="float64", na_value=np.nan)
        try:
            return np.isin(arr, np.asarray(values, dtype="float64")).astype("float64")
        except (TypeError, ValueError):
            pass
    return col.isin(values).to_numpy(dtype="float64") * present


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
    table = _base_table(labels, names, est, se, row_df, n, np.repeat(fit.rows, j) - n)
    if deff:
        table["deff"], table["deff_replace"] = fit.deff(var, statistic)
    if statistic == "proportion":
        lo, hi = proportion_interval(
            ci_method, est, se, row_df, level, np.repeat(fit.rows, j),
            likelihood=lambda: _likelihood(design, fit.source, est, se, row_df, level))
    else:
        lo, hi = wald_interval(est, se, row_df, level)
    table["ci_low"], table["ci_high"] = lo, hi
    table = _finish(table, labels)
    return Estimate(table=table, statistic=statistic, level=level, ci_method=ci_method,
                    by=tuple(labels.columns), basis=basis)


#: variables reduced together; the rows' working arrays are (n x BLOCK), which bounds memory
BLOCK = 4


def _fit_in_memory(design: AnyDesign, recipe: Any, codes: np.ndarray, n_domains: int,
                   second_moment: bool, binary: bool, keep_rows: bool) -> RatioFit:
    """Fit in memory; variables in blocks when nothing later needs the rows themselves."""
    w = design.weight_array
    blocks = recipe.split(BLOCK) if hasattr(recipe, "split") else [recipe]
    rows_needed = keep_rows or len(blocks) == 1 or (
        isinstance(design, Design) and design.calibrated) or (
        isinstance(design, ReplicateDesign) and design._factors is None)
    if rows_needed:
        num, den, valid = recipe(design.frame, w)
        return fit_ratios(design, RatioSource(num, den, codes, n_domains), valid=valid,
                          second_moment=second_moment, binary=binary)
    parts = []
    for block in blocks:
        num, den, valid = block(design.frame, w)
        source = RatioSource(num, den, codes, n_domains)
        parts.append(fit_ratios(design, source, valid=valid, second_moment=second_moment,
                                binary=binary).sums)
        del num, den, valid, source
    return finish_fit(design, join_sums(parts), None)


def join_sums(parts: list[UnitSums]) -> UnitSums:
    """Sums of variable blocks over the same rows, side by side."""
    first = parts[0]
    joined = {f: None if getattr(first, f) is None else
              np.hstack([getattr(p, f) for p in parts])
              for f in ("wnum", "wden", "pden", "wval", "wnum2")}
    return replace(first, **joined)


def _as_float(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float64 else np.asarray(a, dtype="float64", order="F")


def _mask_columns(values: Any, mask: np.ndarray) -> Any:
    if sparse.issparse(values):
        return values  # the NaN estimate masks the variance of those columns
    return np.where(mask, np.nan, values)


@dataclass(frozen=True, eq=False)
class RatioFit:
    """Estimates of a ratio source on a design, their variance basis and the counts behind
    them, all from one reduction of the data (:func:`sipas.reduction.unit_sums`)."""

    design: Any
    source: RatioSource
    sums: UnitSums
    basis: VarBasis
    denom: np.ndarray | None

    @property
    def n(self) -> np.ndarray:
        """Positive-weight respondents with a valid value, per (domain, variable)."""
        return self.sums.by_domain(self.sums.pden).ravel()

    @property
    def rows(self) -> np.ndarray:
        """Positive-weight rows per domain."""
        return self.sums.by_domain(self.sums.prow)

    def domain_df(self) -> np.ndarray:
        """Degrees of freedom of each domain (PSUs with rows in it minus their strata)."""
        return domain_dfs(self.design, self.sums, self.source)

    def deff(self, var: np.ndarray, statistic: str) -> tuple[np.ndarray, np.ndarray]:
        """Design effects against SRS without and with replacement (R ``deff=TRUE`` and
        ``deff="replace"``): ``v_srs = s^2 (N - n)/(N n)`` (or ``s^2/n``) for a mean, times
        ``N^2`` for a total, ``s^2`` the weighted element variance (n - 1 divisor)."""
        s = self.sums
        wnum, wval = s.by_domain(s.wnum).ravel(), s.by_domain(s.wval).ravel()
        wnum2, n = s.by_domain(s.wnum2).ravel(), self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = (wnum2 - wnum**2 / wval) / wval * n / (n - 1)
            v_rep, v_wor = s2 / n, s2 * (wval - n) / (wval * n)
            if statistic == "total":
                v_rep, v_wor = v_rep * wval**2, v_wor * wval**2
            return var / v_wor, var / v_rep


def fit_ratios(design: AnyDesign, source: RatioSource, *, valid: np.ndarray | None = None,
               second_moment: bool = False, binary: bool = False) -> RatioFit:
    """Reduce the data once and build the estimates and their variance basis."""
    w = design.weight_array
    d = source.n_domains
    if isinstance(design, ReplicateDesign) and design._factors is not None:
        unit, n_units = design._units, design._factors.shape[1]
    elif isinstance(design, ReplicateDesign):
        unit, n_units = None, 1
    else:
        final = design.stages[-1]
        unit, n_units = final.unit, final.n_units
    sums = unit_sums(source.num, source.den, source.domain, d, w, unit, n_units, valid=valid,
                     second_moment=second_moment, binary=binary)
    chain_reduce = None
    if isinstance(design, Design) and calibration_chain(design):
        def chain_reduce(p: Any, est: np.ndarray, denom: np.ndarray | None) -> np.ndarray:
            return p.reduce(source, w, est, denom)
    return finish_fit(design, sums, source, chain_reduce)


def finish_fit(design: AnyDesign, sums: UnitSums, source: RatioSource | None,
               chain_reduce: Any = None) -> RatioFit:
    """Estimates and variance basis from the reduced sums (either back end)."""
    num = sums.by_domain(sums.wnum)
    den = None if sums.wden is None else sums.by_domain(sums.wden)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = num if den is None else np.where(den > 0, num / den, np.nan)
    denom = None if den is None else den.ravel()
    if isinstance(design, ReplicateDesign):
        basis = VarBasis(_replicate_estimates(design, source, sums), est.ravel(),
                         design.engine)
        return RatioFit(design, source, sums, basis, denom)
    kd = sums.key_domain()
    if den is None:
        per_key = sums.wnum
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            per_key = (sums.wnum - est[kd] * sums.wden) / den[kd]
        per_key = np.where(den[kd] > 0, per_key, 0.0)
    t = sums.unit_matrix(per_key)
    chain = calibration_chain(design)
    if chain:
        t = t.toarray() if sparse.issparse(t) else t
        t = calibrated_unit_totals(t, chain, lambda p: chain_reduce(p, est.ravel(), denom),
                                   design.stages[-1].rows_to_units)
    return RatioFit(design, source, sums, VarBasis(t, est.ravel(), taylor_engine(design)),
                    denom)


def _replicate_estimates(design: ReplicateDesign, source: RatioSource,
                         sums: UnitSums) -> np.ndarray:
    if design._factors is not None:
        rnum = np.asarray(design._factors @ sums.unit_matrix(sums.wnum))
        rden = None if sums.wden is None else np.asarray(
            design._factors @ sums.unit_matrix(sums.wden))
    else:
        rnum, rden = design.replicate_sums(source)
    with np.errstate(divide="ignore", invalid="ignore"):
        return rnum if rden is None else rnum / rden


def domain_dfs(design: AnyDesign, sums: UnitSums, source: RatioSource) -> np.ndarray:
    """Design df counted within each domain: PSUs with a positive-weight row in the domain
    minus the strata of those PSUs (R ``degf(subset(design, ...))``)."""
    d = sums.n_domains
    if isinstance(design, ReplicateDesign) and design._factors is not None:
        if design.degf is not None:
            return np.full(d, float(design.degf))
        present = sums.prow > 0
        units, doms = sums.key_unit()[present], sums.key_domain()[present]
        return np.array([_rank(design._factors[:, units[doms == k]]) - 1 for k in range(d)],
                        dtype=float)
    if isinstance(design, ReplicateDesign):
        pos = design.weight_array > 0
        return np.array([design.domain_df(pos & (source.domain == k)) for k in range(d)],
                        dtype=float)
    s1 = design.stages[0]
    psu_of_final = s1.unit[_first_rows(design)]
    present = sums.prow > 0
    pairs = np.unique(psu_of_final[sums.key_unit()[present]] * d + sums.key_domain()[present])
    n_psu = np.bincount(pairs % d, minlength=d)
    strata = np.unique(s1.group[pairs // d] * d + pairs % d)
    return (n_psu - np.bincount(strata % d, minlength=d)).astype(float)


def _rank(mat: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(mat)) if mat.size else 0


def _first_rows(design: Design) -> np.ndarray:
    """First row of every final-stage unit (cached on the design)."""
    first = design.__dict__.get("_first_rows")
    if first is None:
        final = design.stages[-1]
        first = np.full(final.n_units, len(final.unit), dtype=np.int64)
        np.minimum.at(first, final.unit, np.arange(len(final.unit)))
        object.__setattr__(design, "_first_rows", first)
    return first


def design_basis(design: AnyDesign, source: RatioSource) -> tuple[VarBasis, np.ndarray | None]:
    """Full-sample estimates and their variance basis for a ratio source on a design."""
    fit = fit_ratios(design, source)
    return fit.basis, fit.denom


def taylor_engine(design: Design) -> TaylorEngine:
    """The design's linearization engine (one object per design, so covariances match)."""
    engine = design.__dict__.get("_engine")
    if engine is None:
        engine = TaylorEngine(design.stages, design.lonely_psu)
        object.__setattr__(design, "_engine", engine)
    return engine


def calibration_chain(design: Design) -> list[Any]:
    """Projections of all calibration steps, in the order they were applied."""
    chain: list[Any] = []
    for step in design._calibration:
        chain.extend(step if isinstance(step, (list, tuple)) else [step])
    return chain


def domains(design: AnyDesign, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row and the table of domain labels (sorted)."""
    cols = as_name_list("by", by)
    if not cols:
        return np.zeros(design.n, dtype=np.int64), pd.DataFrame(index=range(1))
    _require(design, cols)
    frame = design.frame[cols]
    bad = frame.isna().any(axis=1).to_numpy()
    if bad.any():
        which = [c for c in cols if frame[c].isna().any()]
        raise DesignError(f"by column(s) {which} have {int(bad.sum())} missing value(s) (rows "
                          f"{np.flatnonzero(bad)[:10].tolist()}). Give them a level of their own "
                          "(e.g. fillna('unknown')) so no respondent is dropped silently.")
    if len(cols) == 1 and isinstance(frame[cols[0]].dtype, pd.CategoricalDtype):
        cat = frame[cols[0]].cat
        return cat.codes.to_numpy().astype(np.int64), pd.DataFrame({cols[0]: cat.categories})
    key_codes = [pd.factorize(frame[c], sort=True) for c in cols]
    mixed = np.zeros(design.n, dtype=np.int64)
    for codes, uniques in key_codes:
        mixed = mixed * len(uniques) + codes
    codes, uniq = pd.factorize(mixed, sort=True)
    labels = {}
    rem = np.asarray(uniq)
    for c, (_codes, uniques) in reversed(list(zip(cols, key_codes))):
        labels[c] = np.asarray(uniques)[rem % len(uniques)]
        rem = rem // len(uniques)
    return codes.astype(np.int64), pd.DataFrame({c: labels[c] for c in cols})


def _base_table(labels: pd.DataFrame, names: list[str], est: np.ndarray, se: np.ndarray,
                row_df: np.ndarray, n: np.ndarray, n_missing: np.ndarray) -> pd.DataFrame:
    j = len(names)
    table = labels.loc[labels.index.repeat(j)].reset_index(drop=True)
    table["variable"] = np.tile(np.asarray(names, dtype=object), len(labels))
    table["estimate"] = est
    table["se"] = se
    table["df"] = row_df
    table["deff"] = np.nan
    table["n"] = n.astype(np.int64)
    table["n_missing"] = n_missing.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["cv"] = se / np.abs(est)
    table["deff_replace"] = np.nan
    return table


def _finish(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    return table[[*labels.columns, *COLUMNS]]


def _from_basis(basis: VarBasis, names: list[str], level: float, row_df: np.ndarray,
                statistic: str, ci_method: str = "wald") -> Estimate:
    est = basis.full
    se = np.sqrt(np.maximum(basis.var(), 0))
    table = _base_table(pd.DataFrame(index=range(1)), names, est, se, row_df,
                        np.zeros(len(names)), np.zeros(len(names)))
    table["n"] = pd.NA
    table["n_missing"] = pd.NA
    table["ci_low"], table["ci_high"] = wald_interval(est, se, row_df, level)
    table = table[list(COLUMNS)]
    return Estimate(table=table, statistic=statistic, level=level, ci_method=ci_method, by=(),
                    basis=basis)


def _likelihood(design: AnyDesign, source: RatioSource, est: np.ndarray, se: np.ndarray,
                row_df: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from sipas._likelihood import likelihood_interval

    return likelihood_interval(design, source, est, se, row_df, level)


# ---------------------------------------------------------------------- input checks

def _check_design(design: Any) -> None:
    if not isinstance(design, (Design, ReplicateDesign)):
        raise DesignError(message("design", "a sipas.Design or sipas.ReplicateDesign",
                                  type(design).__name__,
                                  "Build one with sipas.Design(frame, ids=..., weights=...)."))


def _require(design: AnyDesign, cols: list[str]) -> None:
    _check_design(design)
    missing = [c for c in cols if c not in design.frame.columns]
    if missing:
        raise DesignError(f"column(s) {missing} not found in the design's data. Available: "
                          f"{list(design.frame.columns)[:15]}"
                          f"{' ...' if design.frame.shape[1] > 15 else ''}")


def _variables(design: AnyDesign, variables: Any, role: str) -> list[str]:
    names = as_name_list(role, variables)
    if not names:
        raise DesignError(message(role, "at least one column name", variables))
    _require(design, names)
    return names


def _numeric_matrices(frame: pd.DataFrame, names: list[str], missing: Missing,
                      w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    check_choice("missing", missing, ("omit", "error"))
    cols = []
    for name in names:
        col = frame[name]
        if not pd.api.types.is_numeric_dtype(col):  # bool (also nullable) counts as 0/1
            shown = [plain(v) for v in pd.unique(col.dropna())[:5]]
            raise DesignError(f"column {name!r} must be numeric for this estimator; got "
                              f"dtype {col.dtype} with values such as {shown}. For "
                              "categories use sipas.proportion; convert numbers stored as "
                              "text with pd.to_numeric.")
        cols.append(col.to_numpy(dtype="float64", na_value=np.nan))
    y = _fortran(cols)
    bad = np.isinf(y)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DesignError(f"column {names[c]!r} has infinite values (first at row {int(r)}).")
    valid = ~np.isnan(y)
    if missing == "error":
        for j, name in enumerate(names):
            _refuse_missing(w, name, valid[:, j])
    y[~valid] = 0.0
    return y, np.asarray(valid, dtype="float64", order="F"), valid


def _refuse_missing(w: np.ndarray, name: str, present: np.ndarray) -> None:
    bad = ~present & (w > 0)
    if bad.any():
        raise EstimationError(f"column {name!r} has {int(bad.sum())} missing value(s) (rows "
                              f"{np.flatnonzero(bad)[:10].tolist()}) and missing='error'. Use "
                              "missing='omit' to leave them out as a domain (R na.rm=TRUE).")


def _check_values_present(col: pd.Series, values: list[Any], name: str) -> None:
    observed = set(pd.unique(col.dropna()))
    if observed and not any(v in observed for v in values):
        shown = [plain(v) for v in sorted(observed, key=_sort_key)[:12]]
        wanted = [plain(v) for v in values]
        raise DesignError(f"value(s) {wanted} never occur in column {name!r} (values found: "
                          f"{shown}). Check the codes (1/2 vs 'Yes'/'No').")


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.number)) else (1, str(v))
