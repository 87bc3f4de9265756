"""Population targets, and the pre-flight checks run before any iteration (argument checks,
margins that describe different populations, codes that do not match the data)."""

from __future__ import annotations

import numbers
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import message, plain
from sipas.backends.base import Backend, CellTable
from sipas.errors import DesignError, WeightingError
from sipas.spec import Margin

__all__ = ["check_iteration", "check_same_totals", "level_codes", "margin_total",
           "normalise_margins"]


def margin_total(margin: Margin) -> float:
    """The population total a margin describes (the sum of its targets).

    Examples
    --------
    >>> margin_total(Margin("sex", ("sex",), {(1,): 2.0, (2,): 3.0}))
    5.0
    """
    return float(sum(margin.targets.values()))


def normalise_margins(margins: Any, frame_columns: Collection[str]) -> list[Margin]:
    """Accept ``{"sex": {1: .., 2: ..}, ("sex", "age"): {(1, 1): ..}}``, a list of
    ``sipas.spec.Margin`` objects, or DataFrames with the variables and ``population``."""
    items: list[tuple[Any, Any]]
    if isinstance(margins, Mapping):
        items = list(margins.items())
    elif isinstance(margins, Sequence) and not isinstance(margins, str):
        items = [(m.variables, m.targets) if hasattr(m, "variables") else (None, m)
                 for m in margins]
    else:
        raise WeightingError("margins must be a mapping {column(s): {level: population}} or a "
                             f"list of spec margins; got {type(margins).__name__}.")
    out = []
    for key, targets in items:
        variables, table = _one_margin(key, targets)
        missing = [v for v in variables if v not in frame_columns]
        if missing:
            raise DesignError(f"margin {' x '.join(variables)!r}: column(s) {missing} are not "
                                 "in the data. Check the spelling of the margin variables.")
        out.append(Margin(" x ".join(variables), variables, table, "weighting"))
    if not out:
        raise WeightingError("margins is empty: give at least one margin with its targets.")
    return out


def _one_margin(key: Any, targets: Any) -> tuple[tuple[str, ...], dict[tuple, float]]:
    if isinstance(targets, pd.DataFrame):
        pop_col = "population" if "population" in targets else "Freq"
        if pop_col not in targets:
            raise WeightingError("a margin table needs a 'population' (or 'Freq') column; got "
                                 f"{list(targets.columns)}.")
        variables = tuple(c for c in targets.columns if c != pop_col)
        table = {tuple(r[:-1]): float(r[-1])
                 for r in targets[[*variables, pop_col]].itertuples(index=False)}
        return variables, table
    variables = (key,) if isinstance(key, str) else tuple(key)
    if isinstance(targets, pd.Series):
        targets = targets.to_dict()
    if not isinstance(targets, Mapping) or not targets:
        raise WeightingError(f"targets of margin {variables} must be a non-empty mapping "
                             f"{{level: population}}; got {targets!r}.")
    table = {}
    for level, value in targets.items():
        level = level if isinstance(level, tuple) else (level,)
        if len(level) != len(variables):
            raise WeightingError(f"margin {variables}: target key {level!r} must give one level "
                                 f"per variable ({len(variables)}).")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise WeightingError(f"margin {variables}: target of {level!r} must be a number; got "
                                 f"{value!r}.") from None
        if not np.isfinite(number) or number < 0:
            raise WeightingError(f"margin {variables}: target of {level!r} must be a finite "
                                 f"number >= 0; got {value!r}.")
        table[level] = number
    return variables, table


def level_codes(cells: CellTable, margin: Margin, backend: Backend, *,
                partial: bool = False) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """The level of ``margin`` of every weighting cell (index into the returned levels).

    Pre-flight checks, on the cells of the positive-weight rows: missing values in a margin
    column, codes that differ in type between data and targets, sample levels without a
    target, targets without sample (unless ``partial``: such levels are dropped and reported
    by the caller).

    Parameters
    ----------
    cells : CellTable
        The cells (``backend.cell_table(columns)``) of columns that include the margin's.
    margin : Margin
        The margin.
    backend : Backend
        The design's back end (to name rows in messages).
    partial : bool
        Allow population levels without sample.

    Returns
    -------
    (numpy.ndarray, list of tuple)
        The level of each cell, and the levels (keys of ``margin.targets``).

    Raises
    ------
    WeightingError
        See above.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> cells = d.backend.cell_table(["urban"])
    >>> m = Margin("urban", ("urban",), {(1,): 10.0, (2,): 20.0})
    >>> level_codes(cells, m, d.backend)[0].tolist()
    [0, 1]
    """
    cols = list(margin.variables)
    table = cells.table
    na = table[cols].isna().any(axis=1).to_numpy()
    if na.any():
        which = [c for c in cols if table[c].isna().any()]
        n = int(table.loc[na, "__n"].sum())
        rows = [r for i in np.flatnonzero(na) for r in (backend.rows_of(cells, int(i)) or [])]
        where = f" (rows {sorted(rows)[:10]})" if rows else ""
        raise WeightingError(
            f"margin {margin.name!r}: column(s) {which} have {n} missing value(s) among "
            f"weighted rows{where}. Impute or recode them explicitly before weighting; sipas "
            "does not drop respondents silently.")
    keys = [tuple(plain(v) for v in row)
            for row in table[cols].itertuples(index=False, name=None)]
    levels = list(margin.targets)
    where_level = {lv: i for i, lv in enumerate(levels)}
    codes = np.array([where_level.get(k, -1) for k in keys], dtype=np.int64)
    if (codes < 0).any():
        seen = sorted({keys[i] for i in np.flatnonzero(codes < 0)}, key=str)
        if not (codes >= 0).any():
            raise WeightingError(
                f"margin {margin.name!r}: the codes in the data ({seen[:8]}) and in the targets "
                f"({levels[:8]}) do not match at all. Are they coded differently (1/2 versus "
                "'Nam'/'Nữ', or 1 versus '1')? Recode the targets to the data's codes.")
        raise WeightingError(
            f"margin {margin.name!r}: sample level(s) {seen[:8]} have no population target. "
            "Add their targets, or collapse them into a level that has one.")
    counts = np.bincount(codes, minlength=len(levels))
    empty = [levels[i] for i in np.flatnonzero(counts == 0) if margin.targets[levels[i]] > 0]
    if empty and not partial:
        raise WeightingError(
            f"margin {margin.name!r}: population level(s) {empty[:8]} have a target but no "
            "respondent in the sample. Collapse them with a neighbouring level, or pass "
            "partial=True to leave them out (the weights then miss their population).")
    return codes, levels


def check_same_totals(margins: list[Margin] | Mapping[str, float], rtol: float = 1e-6,
                      what: str = "Raking") -> None:
    """Margins (or categorical calibration totals) must describe the same population."""
    totals = ({m.name: margin_total(m) for m in margins} if not isinstance(margins, Mapping)
              else dict(margins))
    if len(totals) < 2:
        return
    ref = next(iter(totals.values()))
    if any(abs(t - ref) > rtol * max(abs(ref), 1) for t in totals.values()):
        shown = ", ".join(f"{k}={v:,.6g}" for k, v in totals.items())
        raise WeightingError(f"the margins do not sum to the same population total ({shown}). "
                             f"{what} cannot hit all of them: check the targets (same year, same "
                             "population definition).")


def check_iteration(tol: Any, max_iter: Any) -> tuple[float, int]:
    """Check the tolerance (a finite number > 0) and the iteration limit (an integer >= 1)."""
    if (isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral)
            or max_iter < 1):
        raise WeightingError(message("max_iter", "a positive integer", max_iter))
    if (isinstance(tol, bool) or not isinstance(tol, numbers.Real)
            or not np.isfinite(float(tol)) or tol <= 0):
        raise WeightingError(message("tol", "a finite number > 0", tol, "For example 1e-10."))
    return float(tol), int(max_iter)
