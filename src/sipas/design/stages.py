"""The sampling stages of a design: strata, clusters and fpc laid out for the variance.

:func:`lay_out` validates the design columns of a frame (the data, or the table of sampling
units of a Dask design) and returns the stages that enter the variance
(:class:`~sipas.engine.variance.Stage`) and, when every stage has an fpc, the weights the fpc
implies (R's rule). Every refusal names the column, the stratum or unit, and what to do.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4]})
>>> stages, fpc_weights = lay_out(frame, DesignColumns(("psu",), "h", (), False, "fail"))
>>> [(s.n_units, s.n_groups) for s in stages], fpc_weights
([(4, 2)], None)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._codes import sorted_codes
from sipas._validate import message, require_columns
from sipas.backends.dask import DaskBackend
from sipas.backends.memory import MemoryBackend
from sipas.engine.variance import Stage
from sipas.errors import DesignError, DesignWarning

__all__ = ["DesignColumns", "LonelyPSU", "as_mask", "base_weights", "check_census", "lay_out",
           "open_dask",
           "open_memory", "positive_column"]

LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]


@dataclass(frozen=True)
class DesignColumns:
    """The design columns and rules the layout reads (already checked for type).

    Examples
    --------
    >>> DesignColumns(("psu",), None, (), False, "fail").ids
    ('psu',)
    """

    ids: tuple[str, ...]
    strata: str | None
    fpc: tuple[str, ...]
    nest: bool
    lonely_psu: str
    lonely_domain: bool = False
    lonely_corrected: bool = False


def lay_out(frame: pd.DataFrame, columns: DesignColumns
            ) -> tuple[tuple[Stage, ...], np.ndarray | None]:
    """The stages that enter the variance, and the weights implied by a full fpc.

    Without fpc only the first stage enters (ultimate cluster); with fpc every stage up to
    the first one without fpc (Stata's convention for the later stages).

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows (one per respondent, or one per sampling unit).
    columns : DesignColumns
        Cluster ids, strata, fpc, nesting and the lonely-PSU rule.

    Returns
    -------
    (tuple of Stage, numpy.ndarray or None)

    Raises
    ------
    DesignError
        Empty strata or cluster ids; PSU ids in several strata without ``nest``; a single
        PSU; a stratum with one PSU under ``lonely_psu="fail"``; an fpc that is not numeric,
        not positive, varies within a stratum, mixes fractions and sizes, or is below the
        number of sampled units.
    """
    return _Layout(frame, columns).stages()


class _Layout:
    def __init__(self, frame: pd.DataFrame, columns: DesignColumns) -> None:
        self.frame = frame
        self.ids, self.strata, self.fpc = columns.ids, columns.strata, columns.fpc
        self.nest, self.lonely_psu = columns.nest, columns.lonely_psu

    def stages(self) -> tuple[tuple[Stage, ...], np.ndarray | None]:
        frame, n = self.frame, len(self.frame)
        strata_codes, strata_labels = self._strata_codes()
        ids = list(self.ids) if self.ids else []
        unit_codes = []
        parent = strata_codes  # replaced by each stage's units before the next stage
        for k, col in enumerate(ids or [None]):
            if col is None:
                codes = np.arange(n)
            else:
                values = frame[col]
                if values.isna().any():
                    rows = np.flatnonzero(values.isna().to_numpy())[:10]
                    raise DesignError(f"Cluster column {col!r} is empty in "
                                      f"{int(values.isna().sum())} row(s) (rows {rows.tolist()}). "
                                      "Every row needs a cluster id at every stage.")
                if k == 0 and self.nest:
                    codes = _factorize_pairs(strata_codes, values)
                elif k == 0:
                    codes = sorted_codes(values)[0]
                    self._check_nesting(codes, strata_codes, strata_labels, col)
                else:
                    codes = _factorize_pairs(parent, values)
            unit_codes.append(codes)
            parent = codes
        w0 = None
        stages = []
        ancestor = np.ones(n)
        for k, codes in enumerate(unit_codes):
            n_units = int(codes.max()) + 1
            first = _first_index(codes, n_units)
            if k == 0:
                group = strata_codes[first]
                group_labels = strata_labels
            else:
                group = unit_codes[k - 1][first]
                group_labels = np.arange(int(group.max()) + 1)
            n_groups = int(group.max()) + 1
            n_in_group = np.bincount(group, minlength=n_groups)
            pop = self._population_sizes(k, codes, group, n_in_group, group_labels)
            frac = np.zeros(n_groups) if pop is None else n_in_group / pop
            certainty = frac > 1 - 1e-7
            if k == 0 and n_units == 1 and not certainty[0]:
                where = (f"{ids[0]!r} = {_scalar(frame[ids[0]].iloc[0])!r} in every row" if ids
                         else "a single row")
                raise DesignError(f"The design has only one primary sampling unit ({where}), "
                                  "so no variance can be estimated. Check ids= (a typo?) or "
                                  "give the element-level id.")
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (1 - frac) * np.where(n_in_group > 1, n_in_group / (n_in_group - 1), 1.0)
            s = np.where(certainty, 0.0, s)
            lonely = (n_in_group == 1) & ~certainty
            if lonely.any() and self.lonely_psu == "fail":
                raise DesignError(self._lonely_message(k, np.flatnonzero(lonely), group, codes,
                                                       unit_codes, group_labels))
            unit_scale = s[group] * ancestor[first]
            stages.append(Stage(unit=codes, n_units=n_units, group=group, n_groups=n_groups,
                                n_in_group=n_in_group, scale=unit_scale, lonely=lonely,
                                group_labels=np.asarray(group_labels), certainty=certainty,
                                fraction=frac))
            if pop is None:
                break  # a stage sampled with replacement carries the later stages
            ancestor = ancestor * (n_in_group / pop)[group][codes]
            w0 = (1 if w0 is None else w0) * (pop / n_in_group)[group][codes]
        return tuple(stages), (w0 if len(stages) == len(self.fpc) else None)

    def _lonely_message(self, k: int, bad: np.ndarray, group: np.ndarray, codes: np.ndarray,
                        unit_codes: list[np.ndarray], group_labels: Any) -> str:
        """Name the groups (strata, or parent units) with one sampled unit, and that unit."""
        ids = list(self.ids)
        row_group = group[codes]
        parts = []
        for g in bad[:5]:
            row = int(np.flatnonzero(row_group == g)[0])
            unit = (f"{ids[k]!r} = {_scalar(self.frame[ids[k]].iloc[row])!r}" if ids
                    else f"row {row}")
            if k == 0:
                parts.append(f"{_scalar(group_labels[g])!r} (its PSU: {unit})")
            else:
                parent = _scalar(self.frame[ids[k - 1]].iloc[row])
                parts.append(f"{ids[k - 1]!r} = {parent!r} (its unit: {unit})")
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        what = (f"Strata column {self.strata!r}: stratum {', '.join(parts)}{more} has"
                if k == 0 else f"Stage-{k} unit {', '.join(parts)}{more} has")
        return (f"{what} only one sampled unit at stage {k + 1}, so its variance cannot be "
                "estimated. Collapse it with a neighbouring stratum (or unit), or choose "
                "lonely_psu='adjust' (centre at zero, as R), 'average', 'remove' or "
                "'certainty'.")

    def _strata_codes(self) -> tuple[np.ndarray, np.ndarray]:
        if self.strata is None:
            return np.zeros(len(self.frame), dtype=np.int64), np.array(["(all)"], dtype=object)
        values = self.frame[self.strata]
        if values.isna().any():
            rows = np.flatnonzero(values.isna().to_numpy())[:10]
            raise DesignError(f"Strata column {self.strata!r} is empty in "
                              f"{int(values.isna().sum())} row(s) (rows {rows.tolist()}). "
                              "Every row needs a stratum.")
        codes, labels = sorted_codes(values)
        return codes, np.asarray(labels, dtype=object)

    def _check_nesting(self, psu: np.ndarray, strata: np.ndarray, labels: np.ndarray,
                       col: str) -> None:
        # a PSU is nested when every row has the stratum of the PSU's first row
        first = _first_index(psu, int(psu.max()) + 1)
        mismatch = strata != strata[first][psu]
        if mismatch.any():
            bad = np.unique(psu[mismatch])[:5]
            ids = sorted_codes(self.frame[col])[1][bad].tolist()
            raise DesignError(
                f"PSU id(s) {list(ids)} of column {col!r} appear in more than one stratum of "
                f"{self.strata!r}. If PSU ids are only unique within strata, pass nest=True; "
                "otherwise fix the ids.")

    def _population_sizes(self, k: int, codes: np.ndarray, group: np.ndarray,
                          n_in_group: np.ndarray, labels: Any) -> np.ndarray | None:
        if k >= len(self.fpc):
            return None
        col = self.fpc[k]
        values = self.frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            raise DesignError(f"fpc column {col!r} must be numeric; got dtype {values.dtype}.")
        v = values.to_numpy(dtype="float64")
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            rows = np.flatnonzero(bad)[:10]
            shown = {int(r): float(v[r]) for r in rows}
            raise DesignError(f"fpc column {col!r} must be positive and finite; it has "
                              f"{int(bad.sum())} empty, zero, negative or infinite value(s) "
                              f"in rows {rows.tolist()} (row: value) {shown}.")
        row_group = group[codes]
        lo = np.full(len(n_in_group), np.inf)
        hi = np.full(len(n_in_group), -np.inf)
        np.minimum.at(lo, row_group, v)
        np.maximum.at(hi, row_group, v)
        varies = np.flatnonzero(hi - lo > 1e-9 * np.maximum(1, np.abs(hi)))
        where = "stratum" if k == 0 else "parent unit"
        if len(varies):
            g = varies[0]
            raise DesignError(f"fpc column {col!r} varies within {where} {labels[g]!r} "
                              f"(stage {k + 1}): values from {lo[g]:g} to {hi[g]:g}. The fpc "
                              "must be constant within each stratum.")
        if np.all(v <= 1):
            pop = n_in_group / lo
        elif np.any(v < 1):
            frac, size = float(v[v < 1][0]), float(v[v > 1][0])
            raise DesignError(f"fpc column {col!r} mixes sampling fractions (<= 1, e.g. "
                              f"{frac:g}) and population sizes (> 1, e.g. {size:g}): use one "
                              "or the other.")
        else:
            pop = lo
        short = np.flatnonzero(pop < n_in_group - 1e-9)
        if len(short):
            g = short[0]
            raise DesignError(
                f"fpc column {col!r}: {where} {labels[g]!r} (stage {k + 1}) has population size "
                f"{pop[g]:g} but {int(n_in_group[g])} sampled units. The fpc must be at least "
                "the number of sampled units (did you give a sampling fraction > 1?).")
        return pop



def base_weights(frame: pd.DataFrame, weights: str | None, probs: str | None,
                 fpc_weights: np.ndarray | None, stacklevel: int = 2) -> np.ndarray:
    """The design weights: the weight column, ``1 / probs``, the fpc's weights, or 1.

    Raises
    ------
    DesignError
        Weights or probs that are not positive and finite (probs above 1).

    Warns
    -----
    UserWarning
        No weights, probs or fpc: every respondent gets weight 1.

    Examples
    --------
    >>> import pandas as pd
    >>> base_weights(pd.DataFrame({"p": [0.5, 0.25]}), None, "p", None).tolist()
    [2.0, 4.0]
    """
    if weights is not None:
        return positive_column(frame, weights, "weights")
    if probs is not None:
        p = positive_column(frame, probs, "probs")
        if np.any(p > 1):
            raise DesignError(f"probs column {probs!r} has values above 1; selection "
                              "probabilities are in (0, 1].")
        return 1.0 / p
    if fpc_weights is not None:
        return np.asarray(fpc_weights, dtype="float64")
    warnings.warn("No weights, probs or fpc given: every respondent gets weight 1.",
                  stacklevel=stacklevel + 1)
    return np.ones(len(frame))


def check_census(stages: tuple[Stage, ...], columns: DesignColumns, w: np.ndarray,
                 stacklevel: int = 2) -> None:
    """Warn when the fpc makes a stratum a census but its weights say it was sampled.

    A census stratum has no variance, so a mistaken fpc (1 everywhere read as a sampling
    fraction of 1, or the sample size given as the population size) silently gives SE 0.
    When every stage has an fpc, the fpc implies each row's weight (the product of N/n over
    the stages); weights more than twice that in a census stratum contradict it.

    Warns
    -----
    DesignWarning
        Names the strata, the fpc column, their weights and what the fpc implies.

    Examples
    --------
    >>> import warnings, pandas as pd
    >>> frame = pd.DataFrame({"h": [1, 1, 2, 2], "N": [2, 2, 50, 50], "w": [60.0] * 4})
    >>> cols = DesignColumns((), "h", ("N",), False, "fail")
    >>> stages, _ = lay_out(frame, cols)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_census(stages, cols, frame["w"].to_numpy())
    >>> caught[0].category.__name__
    'DesignWarning'
    """
    implied = np.ones(len(w))
    for stage in stages:
        implied = implied / stage.fraction[stage.group][stage.unit]
    s1 = stages[0]
    row_group = s1.group[s1.unit]
    shown = []
    for g in np.flatnonzero(s1.certainty):
        rows = row_group == g
        ratio = float(np.median(w[rows] / implied[rows]))
        if ratio > 2:
            shown.append(f"{_scalar(s1.group_labels[g])!r} (median weight "
                         f"{float(np.median(w[rows])):.4g}, the fpc implies "
                         f"{float(np.median(implied[rows])):.4g})")
    if not shown:
        return
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    where = f"these strata of {columns.strata!r}" if columns.strata else "the sample"
    warnings.warn(
        f"fpc column {columns.fpc[0]!r} makes {where} a census (every unit sampled): "
        f"{', '.join(shown[:5])}{more}. They get no variance (SE 0), but their weights say "
        "only a fraction was sampled. If the fpc holds sampling fractions, give n/N (e.g. "
        "1/60), not 1; if it holds population sizes, give N, not the sample size; if these "
        "strata really are censuses, check the weights.", DesignWarning, stacklevel=stacklevel + 1)


def as_mask(mask: Any, n: int, index: pd.Index | None = None) -> np.ndarray:
    if isinstance(mask, pd.Series) and index is not None and not mask.index.equals(index):
        raise DesignError("mask is a pandas Series whose index differs from the index of the "
                          "design's data, so its rows would be matched by position, not by "
                          "label. Build it from design.frame (e.g. design.frame['x'] == 1), "
                          "or pass mask.to_numpy() if the order is right.")
    arr = np.asarray(mask)
    if arr.shape != (n,):
        raise DesignError(message("mask", f"a boolean array with one value per row ({n})",
                                  f"shape {arr.shape}"))
    if arr.dtype != bool:
        if pd.isna(arr).any():
            raise DesignError("mask has missing values; decide whether those rows are in "
                              "the domain (fillna(False)).")
        arr = arr.astype(bool)
    return arr


def positive_column(frame: pd.DataFrame, col: str, role: str) -> np.ndarray:
    values = frame[col]
    if not pd.api.types.is_numeric_dtype(values):
        raise DesignError(f"{role} column {col!r} must be numeric; got dtype {values.dtype}. "
                          "Convert it (e.g. pd.to_numeric) before building the design.")
    v = values.to_numpy(dtype="float64")
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:10]
        shown = {int(r): float(v[r]) for r in rows}
        raise DesignError(
            f"{role} column {col!r} has {int(bad.sum())} value(s) that are zero, negative, "
            f"NaN or infinite (row: value) {shown}. Weights must be positive and finite: drop "
            "out-of-scope rows before building the design (or use design.subset), and fix "
            "missing weights.")
    return v


def open_memory(frame: Any, columns: DesignColumns, weights: str | None,
                probs: str | None) -> tuple[MemoryBackend, tuple[Stage, ...]]:
    """Validate a pandas frame's design columns and hold its rows in memory."""
    if not isinstance(frame, pd.DataFrame):
        raise DesignError(message("frame", "a pandas DataFrame", type(frame).__name__))
    if len(frame) == 0:
        raise DesignError("The data frame has no rows: a design needs respondents.")
    dup = frame.columns[frame.columns.duplicated()].unique().tolist()
    if dup:
        raise DesignError(f"column name(s) {dup} appear more than once in the data frame. "
                          "Rename or drop the duplicates so every column is unique.")
    used = [*columns.ids, *(c for c in (columns.strata, weights, probs) if c), *columns.fpc]
    require_columns(frame.columns, used, "Design")
    # copy-on-write (pandas >= 3): a shallow copy shares nothing a write could reach
    own = frame.copy(deep=False)
    stages, fpc_weights = lay_out(own, columns)
    w = base_weights(own, weights, probs, fpc_weights, stacklevel=4)
    if fpc_weights is not None and (weights or probs):
        check_census(stages, columns, w, stacklevel=4)
    return MemoryBackend(own, tuple(s.unit for s in stages), w), stages


def open_dask(frame: Any, columns: DesignColumns, weights: str | None,
              probs: str | None) -> tuple[DaskBackend, tuple[Stage, ...]]:
    """Lay out a Dask frame's sampling units (one pass) and keep its rows on the workers."""
    ids = list(columns.ids)
    if not ids:
        raise DesignError("a Dask design needs cluster ids (ids=...): an element sample has "
                          "one unit per row, so lay it out in memory with a pandas frame.")
    keys = ([columns.strata] if columns.strata else []) + ids
    table = DaskBackend.unit_table(frame, keys, columns.fpc, weights or probs)
    stages, fpc_weights = lay_out(table, columns)
    if table[keys].duplicated().any():
        raise DesignError("the fpc of a unit varies between its rows; it must be constant "
                          "within each stratum.")
    if columns.strata and not table[ids].duplicated().any():
        # cluster ids unique across strata: they alone find a row's unit, so partitions
        # neither read nor look up the strata column
        keys = ids
    backend = DaskBackend.open(frame, table, keys, stages[-1].unit, stages[0].unit, weights,
                               probs, fpc_weights if weights is None and probs is None else None)
    return backend, stages


def _scalar(value: Any) -> Any:
    """A numpy scalar as the plain Python value (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _factorize_pairs(a: np.ndarray, b: pd.Series) -> np.ndarray:
    bcodes = sorted_codes(b)[0]
    key = a.astype(np.int64) * (int(bcodes.max()) + 1) + bcodes
    return sorted_codes(key)[0]


def _first_index(codes: np.ndarray, n_units: int) -> np.ndarray:
    first = np.full(n_units, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first
