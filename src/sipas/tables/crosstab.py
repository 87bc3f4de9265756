"""Two-way tables: cell, row and column shares and weighted counts, with SEs, intervals,
design effects and respondents (R ``svytable``, ``svymean`` of cell indicators, ``svyby``).

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> tab = sipas.crosstab(d, "urban", "p01")
>>> tab.row.to_frame()[["urban", "p01", "estimate"]].shape
(4, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_choice, check_df, check_level
from sipas.design.protocol import SurveyDesign
from sipas.engine.intervals import proportion_interval, wald_interval
from sipas.errors import DesignError
from sipas.estimation.estimate import Estimate, build_estimate
from sipas.tables.cells import CellKind, TableLayout, cell_counts, cell_fit, table_layout

__all__ = ["Crosstab", "TableCI", "crosstab"]

TableCI = Literal["logit", "wald", "xlogit", "asin", "beta", "wilson", "mean"]
KINDS: tuple[CellKind, ...] = ("cell", "row", "column", "total")


class Crosstab:
    """A two-way table estimated on a design (read-only).

    Attributes
    ----------
    cell, row, column, total : Estimate
        The cells as shares of the table, of their row, of their column, and as weighted
        counts. Each has one row per (domain, row level, column level), keys
        ``(*by values, row level, column level, kind)``, a covariance (``vcov()``) and
        works with :func:`sipas.contrast` and :func:`sipas.nonlinear_contrast`.
    row_variable, col_variable : str
        The two variables.
    by : tuple of str
        The domain columns.
    """

    __slots__ = ("by", "cell", "col_variable", "column", "row", "row_variable", "total")

    cell: Estimate
    row: Estimate
    column: Estimate
    total: Estimate
    row_variable: str
    col_variable: str
    by: tuple[str, ...]

    def __init__(self, parts: Mapping[str, Estimate], layout: TableLayout,
                 by: tuple[str, ...]) -> None:
        values = {**parts, "row_variable": layout.row, "col_variable": layout.col,
                  "by": by}
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Crosstab cannot change; use to_frame() for a copy to edit.")

    def to_frame(self) -> pd.DataFrame:
        """All four estimates in one long table.

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, the row and column variables (their levels), then
            ``variable`` (``cell``, ``row``, ``column`` or ``total``: what the estimate is a
            share of, or the weighted count), ``estimate, se, ci_low, ci_high, df, deff, n,
            n_missing, cv, deff_replace``.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> sipas.crosstab(d, "urban", "p01").to_frame()["variable"].unique().tolist()
        ['cell', 'row', 'column', 'total']
        """
        frame = pd.concat([getattr(self, k).to_frame() for k in KINDS], ignore_index=True)
        return frame.drop(columns="value")

    def summary(self, kind: str = "cell", digits: int = 3) -> str:
        """The table of one kind of estimate as text: ``estimate (se)`` per cell, one block
        per domain.

        Parameters
        ----------
        kind : {"cell", "row", "column", "total"}
            Which estimates to show.
        digits : int
            Decimals shown.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> print(sipas.crosstab(d, "urban", "p01").summary().splitlines()[0])
        cell shares of urban x p01 (se in brackets)
        """
        check_choice("kind", kind, KINDS)
        table = getattr(self, kind).to_frame()
        shown = table["estimate"].map(lambda v: f"{v:.{digits}f}") + " (" + \
            table["se"].map(lambda v: f"{v:.{digits}f}") + ")"
        table = table.assign(shown=shown)
        what = "weighted counts" if kind == "total" else f"{kind} shares"
        lines = [f"{what} of {self.row_variable} x {self.col_variable} (se in brackets)"]
        groups = table.groupby(list(self.by), sort=False) if self.by else [((), table)]
        for key, part in groups:
            if self.by:
                key = key if isinstance(key, tuple) else (key,)
                lines.append(", ".join(f"{b}={v}" for b, v in zip(self.by, key)))
            wide = part.pivot(index=self.row_variable, columns=self.col_variable,
                              values="shown")
            lines.append(wide.to_string())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Crosstab {self.row_variable} x {self.col_variable}>\n{self.summary()}"


def crosstab(design: SurveyDesign, row: str, col: str, *,
             by: str | Sequence[str] | None = None, level: float = 0.95,
             ci: TableCI = "logit", df: float | None = None) -> Crosstab:
    """Two-way table of ``row`` by ``col``: shares and weighted counts with their SEs.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (any kind, either back end).
    row, col : str
        The two categorical columns (codes or text); rows missing either are left out of
        the table (R ``na.rm=TRUE``) but stay in the design.
    by : str or list of str, optional
        Domain columns: one table per domain.
    level : float
        Confidence level of the intervals.
    ci : {"logit", "wald", "xlogit", "asin", "beta", "wilson", "mean"}
        Interval method of the shares (see :mod:`sipas.engine.intervals`); counts have
        Wald intervals.
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain.

    Returns
    -------
    Crosstab
        ``cell``, ``row``, ``column`` and ``total`` estimates (every cell of every domain,
        empty cells included with estimate 0), ``to_frame()`` and ``summary()``.

    Raises
    ------
    DesignError
        An unknown column; ``row == col``; a variable with fewer than two values; a ``by``
        column with missing values; an invalid ``level``, ``ci`` or ``df``.

    Notes
    -----
    Cell share ``p_ij = N_ij / N``, row share ``N_ij / N_i.``, column share
    ``N_ij / N_.j`` (ratios of weighted totals of cell indicators, linearised), count
    ``N_ij``. ``deff`` compares with simple random sampling without replacement as
    :func:`sipas.proportion` (the row or column share within its row or column); ``n`` is
    the number of respondents in the cell.
    R equivalent: ``svymean(~interaction(row, col), design)`` (cell shares),
    ``svyby(~col, ~row, design, svymean)`` (row shares), ``svytotal`` (counts),
    ``svytable(~row + col, design)`` (the weighted table).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> tab = sipas.crosstab(d, "urban", "p01")
    >>> f = tab.row.to_frame()
    >>> round(float(f[f["urban"] == 1]["estimate"].sum()), 6)  # shares of a row add to 1
    1.0
    """
    level = check_level(level)
    df = check_df(df)
    check_choice("ci", ci, ("logit", "wald", "xlogit", "asin", "beta", "wilson", "mean"))
    layout = table_layout(design, row, col)
    by_cols = as_name_list("by", by)
    if row in by_cols or col in by_cols:
        raise DesignError(f"by must not include the table's variables; got by={by_cols} "
                          f"for the table {row!r} x {col!r}.")
    counts = cell_counts(design, layout, by)
    parts: dict[str, Estimate] = {kind: _part(design, layout, kind, by, level, ci, df, counts)
                                  for kind in KINDS}
    return Crosstab(parts, layout, tuple(by_cols))


def _part(design: SurveyDesign, layout: TableLayout, kind: CellKind, by: Any, level: float,
          ci: str, df: float | None, counts: np.ndarray) -> Estimate:
    res, order = cell_fit(design, layout, kind, by, deff=True)
    basis = res.basis.take(order)
    k = layout.k
    n_dom = len(counts) // k
    dom = design.domains(by).labels
    frame = pd.concat([dom.iloc[np.repeat(np.arange(n_dom), k)].reset_index(drop=True),
                       pd.concat([layout.cell_labels()] * n_dom, ignore_index=True)], axis=1)
    est = basis.full
    fitted_var = res.basis.var()
    var = fitted_var[order]
    se = np.sqrt(np.maximum(var, 0))
    # the fitted domain (a domain, or a domain within a row or column level) of each cell
    fitted = np.repeat(np.arange(len(res.rows)), res.sums.n_vars)[order]
    row_df = np.full(len(est), df) if df is not None else res.domain_df()[fitted]
    rows = res.rows[fitted]
    if kind == "total":
        interval = wald_interval(est, se, row_df, level)
    else:
        interval = proportion_interval(ci, est, se, row_df, level, rows)
    deffs = res.deff(fitted_var, "total" if kind == "total" else "proportion")
    return build_estimate(frame, [kind], est=est, se=se, ci=interval, df=row_df,
                          statistic="total" if kind == "total" else "share", level=level,
                          ci_method="wald" if kind == "total" else ci, basis=basis,
                          n=counts.astype(np.int64),
                          n_missing=(rows - res.n[order]).astype(np.int64),
                          deff=(deffs[0][order], deffs[1][order]))
