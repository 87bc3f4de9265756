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
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_choice, check_df, check_level, message
from sipas.ci import CIMethod, proportion_interval, wald_interval
from sipas.design import Design
from sipas.errors import DesignError, EstimationError
from sipas.replicate import ReplicateDesign
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
    """

    table: pd.DataFrame
    statistic: str
    level: float
    ci_method: str
    by: tuple[str, ...]
    basis: VarBasis | None
    notes: Mapping[str, Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table with the fixed column names."""
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    @property
    def labels(self) -> list[str]:
        """A readable label per row: ``variable`` or ``by=value, ...: variable``."""
        out = []
        for _, row in self.table.iterrows():
            dom = ", ".join(f"{b}={row[b]}" for b in self.by)
            out.append(f"{dom}: {row['variable']}" if dom else str(row["variable"]))
        return out

    def vcov(self) -> pd.DataFrame:
        """Variance-covariance matrix of the rows (same design: covariances included)."""
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
    variables : str or list of str
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    level : float
        Confidence level.
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave missing values out as a domain (R ``na.rm=TRUE``) or refuse them.

    Returns
    -------
    Estimate

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
    num, den, valid = _numeric_matrices(design, names, missing)
    return _ratio_estimate(design, num, den, valid, names, by, level, df, "mean", deff=True)


def total(design: AnyDesign, variables: str | Sequence[str], *, by: str | Sequence[str] | None
          = None, level: float = 0.95, df: float | None = None,
          missing: Missing = "omit") -> Estimate:
    """Weighted total (``sum w y``) of one or more numeric variables.

    R equivalent: ``svytotal(~y, design, na.rm=TRUE)``. Parameters as :func:`mean`.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> float(sipas.total(d, "p03").to_frame()["n"][0]) > 0
    True
    """
    names = _variables(design, variables, "variables")
    num, _den, valid = _numeric_matrices(design, names, missing)
    return _ratio_estimate(design, num, None, valid, names, by, level, df, "total", deff=True)


def proportion(design: AnyDesign, variable: str, value: Any = None, *,
               by: str | Sequence[str] | None = None, method: CIMethod = "logit",
               level: float = 0.95, df: float | None = None,
               missing: Missing = "omit") -> Estimate:
    """Share of respondents whose answer is ``value`` (or one of a list of values).

    Parameters
    ----------
    variable : str
        Column (numeric codes or text).
    value : scalar or list, optional
        The category (or categories, e.g. ``[4, 5]`` for the top two boxes) to count.
        ``None``: one row per observed category.
    method : {"logit", "wald", "mean", "xlogit", "likelihood", "asin", "beta", "wilson"}
        Interval method (see :mod:`sipas.ci`); the SE is always the linearized SE.

    Notes
    -----
    R equivalent: ``svyciprop(~I(y == value), design, method=)`` (``wald`` = ``svymean``).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> f = sipas.proportion(d, "p01", value=1).to_frame()
    >>> bool(f.ci_low[0] < f.estimate[0] < f.ci_high[0])
    True
    """
    check_choice("method", method, ("wald", "mean", "logit", "xlogit", "likelihood", "asin",
                                    "beta", "wilson"))
    check_choice("missing", missing, ("omit", "error"))
    _require(design, [variable])
    col = design.frame[variable]
    present = col.notna().to_numpy()
    if missing == "error":
        _refuse_missing(design, variable, present)
    if value is None:
        levels = sorted(pd.unique(col[present]), key=_sort_key)
        groups = [[lv] for lv in levels]
        names = [f"{variable}={lv}" for lv in levels]
    else:
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        _check_values_present(col, values, variable)
        groups = [values]
        names = [f"{variable}={values[0]}" if len(values) == 1 else
                 f"{variable} in {values}"]
    num = np.column_stack([col.isin(g).to_numpy(dtype="float64") * present for g in groups])
    valid = np.repeat(present[:, None], len(groups), axis=1)
    est = _ratio_estimate(design, num, valid.astype("float64"), valid, names, by, level, df,
                          "proportion", deff=True, ci_method=method)
    return est


def ratio(design: AnyDesign, numerator: str | Sequence[str], denominator: str | Sequence[str],
          *, by: str | Sequence[str] | None = None, level: float = 0.95,
          df: float | None = None, missing: Missing = "omit") -> Estimate:
    """Ratio of weighted totals ``sum w y / sum w x`` (several pairs at once).

    Notes
    -----
    Influence ``w (y - R x) / sum w x``. A row missing either variable is left out of both.
    R equivalent: ``svyratio(~y, ~x, design, na.rm=TRUE)``.

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
    y, _d, vy = _numeric_matrices(design, nums, missing)
    x, _d, vx = _numeric_matrices(design, dens, missing)
    valid = vy & vx
    names = [f"{a}/{b}" for a, b in zip(nums, dens)]
    return _ratio_estimate(design, y * valid, x * valid, valid, names, by, level, df, "ratio",
                           deff=False)


def contrast(estimate: Estimate, weights: Mapping[str, float] | np.ndarray | Sequence[float],
             *, name: str = "contrast", level: float | None = None,
             df: float | None = None) -> Estimate:
    """Linear combination ``sum_i c_i theta_i`` of the rows of an estimate, with its SE.

    Parameters
    ----------
    estimate : Estimate
    weights : mapping row label -> coefficient, or an array with one coefficient per row
        (or a (rows x q) matrix for q contrasts at once). Labels are ``Estimate.labels``.
    name : str
        Name of the result row (``variable`` column); ``name_1``... for several.
    df : float, optional
        Default: the smallest df of the rows involved.

    Notes
    -----
    ``var(c' theta) = c' V c`` with the full covariance of the rows (R ``svycontrast``).

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

def _ratio_estimate(design: AnyDesign, num: np.ndarray, den: np.ndarray | None,
                    valid: np.ndarray, names: list[str], by: Any, level: float,
                    df: float | None, statistic: str, *, deff: bool,
                    ci_method: str = "wald") -> Estimate:
    level = check_level(level)
    df = check_df(df)
    _check_design(design)
    codes, labels = domains(design, by)
    source = RatioSource(num, den, codes, len(labels))
    basis, _ = design_basis(design, source)
    j = len(names)
    w = design.weight_array
    pos = w > 0
    n = source.sums(pos.astype("float64"), None, 1, valid.astype("float64"))[0]
    in_dom = source.sums(pos.astype("float64"), None, 1, np.ones((len(w), 1)))[0]
    if den is None and np.any(n == 0):
        # a total over no respondents is not estimated (a mean or ratio is NaN by itself)
        basis = VarBasis(np.where(n == 0, np.nan, basis.values),
                         np.where(n == 0, np.nan, basis.full), basis.engine)
    est = basis.full
    n_missing = np.repeat(in_dom, j) - n
    var = basis.var()
    se = np.sqrt(np.maximum(var, 0))
    row_df = _row_df(design, codes, len(labels), j, df)
    table = _base_table(labels, names, est, se, row_df, n, n_missing)
    if deff:
        d_wor, d_wr = _deff(design, source, var, valid, statistic, n)
        table["deff"], table["deff_replace"] = d_wor, d_wr
    if statistic == "proportion":
        lo, hi = proportion_interval(
            ci_method, est, se, row_df, level, np.repeat(in_dom, j),
            likelihood=lambda: _likelihood(design, source, est, se, row_df, level))
    else:
        lo, hi = wald_interval(est, se, row_df, level)
    table["ci_low"], table["ci_high"] = lo, hi
    table = _finish(table, labels)
    return Estimate(table=table, statistic=statistic, level=level, ci_method=ci_method,
                    by=tuple(labels.columns), basis=basis)


def design_basis(design: AnyDesign, source: RatioSource) -> tuple[VarBasis, np.ndarray | None]:
    """Full-sample estimates and their variance basis for a ratio source on a design."""
    w = design.weight_array
    num, den = source.raw(w)
    num, den = num[0], None if den is None else den[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        est = num if den is None else np.where(den > 0, num / den, np.nan)
    if isinstance(design, ReplicateDesign):
        rnum, rden = design.replicate_sums(source)
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = rnum if rden is None else rnum / rden
        return VarBasis(reps, est, design.engine), den
    engine = taylor_engine(design)
    final = design.stages[-1]
    t0 = source.influence_sums(w, final.unit, final.n_units, est, den)
    chain = calibration_chain(design)
    t = calibrated_unit_totals(t0, chain, lambda p: p.reduce(source, w, est, den),
                               final.rows_to_units)
    return VarBasis(t, est, engine), den


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


def _row_df(design: AnyDesign, codes: np.ndarray, n_dom: int, j: int,
            df: float | None) -> np.ndarray:
    if df is not None:
        return np.full(n_dom * j, df)
    pos = design.weight_array > 0
    if n_dom == 1:
        return np.full(j, float(design.domain_df(pos & (codes == 0))))
    per = np.array([design.domain_df(pos & (codes == d)) for d in range(n_dom)], dtype=float)
    return np.repeat(per, j)


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


def _deff(design: AnyDesign, source: RatioSource, var: np.ndarray, valid: np.ndarray,
          statistic: str, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design effects against SRS without and with replacement (R ``deff=TRUE/"replace"``).

    ``v_srs = s^2 (N - n)/(N n)`` (or ``s^2/n``) for a mean, times ``N^2`` for a total, with
    ``s^2`` the weighted variance of the variable in the domain (n - 1 divisor).
    """
    w = design.weight_array
    valid = valid.astype("float64")
    wsum = source.sums(w, None, 1, valid)[0]
    dom = np.where(source.domain >= 0, source.domain, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_val = source.sums(w, None, 1, source.num)[0] / wsum
        mean_rows = mean_val.reshape(source.n_domains, source.n_vars)[dom]
        resid = np.where(valid > 0, source.num - mean_rows, 0.0)
        s2 = source.sums(w, None, 1, resid**2)[0] / wsum * n / (n - 1)
        v_rep = s2 / n
        v_wor = s2 * (wsum - n) / (wsum * n)
        if statistic == "total":
            v_rep, v_wor = v_rep * wsum**2, v_wor * wsum**2
        return var / v_wor, var / v_rep


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


def _numeric_matrices(design: AnyDesign, names: list[str],
                      missing: Missing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    check_choice("missing", missing, ("omit", "error"))
    cols = []
    for name in names:
        col = design.frame[name]
        if not pd.api.types.is_numeric_dtype(col):  # bool (also nullable) counts as 0/1
            shown = [_plain(v) for v in pd.unique(col.dropna())[:5]]
            raise DesignError(f"column {name!r} must be numeric for this estimator; got "
                              f"dtype {col.dtype} with values such as {shown}. For "
                              "categories use sipas.proportion; convert numbers stored as "
                              "text with pd.to_numeric.")
        cols.append(col.to_numpy(dtype="float64", na_value=np.nan))
    y = np.column_stack(cols)
    bad = np.isinf(y)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DesignError(f"column {names[c]!r} has infinite values (first at row {int(r)}).")
    valid = ~np.isnan(y)
    if missing == "error":
        for j, name in enumerate(names):
            _refuse_missing(design, name, valid[:, j])
    return np.where(valid, y, 0.0), valid.astype("float64"), valid


def _refuse_missing(design: AnyDesign, name: str, present: np.ndarray) -> None:
    bad = ~present & (design.weight_array > 0)
    if bad.any():
        raise EstimationError(f"column {name!r} has {int(bad.sum())} missing value(s) (rows "
                              f"{np.flatnonzero(bad)[:10].tolist()}) and missing='error'. Use "
                              "missing='omit' to leave them out as a domain (R na.rm=TRUE).")


def _check_values_present(col: pd.Series, values: list[Any], name: str) -> None:
    observed = set(pd.unique(col.dropna()))
    if observed and not any(v in observed for v in values):
        shown = sorted(observed, key=_sort_key)[:12]
        raise DesignError(f"value(s) {values} never occur in column {name!r} (values found: "
                          f"{shown}). Check the codes (1/2 vs 'Yes'/'No').")


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.number)) else (1, str(v))
