"""The result type of every estimator: :class:`Estimate`.

An estimate is one row per (domain, variable) with the fixed columns
``<by...>, variable, estimate, se, ci_low, ci_high, df, deff, n, n_missing, cv, deff_replace``
(so results of different calls concatenate), and the variance basis behind them, which gives
the covariance of the rows (:meth:`Estimate.vcov`) and of their linear combinations.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> sipas.mean(d, "p03").to_frame().columns.tolist()[:3]
['variable', 'estimate', 'se']
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas.ci import wald_interval
from sipas.errors import EstimationError
from sipas.variance import VarBasis

__all__ = ["COLUMNS", "Estimate"]

COLUMNS = ("variable", "estimate", "se", "ci_low", "ci_high", "df", "deff", "n", "n_missing",
           "cv", "deff_replace")


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


def _table(labels: pd.DataFrame, names: list[str], est: np.ndarray, se: np.ndarray,
           ci: tuple[np.ndarray, np.ndarray], row_df: np.ndarray, n: Any, n_missing: Any,
           deff: tuple[Any, Any] = (np.nan, np.nan)) -> pd.DataFrame:
    """The result table (domain labels, then :data:`COLUMNS`), built in one constructor:
    one row per (domain, variable), variables varying fastest."""
    j = len(names)
    index = pd.RangeIndex(len(est))
    columns: dict[str, Any] = {}
    if len(labels.columns):
        rows = labels.iloc[np.repeat(np.arange(len(labels)), j)].set_axis(index)
        columns = {c: rows[c] for c in labels.columns}
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = se / np.abs(est)
    columns.update(variable=np.tile(np.asarray(names, dtype=object), len(labels)),
                   estimate=est, se=se, ci_low=ci[0], ci_high=ci[1], df=row_df, deff=deff[0],
                   n=n, n_missing=n_missing, cv=cv, deff_replace=deff[1])
    return pd.DataFrame(columns, index=index)


def _from_basis(basis: VarBasis, names: list[str], level: float, row_df: np.ndarray,
                statistic: str, ci_method: str = "wald") -> Estimate:
    est = basis.full
    se = np.sqrt(np.maximum(basis.var(), 0))
    na = pd.array([pd.NA] * len(names), dtype=object)
    table = _table(pd.DataFrame(index=range(1)), names, est, se,
                   wald_interval(est, se, row_df, level), row_df, na, na)
    return Estimate(table=table, statistic=statistic, level=level, ci_method=ci_method, by=(),
                    basis=basis)
