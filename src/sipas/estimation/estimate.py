"""The result of every estimator, index, quantile and contrast: :class:`Estimate`.

An estimate has one row per (domain, variable, value) with the fixed columns
``<by...>, variable, value, estimate, se, ci_low, ci_high, df, deff, n, n_missing, cv,
deff_replace`` (quantiles add ``quantile`` after ``value``), so results of different calls
concatenate. ``value`` is the category a proportion counts (a tuple for a set of codes such
as the top two boxes), empty for other statistics. Each row has a tuple key
``(*domain values, variable[, value][, quantile])`` (:attr:`Estimate.keys`) that names it in
:meth:`Estimate.vcov` and in :func:`sipas.contrast`. The variance basis behind the rows gives
their covariance and that of their linear combinations.

:func:`build_estimate` is the one place an :class:`Estimate` is made.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> sipas.mean(d, "p03").to_frame().columns.tolist()[:4]
['variable', 'value', 'estimate', 'se']
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas.engine.basis import VarBasis
from sipas.errors import EstimationError

__all__ = ["COLUMNS", "Estimate", "build_estimate"]

COLUMNS = ("variable", "value", "estimate", "se", "ci_low", "ci_high", "df", "deff", "n",
           "n_missing", "cv", "deff_replace")


class Estimate:
    """Estimates with their standard errors, intervals and covariance (read-only).

    Attributes
    ----------
    statistic : str
        ``mean``, ``total``, ``proportion``, ``ratio``, ``quantile``, ``contrast``, ``index``.
    level : float
        Confidence level of the intervals.
    ci : str
        Interval method (``wald`` = Wald with t on ``df``).
    by : tuple of str
        Domain columns (the first columns of the table).
    basis : VarBasis or None
        The variance basis (None for quantiles, whose SE comes from the interval).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> est = sipas.mean(d, "p03", by="urban")
    >>> est.statistic, est.by, len(est)
    ('mean', ('urban',), 2)
    """

    __slots__ = ("_table", "basis", "by", "ci", "level", "notes", "statistic")

    def __init__(self, table: pd.DataFrame, statistic: str, level: float, ci: str,
                 by: tuple[str, ...], basis: VarBasis | None,
                 notes: Mapping[str, Any] | None = None) -> None:
        for name, value in (("_table", table.copy()), ("statistic", statistic),
                            ("level", level), ("ci", ci), ("by", tuple(by)),
                            ("basis", basis), ("notes", dict(notes or {}))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Estimate cannot change; use to_frame() for a copy to edit.")

    @property
    def ci_method(self) -> str:
        """Deprecated spelling of :attr:`ci`."""
        return self.ci

    @property
    def table(self) -> pd.DataFrame:
        """The result table (a copy: editing it does not change the estimate)."""
        return self._table.copy()

    def to_frame(self) -> pd.DataFrame:
        """A copy of the result table with the fixed column names.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then ``variable, value, estimate, se, ci_low, ci_high, df,
            deff, n, n_missing, cv, deff_replace`` (quantiles add ``quantile`` after
            ``value``). The names never depend on the arguments, so results concatenate;
            changing the copy does not change the estimate.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> list(sipas.mean(d, "p03", by="urban").to_frame().columns[:4])
        ['urban', 'variable', 'value', 'estimate']
        """
        return self._table.copy()

    def __len__(self) -> int:
        return len(self._table)

    @property
    def keys(self) -> list[tuple[Any, ...]]:
        """The key of every row: ``(*domain values, variable[, value][, quantile])``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.proportion(d, "p01", value=1, by="urban").keys
        [(1.0, 'p01', 1), (2.0, 'p01', 1)]
        """
        cols = [*self.by, "variable"]
        if self.statistic == "proportion":
            cols.append("value")
        if "quantile" in self._table.columns:
            cols.append("quantile")
        return [tuple(v.item() if isinstance(v, np.generic) else v for v in row)
                for row in self._table[cols].itertuples(index=False, name=None)]

    @property
    def labels(self) -> list[str]:
        """A readable label per row (for display): ``variable`` or ``by=value, ...:
        variable``, with ``=value`` for proportions.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.mean(d, "p03", by="urban").labels
        ['urban=1: p03', 'urban=2: p03']
        """
        out = []
        n_by = len(self.by)
        for key in self.keys:
            dom = ", ".join(f"{b}={format_value(v)}" for b, v in zip(self.by, key[:n_by]))
            what = str(key[n_by])
            if self.statistic == "proportion":
                what += f"={format_value(key[n_by + 1])}"
            out.append(f"{dom}: {what}" if dom else what)
        return out

    def vcov(self) -> pd.DataFrame:
        """Variance-covariance matrix of the rows (same design: covariances included).

        Returns
        -------
        pandas.DataFrame
            Square, indexed by :attr:`keys` on both axes (a MultiIndex when keys have
            several parts); the diagonal is ``se**2``.

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
        index = _key_index(self.keys)
        return pd.DataFrame(self.basis.cov(), index=index, columns=index)

    def summary(self) -> str:
        """The estimates as text: what was estimated and how, then every row.

        Returns
        -------
        str
            A header (statistic, rows, level, interval method, how df were counted) and
            the ``by`` columns, ``variable`` (``value`` for proportions), ``estimate, se,
            ci_low, ci_high, df, deff, n``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> for line in sipas.mean(d, "p03", by="urban").summary().splitlines()[:2]:
        ...     print(line)
        mean of 1 variable(s) by urban: 2 row(s)
        95% intervals (wald), df counted within each domain
        """
        cols = [*self.by, "variable", "value", "estimate", "se", "ci_low", "ci_high", "df",
                "deff", "n"]
        shown = self._table[[c for c in cols if c in self._table]]
        if self.statistic != "proportion":
            shown = shown.drop(columns="value")
        rule = {"domain": "df counted within each domain",
                "given": "df as given"}.get(self.notes.get("df", ""), "df of the design")
        variables = self._table["variable"].nunique()
        by = f" by {', '.join(self.by)}" if self.by else ""
        head = (f"{self.statistic} of {variables} variable(s){by}: {len(self)} row(s)\n"
                f"{100 * self.level:g}% intervals ({self.ci}), {rule}")
        return head + "\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.6g}")

    def __repr__(self) -> str:
        cols = [*self.by, "variable", "value", "estimate", "se", "ci_low", "ci_high"]
        shown = self._table[[c for c in cols if c in self._table]]
        if self.statistic != "proportion":
            shown = shown.drop(columns="value")
        head = shown.head(8).to_string(index=False, float_format=lambda v: f"{v:.6g}")
        more = f"\n... {len(self) - 8} more rows" if len(self) > 8 else ""
        return (f"<Estimate {self.statistic}, {len(self)} row(s), level={self.level:g}, "
                f"ci={self.ci}>\n{head}{more}")

    def _repr_html_(self) -> str:
        caption = html.escape(f"{self.statistic} · level {self.level:g} · interval {self.ci}")
        table = self._table.to_html(index=False, float_format=lambda v: f"{v:.6g}")
        start = table.index(">") + 1  # after the opening <table ...> tag
        return f"{table[:start]}\n  <caption>{caption}</caption>{table[start:]}"


def format_value(value: Any) -> str:
    """A proportion's counted value as text: ``4``, ``Yes`` or ``4, 5`` for a set.

    Examples
    --------
    >>> format_value(4.0), format_value((4, 5)), format_value("Yes")
    ('4', '4, 5', 'Yes')
    """
    if isinstance(value, tuple):
        return ", ".join(format_value(v) for v in value)
    return str(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key_index(keys: Sequence[tuple[Any, ...]]) -> pd.Index:
    if keys and len(keys[0]) == 1:
        return pd.Index([k[0] for k in keys])
    return pd.MultiIndex.from_tuples(keys)


def build_estimate(domains: pd.DataFrame, variables: Sequence[str], *, est: np.ndarray,
                   se: np.ndarray, ci: tuple[np.ndarray, np.ndarray], df: np.ndarray,
                   statistic: str, level: float, ci_method: str, basis: VarBasis | None,
                   values: Sequence[Any] | None = None, quantiles: Sequence[float] | None
                   = None, n: Any = pd.NA, n_missing: Any = pd.NA,
                   deff: tuple[Any, Any] = (np.nan, np.nan),
                   notes: Mapping[str, Any] | None = None) -> Estimate:
    """The one builder of :class:`Estimate`: one row per (domain, variable), variables
    varying fastest.

    Parameters
    ----------
    domains : pandas.DataFrame
        Domain labels (D rows; no columns for a single domain).
    variables : sequence of str
        The J variable names (the columns estimated).
    est, se, df : numpy.ndarray
        D x J values, domain-major.
    ci : (numpy.ndarray, numpy.ndarray)
        Interval limits.
    statistic, level, ci_method : str, float, str
        What was estimated and how the intervals were made.
    basis : VarBasis or None
        The variance basis of the rows (None: no covariance).
    values : sequence, optional
        The counted value of each of the J rows (proportions).
    quantiles : sequence of float, optional
        The probability of each of the J rows (quantiles).
    n, n_missing : array or scalar
        Respondents used and left out, per row.
    deff : (array, array)
        Design effects without and with replacement.
    notes : mapping, optional
        Free-form notes kept with the estimate.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> e = build_estimate(pd.DataFrame(index=range(1)), ["y"], est=np.array([2.0]),
    ...                    se=np.array([0.5]), ci=(np.array([1.0]), np.array([3.0])),
    ...                    df=np.array([10.0]), statistic="mean", level=0.95,
    ...                    ci_method="wald", basis=None)
    >>> e.to_frame()[["variable", "estimate", "cv"]].values.tolist()
    [['y', 2.0, 0.25]]
    """
    j, d = len(variables), len(domains)
    index = pd.RangeIndex(d * j)
    columns: dict[str, Any] = {}
    if len(domains.columns):
        rows = domains.iloc[np.repeat(np.arange(d), j)].set_axis(index)
        columns = {c: rows[c] for c in domains.columns}
    value_col = pd.Series([None] * (d * j), dtype=object, index=index)
    if values is not None:
        value_col[:] = [values[i % j] for i in range(d * j)]
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.asarray(se, dtype="float64") / np.abs(np.asarray(est, dtype="float64"))
    columns.update(variable=np.tile(np.asarray(variables, dtype=object), d), value=value_col)
    if quantiles is not None:
        columns["quantile"] = np.tile(np.asarray(quantiles, dtype="float64"), d)
    columns.update(estimate=est, se=se, ci_low=ci[0], ci_high=ci[1], df=df, deff=deff[0],
                   n=n, n_missing=n_missing, cv=cv, deff_replace=deff[1])
    table = pd.DataFrame(columns, index=index)
    return Estimate(table, statistic, level, ci_method, tuple(domains.columns), basis, notes)
