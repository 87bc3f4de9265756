"""Population targets, the pre-flight checks run before any iteration, and helpers shared by
the weighting steps (argument checks, per-replicate re-weighting)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._codes import integer_table, sorted_codes
from sipas._validate import message, plain
from sipas.errors import WeightingError

__all__ = ["Margin", "cell_codes", "check_iteration", "check_same_totals", "normalise_margins",
           "per_replicate", "plain"]


class Margin:
    """One margin: the column(s) it is defined on and a target per level (tuple keys)."""

    def __init__(self, variables: tuple[str, ...], targets: dict[tuple, float]) -> None:
        self.variables = variables
        self.targets = targets

    @property
    def name(self) -> str:
        return " x ".join(self.variables)

    @property
    def total(self) -> float:
        return float(sum(self.targets.values()))


def normalise_margins(margins: Any, frame_columns: Sequence[str]) -> list[Margin]:
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
            raise WeightingError(f"margin {' x '.join(variables)!r}: column(s) {missing} are not "
                                 "in the data. Check the spelling of the margin variables.")
        out.append(Margin(variables, table))
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


def cell_codes(frame: pd.DataFrame, margin: Margin, w: np.ndarray, *,
               partial: bool = False) -> tuple[np.ndarray, list[tuple]]:
    """Code of each row's level of ``margin`` (index into the returned level list).

    Pre-flight checks: missing values in a margin column, codes that differ in type between
    data and targets, sample levels without a target, targets without sample (unless
    ``partial``: such levels are dropped and reported by the caller).
    """
    cols = list(margin.variables)
    data = frame[cols]
    active = w > 0
    every = bool(active.all())
    # integer columns cannot hold missing values: no pass over them
    maybe_na = [c for c in cols if not (isinstance(data[c].dtype, np.dtype)
                                        and data[c].dtype.kind in "iub")]
    bad = np.zeros(len(data), dtype=bool)
    for c in maybe_na:
        bad |= data[c].isna().to_numpy()
    if not every:
        bad &= active
    if bad.any():
        which = [c for c in maybe_na if data[c][active].isna().any()]
        raise WeightingError(
            f"margin {margin.name!r}: column(s) {which} have {int(bad.sum())} missing value(s) "
            f"among weighted rows (rows {np.flatnonzero(bad)[:10].tolist()}). Impute or recode "
            "them explicitly before weighting; sipas does not drop respondents silently.")
    index, key_of, keys, index_rows = _row_keys(data, cols)
    levels = list(margin.targets)
    where = {lv: i for i, lv in enumerate(levels)}
    key_code = np.array([where.get(k, -1) for k in keys], dtype=np.int64)
    # everything per distinct value, then one lookup per row
    code_of = np.where(key_of >= 0, key_code[np.maximum(key_of, 0)], -1)
    codes = code_of[index]
    unmatched = np.zeros(len(codes), dtype=bool) if code_of.min(initial=0) >= 0 else (
        codes < 0 if every else active & (codes < 0))
    if unmatched.any():
        seen = sorted({tuple(plain(v) for v in keys[i])
                       for i in np.unique(key_of[index[unmatched]])}, key=str)
        if not any(k in where for k in keys):
            raise WeightingError(
                f"margin {margin.name!r}: the codes in the data ({seen[:8]}) and in the targets "
                f"({levels[:8]}) do not match at all. Are they coded differently (1/2 versus "
                "'Nam'/'Nữ', or 1 versus '1')? Recode the targets to the data's codes.")
        raise WeightingError(
            f"margin {margin.name!r}: sample level(s) {seen[:8]} have no population target. "
            "Add their targets, or collapse them into a level that has one.")
    if not every:
        index_rows = np.bincount(index[active], minlength=len(code_of))
    counts = np.bincount(np.maximum(code_of, 0), weights=index_rows * (code_of >= 0),
                         minlength=len(levels))
    empty = [levels[i] for i in np.flatnonzero(counts == 0) if margin.targets[levels[i]] > 0]
    if empty and not partial:
        raise WeightingError(
            f"margin {margin.name!r}: population level(s) {empty[:8]} have a target but no "
            "respondent in the sample. Collapse them with a neighbouring level, or pass "
            "partial=True to leave them out (the weights then miss their population).")
    return codes, levels


def _row_keys(data: pd.DataFrame,
              cols: list[str]) -> tuple[np.ndarray, np.ndarray, list[tuple], np.ndarray]:
    """The distinct value tuples of the rows, as ``(index, key_of, keys, rows)``: row ``i``
    has key ``key_of[index[i]]`` (-1: none), and ``rows[j]`` rows have index ``j``.

    One integer column in a small range is indexed by its values (a table, no per-row
    codes); otherwise the index is the key itself. Python-level work is per distinct value.
    """
    if len(cols) == 1:
        table = integer_table(data[cols[0]].to_numpy())
        if table is not None:
            index, rows, start = table
            present = rows > 0
            key_of = np.where(present, np.cumsum(present) - 1, -1)
            values = (np.flatnonzero(present) + start).astype(data[cols[0]].dtype)
            return index, key_of, [(v,) for v in values.astype(object)], rows
    mixed = None
    parts = []
    for c in cols:
        codes, uniques = sorted_codes(data[c], na_level=True)
        mixed = codes if mixed is None else mixed * len(uniques) + codes
        parts.append(np.asarray(uniques, dtype=object))
    if len(cols) == 1:
        row_key, keys = mixed, [(v,) for v in parts[0]]
    else:
        row_key, combos = pd.factorize(mixed)
        keys = []
        for combo in np.asarray(combos):
            rest, values = int(combo), []
            for uniques in reversed(parts):
                values.append(uniques[rest % len(uniques)])
                rest //= len(uniques)
            keys.append(tuple(reversed(values)))
        row_key = row_key.astype(np.int64)
    return row_key, np.arange(len(keys)), keys, np.bincount(row_key, minlength=len(keys))


def check_same_totals(margins: list[Margin] | Mapping[str, float], rtol: float = 1e-6,
                      what: str = "Raking") -> None:
    """Margins (or categorical calibration totals) must describe the same population."""
    totals = ({m.name: m.total for m in margins} if not isinstance(margins, Mapping)
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


def per_replicate(reps: np.ndarray, reweight: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``reweight`` to every column of the (n x R) replicate weights.

    A failure in one replicate names it (a jackknife replicate can lose the only respondents
    of a cell or class even when the full sample has them).
    """
    out = []
    for r in range(reps.shape[1]):
        try:
            out.append(reweight(reps[:, r]))
        except WeightingError as exc:
            raise type(exc)(f"replicate {r + 1} of {reps.shape[1]}: {exc}") from exc
    w = np.column_stack(out)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = sorted({int(c) + 1 for c in np.flatnonzero((~np.isfinite(w) | (w < 0)).any(0))})
        raise WeightingError(f"the weighting step gives negative or non-finite weights in "
                             f"replicate(s) {bad[:10]}. Use bounds=(lower, upper), "
                             "method='raking', or collapse sparse cells.")
    return w
