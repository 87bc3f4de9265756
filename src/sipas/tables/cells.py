"""The cells of a two-way table as ratios and totals on a design (one reduction per kind).

A two-way table of ``row`` by ``col`` is a set of ``r x c`` cell indicators. Its cell, row
and column shares are ratios of weighted totals of those indicators, and its weighted counts
are totals, so :func:`~sipas.estimation.fit.fit` gives every one of them with its full
covariance (Taylor, calibration-aware, replicate; in memory or Dask): no variance is written
here. Rows where either variable is missing are left out of the table (R ``na.rm=TRUE``) but
stay in the design.

Cells are numbered row-major: cell ``i * c + j`` is row level ``i``, column level ``j``.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> layout = table_layout(d, "urban", "p01")
>>> layout.shape
(2, 2)
>>> round(float(cell_fit(d, layout, "cell")[0].basis.full.sum()), 12)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import plain
from sipas.backends.base import Domains
from sipas.design.protocol import SurveyDesign
from sipas.engine.rows import Rows
from sipas.errors import DesignError
from sipas.estimation.estimators import check_design, columns_of
from sipas.estimation.fit import RatioFit, fit
from sipas.estimation.recipes import levels

__all__ = ["CellKind", "CellRecipe", "CrossedCodes", "TableLayout", "cell_counts", "cell_fit",
           "crossed", "table_layout"]

#: what the cells are estimated as: shares of the table, of their row, of their column,
#: or weighted counts (totals)
CellKind = Literal["cell", "row", "column", "total"]


@dataclass(frozen=True)
class TableLayout:
    """The two variables of a table and their levels (sorted observed values).

    Attributes
    ----------
    row, col : str
        The row and column variables.
    row_levels, col_levels : tuple
        Their levels, in table order.
    """

    row: str
    col: str
    row_levels: tuple[Any, ...]
    col_levels: tuple[Any, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """``(r, c)``: numbers of row and column levels."""
        return len(self.row_levels), len(self.col_levels)

    @property
    def k(self) -> int:
        """Number of cells ``r * c``."""
        return len(self.row_levels) * len(self.col_levels)

    def codes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Row and column level of every row of ``frame`` (-1: missing)."""
        return (_codes(frame[self.row], self.row_levels),
                _codes(frame[self.col], self.col_levels))

    def cell_labels(self) -> pd.DataFrame:
        """One row per cell (row-major) with the two levels."""
        r, c = self.shape
        return pd.DataFrame({self.row: [self.row_levels[i] for i in range(r) for _ in range(c)],
                             self.col: [self.col_levels[j] for _ in range(r) for j in range(c)]})


def _codes(col: pd.Series, lv: tuple[Any, ...]) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col) and all(isinstance(v, (int, float, np.number))
                                                  for v in lv):
        ref = np.asarray(lv, dtype="float64")
        if np.all(ref == np.round(ref)) and ref[-1] - ref[0] < 10_000:
            return _integer_codes(col, ref)
        x = col.to_numpy(dtype="float64", na_value=np.nan)
        pos = np.searchsorted(ref, x)
        pos = np.minimum(pos, len(ref) - 1)
        return np.where(ref[pos] == x, pos, -1).astype(np.int64)
    return pd.Categorical(col, categories=list(lv)).codes.astype(np.int64)


def _integer_codes(col: pd.Series, ref: np.ndarray) -> np.ndarray:
    """Codes of integer levels by a lookup table (answer codes 1-5, districts): several
    times faster than a sorted search on a million rows."""
    low = int(ref[0])
    lut = np.full(int(ref[-1]) - low + 1, -1, dtype=np.int64)
    lut[ref.astype(np.int64) - low] = np.arange(len(ref))
    values = col.to_numpy()
    if values.dtype.kind in "iub":
        pos = values.astype(np.int64) - low
        inside = (pos >= 0) & (pos < len(lut))
    else:
        x = col.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            pos = np.where(np.isfinite(x), x - low, -1.0)
            inside = (pos >= 0) & (pos < len(lut)) & (pos == np.floor(pos))
        pos = pos.astype(np.int64)
    return np.where(inside, lut[np.where(inside, pos, 0)], -1)


def table_layout(design: SurveyDesign, row: str, col: str) -> TableLayout:
    """Check the two variables and find their levels.

    Raises
    ------
    DesignError
        ``design`` is not a design; a column is not in the data; ``row`` and ``col`` are the
        same column; a variable has fewer than two observed values.
    """
    check_design(design)
    columns_of(design, row, "row")
    columns_of(design, col, "col")
    if row == col:
        raise DesignError(f"row and col must be two different columns; got {row!r} twice.")
    lv = []
    for name in (row, col):
        found = tuple(plain(v) for v in levels(design.backend, name))
        if len(found) < 2:
            raise DesignError(f"column {name!r} has {len(found)} observed value(s) "
                              f"{list(found)}; a two-way table needs at least two levels of "
                              "each variable. Check the column or choose another one.")
        lv.append(found)
    return TableLayout(row, col, lv[0], lv[1])


@dataclass(frozen=True)
class CellRecipe:
    """Cell indicators as (num, den, valid) for :func:`~sipas.estimation.fit.fit`.

    ``kind`` ``cell``: one variable per cell over the answered rows; ``total``: the same
    without denominator; ``row``: one variable per column level (the domains are then the
    row levels, :class:`CrossedCodes`); ``column``: one per row level. ``items`` are the
    cells or levels of this piece of the recipe.
    """

    layout: TableLayout
    kind: CellKind
    items: tuple[int, ...]
    #: the codes of the last chunk, shared by the pieces of a split recipe: the reduction
    #: calls every piece on the same chunk, and coding the rows is most of the work
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the recipe reads."""
        return (self.layout.row, self.layout.col)

    def _coded(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The code each row is counted under (-1: not answered) and whether it answered."""
        if self.memo.get("frame") is not frame:
            ri, ci = self.layout.codes(frame)
            answered = (ri >= 0) & (ci >= 0)
            if self.kind == "row":
                code = np.where(answered, ci, -1)
            elif self.kind == "column":
                code = np.where(answered, ri, -1)
            else:
                code = np.where(answered, ri * self.layout.shape[1] + ci, -1)
            self.memo.clear()
            self.memo.update(frame=frame, code=code, answered=answered)
        return self.memo["code"], self.memo["answered"]

    def __call__(self, frame: pd.DataFrame, w: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        code, answered = self._coded(frame)
        j = len(self.items)
        num = np.empty((len(code), j), dtype=bool, order="F")
        for k, item in enumerate(self.items):
            np.equal(code, item, out=num[:, k])
        # the same answered-mask for every piece of the same size: made once per chunk
        key = f"valid{j}"
        if key not in self.memo:
            self.memo[key] = np.asfortranarray(np.repeat(answered[:, None], j, axis=1))
        valid = self.memo[key]
        return num, (None if self.kind == "total" else valid), valid

    def split(self, size: int) -> Sequence[CellRecipe]:
        return [CellRecipe(self.layout, self.kind, self.items[i: i + size], self.memo)
                for i in range(0, len(self.items), size)]


@dataclass(frozen=True, eq=False)
class CrossedCodes:
    """Domain codes crossed with the levels of one table variable: domain ``d``, level
    ``i`` is ``d * L + i`` (-1 where either is missing); works on any chunk of rows."""

    base: Any
    layout: TableLayout
    axis: int

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        dom = self.base(frame)
        level = self.layout.codes(frame)[self.axis]
        n_levels = self.layout.shape[self.axis]
        return np.where((dom >= 0) & (level >= 0), dom * n_levels + level, -1)


def crossed(domains: Domains, layout: TableLayout, axis: int) -> Domains:
    """The domains of ``domains`` within each level of the row (0) or column (1) variable."""
    lv = (layout.row_levels, layout.col_levels)[axis]
    name = (layout.row, layout.col)[axis]
    base = domains.labels
    labels = base.iloc[np.repeat(np.arange(len(base)), len(lv))].reset_index(drop=True)
    labels[name] = list(lv) * len(base)
    return Domains(labels, CrossedCodes(domains.coder, layout, axis))


def cell_fit(design: SurveyDesign, layout: TableLayout, kind: CellKind, by: Any = None,
             *, deff: bool = False) -> tuple[RatioFit, np.ndarray]:
    """The cells of ``layout`` estimated as ``kind`` in every domain of ``by``.

    Row (column) shares are shares of the column (row) levels within the domains crossed
    with the row (column) levels, so their df, design effects and counts are those of that
    domain, as :func:`sipas.proportion` with ``by=[*by, row]``.

    Returns
    -------
    (RatioFit, numpy.ndarray)
        The fit, and the position in it of every (domain, cell), domain-major with cells
        row-major: ``fit.basis.take(order)`` is in table order.
    """
    domains = design.domains(by)
    r, c = layout.shape
    n_dom = len(domains)
    order = np.arange(n_dom * layout.k)
    if kind == "row":
        recipe = CellRecipe(layout, kind, tuple(range(c)))
        domains = crossed(domains, layout, 0)
    elif kind == "column":
        recipe = CellRecipe(layout, kind, tuple(range(r)))
        # fitted as (domain, column, row): put it back to (domain, row, column)
        d_i, r_i, c_i = np.meshgrid(np.arange(n_dom), np.arange(r), np.arange(c),
                                    indexing="ij")
        order = ((d_i * c + c_i) * r + r_i).ravel()
        domains = crossed(domains, layout, 1)
    else:
        recipe = CellRecipe(layout, kind, tuple(range(layout.k)))
    return fit(design, recipe, domains, second_moment=deff, binary=True), order


@dataclass(frozen=True, eq=False)
class CellCounts:
    """Unweighted count of positive-weight rows per (domain, cell) (a reduction kernel)."""

    layout: TableLayout
    domains: Any

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns read: the two variables and the domain columns."""
        return tuple(dict.fromkeys([self.layout.row, self.layout.col,
                                    *self.domains.columns]))

    def __call__(self, rows: Rows) -> np.ndarray:
        ri, ci = self.layout.codes(rows.frame)
        dom = self.domains.codes(rows)
        k = self.layout.k
        keep = (ri >= 0) & (ci >= 0) & (dom >= 0) & (rows.weights() > 0)
        key = dom[keep] * k + ri[keep] * self.layout.shape[1] + ci[keep]
        return np.bincount(key, minlength=len(self.domains) * k).astype(np.int64)

    def combine(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """Add the chunks' counts."""
        return np.sum(parts, axis=0)


def cell_counts(design: SurveyDesign, layout: TableLayout, by: Any = None) -> np.ndarray:
    """Respondents (positive weight, both variables answered) per (domain, cell).

    Returns
    -------
    numpy.ndarray
        ``(D * k,)`` counts, domain-major.
    """
    return design.backend.reduce(CellCounts(layout, design.domains(by)))
