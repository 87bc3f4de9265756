"""Dask back end: the same sufficient statistics, computed partition by partition.

A :class:`sipas.Design` built on a ``dask.dataframe.DataFrame`` keeps the data on the
workers. Building it reads only the design columns' distinct values (one row per sampling
unit) to lay out strata, clusters and fpc in memory; every estimate then reduces each
partition to sums per (sampling unit, domain) with the in-memory code
(:func:`sipas.reduction.unit_sums`) and adds the partitions' sums up. Weighting steps
(post-stratification, raking) become per-cell factors applied on the workers, and the
calibration-aware variance needs only further per-(cell, unit, domain) sums.

Limits: the design needs cluster ids (an element sample has as many units as rows: use
pandas); quantiles, the likelihood interval and ``calibrate``/``trim``/``nonresponse``
need the rows in memory and say so. Install with ``pip install 'sipas[dask]'``.

Examples
--------
>>> import pandas as pd, dask.dataframe as dd, sipas
>>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "w": 2.0, "y": [1.0, 2, 3, 4, 5, 6]})
>>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
>>> float(sipas.mean(d, "y").to_frame()["estimate"][0])
3.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from sipas._validate import as_name_list
from sipas.errors import DesignError
from sipas.reduction import DENSE_KEYS, UnitSums, unit_sums

__all__ = ["DaskLayout", "WeightFactor", "domain_table", "fit_recipe", "init_layout"]

_W = "__sipas_weight__"


@dataclass(frozen=True, eq=False)
class KeyIndex:
    """Positions of combinations of key values (units, cells, domains), looked up per
    partition with integer arithmetic: each column is coded against its distinct values,
    the codes are combined in mixed radix, and a dense table (or a hash index when the key
    space is large) gives the row of the combination; -1 for a combination not listed.

    Examples
    --------
    >>> keys = KeyIndex.build(pd.DataFrame({"a": [1, 1, 2], "b": ["x", "y", "x"]}))
    >>> keys.get(pd.DataFrame({"a": [2, 1, 3], "b": ["x", "y", "x"]})).tolist()
    [2, 1, -1]
    >>> len(keys)
    3
    """

    columns: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    table: np.ndarray | None
    mixed: pd.Index | None
    lookups: tuple[tuple[int, np.ndarray] | None, ...] = ()
    #: one integer column: ``(lowest, table)`` giving the row of an id directly
    direct: tuple[int, np.ndarray] | None = None
    #: the label of each combination, for the hashed layout (the tables hold labels)
    labels: np.ndarray | None = None
    #: per column, its level code times the column's place value in the mixed-radix code
    #: (a table over the ids' range for integer columns, else None), and the place values
    steps: tuple[tuple[int, np.ndarray] | None, ...] = ()
    places: tuple[int, ...] = ()

    @classmethod
    def build(cls, combos: pd.DataFrame) -> KeyIndex:
        cols = tuple(combos.columns)
        levels = tuple(pd.Index(pd.unique(combos[c])) for c in cols)
        codes = cls._mix(levels, [lv.get_indexer(combos[c]) for lv, c in zip(levels, cols)])
        lookups = tuple(_integer_lookup(lv) for lv in levels)
        sizes = [len(lv) for lv in levels]
        space = int(np.prod(sizes, dtype=np.float64))
        places = tuple(int(np.prod(sizes[i + 1:], dtype=np.int64)) for i in range(len(cols)))
        dtype, unknown = _mix_dtype(space, len(cols))
        steps = tuple(None if lk is None else
                      (lk[0], np.where(lk[1] >= 0, lk[1] * place, unknown).astype(dtype))
                      for lk, place in zip(lookups, places))
        if space <= 20_000_000:
            table = np.full(space, -1, dtype=_index_dtype(len(combos)))
            table[codes] = np.arange(len(combos))
            keys = cls(cols, levels, table, None, lookups, steps=steps, places=places)
            return keys.relabel(np.arange(len(combos))) if len(cols) == 1 else keys
        return cls(cols, levels, None, pd.Index(codes), lookups, steps=steps, places=places)

    def relabel(self, labels: np.ndarray) -> KeyIndex:
        """The same index giving ``labels[row]`` instead of the row of a combination (one
        look-up per partition row instead of two).

        Examples
        --------
        >>> keys = KeyIndex.build(pd.DataFrame({"a": [5, 7]})).relabel(np.array([10, 20]))
        >>> keys.get(pd.DataFrame({"a": [7, 5, 6]})).tolist()
        [20, 10, -1]
        """
        labels = np.asarray(labels)
        if self.table is None:
            return replace(self, labels=labels)
        dtype = _index_dtype(int(labels.max(initial=0)) + 1)
        table = np.where(self.table >= 0, labels[np.maximum(self.table, 0)], -1).astype(dtype)
        direct = None
        if len(self.columns) == 1 and self.lookups[0] is not None:
            lo, level_of = self.lookups[0]
            direct = lo, np.where(level_of >= 0, table[np.maximum(level_of, 0)], -1).astype(dtype)
        return replace(self, table=table, direct=direct)

    @staticmethod
    def _mix(levels: Sequence[pd.Index], codes: Sequence[np.ndarray]) -> np.ndarray:
        mixed = np.zeros(len(codes[0]), dtype=np.int64)
        for lv, c in zip(levels, codes):
            mixed = mixed * len(lv) + c
        return mixed

    def __len__(self) -> int:
        return int((self.table >= 0).sum()) if self.table is not None else len(self.mixed)

    def _step(self, i: int, values: pd.Series) -> np.ndarray:
        """Column ``i``'s share of the mixed-radix code of every row: its level code times
        its place value, or a negative number so large that the sum stays negative when the
        value is not a level (a new array: the caller adds to it in place)."""
        arr = values.to_numpy()
        step = self.steps[i]
        if step is not None and arr.dtype.kind in "iu":
            return _take_ids(arr, *step)
        space = int(np.prod([len(lv) for lv in self.levels], dtype=np.float64))
        dtype, unknown = _mix_dtype(space, len(self.columns))
        codes = self.levels[i].get_indexer(values)
        return np.where(codes >= 0, codes * self.places[i], unknown).astype(dtype)

    def get(self, part: pd.DataFrame) -> np.ndarray:
        if self.direct is not None:
            arr = part[self.columns[0]].to_numpy()
            if arr.dtype.kind in "iu":
                return _take_ids(arr, *self.direct)
        # one table look-up and one addition per column, in 32-bit integers when they fit
        mixed = self._step(0, part[self.columns[0]])
        for i in range(1, len(self.columns)):
            mixed += self._step(i, part[self.columns[i]])
        known = not len(mixed) or mixed.min() >= 0
        if not known:
            missing = mixed < 0
            mixed[missing] = 0
        if self.table is not None:
            rows = self.table.take(mixed)
        else:
            rows = self.mixed.get_indexer(mixed)
            if self.labels is not None:
                rows = np.where(rows >= 0, self.labels[rows], -1)
        return rows if known else np.where(missing, -1, rows)


def _take_ids(ids: np.ndarray, lo: int, table: np.ndarray) -> np.ndarray:
    """``table[v - lo + 1]`` for every integer id ``v`` (-1 for ids outside the table).

    Examples
    --------
    >>> table = np.array([-1, 0, -1, 1, -1])  # ids 10 and 12 at positions 0 and 1
    >>> _take_ids(np.array([12, 10, 99, 11], dtype=np.int16), 10, table).tolist()
    [1, 0, -1, -1]
    """
    if not len(ids):
        return table[:0]
    low, high = ids.min(), ids.max()
    start, stop = int(low) - lo + 1, int(high) - lo + 1
    # Offsets from the smallest id present, subtracted in the column's own dtype when they
    # fit: numpy's widening subtraction (int16 ids into int64) goes through a buffered cast,
    # ten times slower than the look-up itself (on an int32 table, as these are).
    if start >= 0 and stop < len(table) and stop - start <= np.iinfo(ids.dtype).max:
        return table[start:stop + 1].take(ids - low)
    index = ids.astype(np.intp) - (lo - 1)
    np.clip(index, 0, len(table) - 1, out=index)
    return table.take(index)


def _mix_dtype(space: int, n_columns: int) -> tuple[type, int]:
    """Integer type of mixed-radix codes and the per-column value of an unknown id: any
    sum with one unknown term is negative, and ``n_columns`` unknown terms do not wrap."""
    if space * (n_columns + 1) < 2**31:
        return np.int32, -(2**31 // (n_columns + 1))
    return np.int64, -(2**63 // (n_columns + 1))


def _index_dtype(size: int) -> type:
    # int32 positions halve the bytes a partition's look-ups write (fresh memory is costly
    # on workers whose allocator returns freed pages to the system)
    return np.int32 if size < 2**31 - 1 else np.int64


def _integer_lookup(levels: pd.Index) -> tuple[int, np.ndarray] | None:
    """``(lowest, table)`` with ``table[v - lowest + 1]`` the position of integer id ``v``
    (-1 for ids not listed, including the padding below and above), or ``None``."""
    values = levels.to_numpy()
    if values.dtype.kind not in "iu" or not len(values):
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 1 << 22:
        return None
    table = np.full(hi - lo + 3, -1, dtype=_index_dtype(len(values)))
    table[values.astype(np.int64) - lo + 1] = np.arange(len(values))
    return lo, table


@dataclass(frozen=True, eq=False)
class WeightFactor:
    """A weighting step on the workers: weights times ``factor[cell]``, the cell found from
    the values of ``columns`` (rows whose cell is unknown keep weight 0).

    Attributes
    ----------
    columns : tuple of str
        The cell columns (post-strata, or the variables of the raked margins).
    keys : KeyIndex
        The cells, one per factor.
    factor : numpy.ndarray
        The weight factor of each cell.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> wf = WeightFactor(("g",), KeyIndex.build(pd.DataFrame({"g": [1, 2]})),
    ...                   np.array([1.5, 0.5]))
    >>> part = pd.DataFrame({"g": [1, 2, 3]})
    >>> wf.apply(part, np.ones(3)).tolist()
    [1.5, 0.5, 0.0]
    """

    columns: tuple[str, ...]
    keys: KeyIndex
    factor: np.ndarray

    def cells(self, part: pd.DataFrame) -> np.ndarray:
        """Cell of every row of a partition (-1 when its values are not a known cell).

        Parameters
        ----------
        part : pandas.DataFrame
            One partition (it must have :attr:`columns`).

        Returns
        -------
        numpy.ndarray of int

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> wf = WeightFactor(("g",), KeyIndex.build(pd.DataFrame({"g": [1, 2]})),
        ...                   np.array([1.5, 0.5]))
        >>> part = pd.DataFrame({"g": [1, 2, 3]})
        >>> wf.cells(part).tolist()
        [0, 1, -1]
        """
        return self.keys.get(part)

    def apply(self, part: pd.DataFrame, w: np.ndarray) -> np.ndarray:
        """Weights of a partition after this step.

        Parameters
        ----------
        part : pandas.DataFrame
            One partition.
        w : numpy.ndarray
            Its weights before the step.

        Returns
        -------
        numpy.ndarray
            ``w * factor[cell]``; 0 for rows in no known cell.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> wf = WeightFactor(("g",), KeyIndex.build(pd.DataFrame({"g": [1, 2]})),
        ...                   np.array([1.5, 0.5]))
        >>> part = pd.DataFrame({"g": [1, 2, 3]})
        >>> wf.apply(part, np.array([2.0, 2.0, 2.0])).tolist()
        [3.0, 1.0, 0.0]
        """
        return self.apply_cells(self.cells(part), w)

    def apply_cells(self, cells: np.ndarray, w: np.ndarray) -> np.ndarray:
        """:meth:`apply` with the rows' cells already found."""
        # cell -1 (unknown) takes the appended 0: one gather and one product, no masks
        out = np.append(self.factor, 0.0).take(cells)
        out *= w
        return out


@dataclass(frozen=True, eq=False)
class DaskLayout:
    """What a Dask design keeps in memory: the unit table and how rows map onto it.

    Attributes
    ----------
    key_columns : tuple of str
        Strata and cluster columns that identify a final unit.
    lookup : KeyIndex
        The distinct units (one row of the unit table each).
    final_unit, first_unit : numpy.ndarray
        Final-stage and first-stage unit code of each row of the unit table.
    shadow : Design
        An in-memory design of the unit table (stages, df, fpc weights).
    weights, probs : str or None
        Weight or probability column.
    unit_weight : numpy.ndarray or None
        Weights derived from the fpc, per unit (without weights or probs).
    factors : tuple of WeightFactor
        Weighting steps applied so far.
    mask : str or None
        A boolean column limiting the rows (subset).
    extra : dict
        Cached helpers.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
    ...                    "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> layout = init_layout(d)
    >>> layout.key_columns, layout.shadow.df
    (('psu',), 2)
    """

    key_columns: tuple[str, ...]
    lookup: KeyIndex
    final_unit: np.ndarray
    first_unit: np.ndarray
    shadow: Any
    weights: str | None
    probs: str | None
    unit_weight: np.ndarray | None
    factors: tuple[WeightFactor, ...] = ()
    mask: str | None = None
    extra: dict = field(default_factory=dict)
    #: ``lookup`` relabelled to the final-stage and first-stage unit codes
    unit_keys: tuple[KeyIndex, KeyIndex] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_keys", (self.lookup.relabel(self.final_unit),
                                               self.lookup.relabel(self.first_unit)))

    def unit_rows(self, part: pd.DataFrame) -> np.ndarray:
        """Row of the unit table of every row of ``part``.

        Parameters
        ----------
        part : pandas.DataFrame
            One partition.

        Returns
        -------
        numpy.ndarray of int

        Raises
        ------
        DesignError
            A row's design ids are not in the unit table (the data changed).

        Examples
        --------
        >>> import pandas as pd, dask.dataframe as dd, sipas
        >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
        ...                    "y": [1.0, 2, 3, 4, 5, 6]})
        >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
        >>> init_layout(d).unit_rows(df).tolist()
        [0, 0, 1, 1, 2, 2]
        """
        return _known(self.lookup.get(part))

    def units(self, part: pd.DataFrame, stage: int = -1) -> np.ndarray:
        """Sampling unit of every row of ``part``.

        Parameters
        ----------
        part : pandas.DataFrame
            One partition.
        stage : int
            ``-1`` for the final stage, anything else for the first stage (PSU).

        Returns
        -------
        numpy.ndarray of int

        Raises
        ------
        DesignError
            A row's design ids are not in the unit table.

        Examples
        --------
        >>> import pandas as pd, dask.dataframe as dd, sipas
        >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
        ...                    "y": [1.0, 2, 3, 4, 5, 6]})
        >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
        >>> init_layout(d).units(df).tolist()
        [0, 0, 1, 1, 2, 2]
        """
        return _known(self.unit_keys[0 if stage == -1 else 1].get(part))

    def row_weights(self, part: pd.DataFrame, cells: dict | None = None) -> np.ndarray:
        """Final weights of the rows of ``part``: base weights, then every weighting
        factor, then the subset mask.

        Parameters
        ----------
        part : pandas.DataFrame
            One partition.
        cells : dict, optional
            The rows' cells of each weighting step, by ``id`` of the step: used when
            present, filled in when missing (so that one pass over a partition finds them
            once).

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> import pandas as pd, dask.dataframe as dd, sipas
        >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
        ...                    "y": [1.0, 2, 3, 4, 5, 6]})
        >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
        >>> init_layout(d).row_weights(df).tolist()
        [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
        """
        if self.weights is not None:
            w = part[self.weights].to_numpy(dtype="float64")
        elif self.probs is not None:
            w = 1.0 / part[self.probs].to_numpy(dtype="float64")
        elif self.unit_weight is not None:
            w = self.unit_weight[self.unit_rows(part)]
        else:
            w = np.ones(len(part))
        for f in self.factors:
            if cells is None:
                w = f.apply(part, w)
                continue
            if id(f) not in cells:
                cells[id(f)] = f.cells(part)
            w = f.apply_cells(cells[id(f)], w)
        if self.mask is not None:
            w = np.where(part[self.mask].to_numpy(dtype=bool), w, 0.0)
        return w


def _known(rows: np.ndarray) -> np.ndarray:
    if len(rows) and rows.min() < 0:
        raise DesignError("a row's design ids are not in the design's unit table "
                          "(the data changed after the design was built?)")
    return rows


def init_layout(design: Any) -> DaskLayout:
    """Validate a Dask design and lay out its units (one pass over the design columns).

    Parameters
    ----------
    design : Design
        A design whose frame is a ``dask.dataframe.DataFrame``.

    Returns
    -------
    DaskLayout

    Raises
    ------
    DesignError
        No cluster ids; design columns not in the frame; an fpc that varies within a unit;
        weights that are not positive and finite; any error of the in-memory design of the
        unit table (lonely PSUs, nesting, fpc).

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
    ...                    "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> len(init_layout(d).lookup)  # three PSUs
    3
    """
    from sipas.design import Design

    frame = design.frame
    ids = list(design.ids)
    if not ids:
        raise DesignError("a Dask design needs cluster ids (ids=...): an element sample has "
                          "one unit per row, so lay it out in memory with a pandas frame.")
    missing = [c for c in [*ids, *(c for c in (design.strata, design.weights, design.probs)
                                   if c), *design.fpc] if c not in frame.columns]
    if missing:
        raise DesignError(f"Design column(s) {missing} not found in the Dask DataFrame.")
    keys = ([design.strata] if design.strata else []) + ids
    table = _distinct_rows(frame[list(dict.fromkeys([*keys, *design.fpc]))])
    table = table.sort_values(keys, kind="stable").reset_index(drop=True)
    shadow = Design(table.assign(**{_W: 1.0}), ids=ids, strata=design.strata, weights=_W,
                    fpc=list(design.fpc) or None, nest=design.nest,
                    lonely_psu=design.lonely_psu)
    stages = shadow.stages
    if table[keys].duplicated().any():
        raise DesignError("the fpc of a unit varies between its rows; it must be constant "
                          "within each stratum.")
    _check_weights(frame, design.weights or design.probs)
    if design.strata and not table[ids].duplicated().any():
        # cluster ids unique across strata (checked by the unit table's design): they alone
        # find a row's unit, so partitions neither read nor look up the strata column
        keys = ids
    return DaskLayout(tuple(keys), KeyIndex.build(table[keys]), stages[-1].unit,
                      stages[0].unit, shadow, design.weights, design.probs,
                      getattr(shadow, "_fpc_weights", None))


def _distinct_rows(frame: Any) -> pd.DataFrame:
    """The distinct rows of a Dask frame (design ids, domain labels: small), by a tree of
    per-partition ``drop_duplicates``. Dask's default splits the output and so shuffles
    every row between workers (and logs a warning per shuffle); a few thousand distinct
    rows fit one partition."""
    return frame.drop_duplicates(split_out=1).compute()


def _check_weights(frame: Any, col: str | None) -> None:
    if col is None:
        return
    v = frame[col]
    bad = (~(v > 0) | v.isna() | (v == np.inf)).sum().compute()
    if bad:
        raise DesignError(f"weights column {col!r} has {int(bad)} value(s) that are zero, "
                          "negative, NaN or infinite. Weights must be positive and finite.")


@dataclass(frozen=True)
class _Cols:
    columns: tuple[str, ...]


def domain_table(design: Any, by: str | Sequence[str] | None) -> tuple[pd.DataFrame, Any]:
    """Domain labels (sorted observed combinations) and a function part -> domain codes.

    Parameters
    ----------
    design : Design or ReplicateDesign
        A design on a Dask frame (the table is computed once per ``by`` and kept).
    by : str or list of str or None
        Domain columns.

    Returns
    -------
    (pandas.DataFrame, callable)
        The domain table (one row, no columns, without ``by``) and a picklable function
        that maps a partition to domain codes.

    Raises
    ------
    DesignError
        A ``by`` column is not in the frame or has missing values.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
    ...                    "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> labels, codes = domain_table(d, "g")
    >>> labels["g"].tolist(), codes(df).tolist()
    ([1, 2], [0, 1, 0, 1, 0, 1])
    """
    cols = as_name_list("by", by)
    if not cols:
        return pd.DataFrame(index=range(1)), _NoDomains()
    frame = design.frame
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DesignError(f"column(s) {missing} not found in the design's data.")
    cache = design._dask.extra.setdefault("domains", {})
    if tuple(cols) not in cache:
        cache[tuple(cols)] = _distinct_rows(frame[cols])
    combos = cache[tuple(cols)].copy()
    if combos.isna().any().any():
        raise DesignError(f"by column(s) {cols} have missing values. Give them a level of their "
                          "own (e.g. fillna('unknown')) so no respondent is dropped silently.")
    combos = combos.sort_values(cols, kind="stable").reset_index(drop=True)
    return combos, _Domains(KeyIndex.build(combos))


@dataclass(frozen=True)
class _NoDomains:
    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(part), dtype=np.int64)

    def codes(self, part: pd.DataFrame) -> None:
        """For :func:`sipas.reduction.unit_sums`: every row in the one domain."""
        return None


@dataclass(frozen=True)
class _Domains:
    index: KeyIndex

    @property
    def columns(self) -> tuple[str, ...]:
        return self.index.columns

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        return self.index.get(part)

    codes = __call__


def _columns(design: Any, *users: Any) -> list[str]:
    """The columns the partitions need: the design's and those of the recipes, domains and
    projection terms given (so Parquet reads only them)."""
    layout = design._dask
    cols = [*layout.key_columns, *(c for c in (layout.weights, layout.probs, layout.mask) if c)]
    for f in layout.factors:
        cols += list(f.columns)
    for user in users:
        cols += list(getattr(user, "columns", ()))
    present = set(design.frame.columns)
    return [c for c in dict.fromkeys(cols) if c in present]


def partitions(design: Any, *users: Any) -> Any:
    """The design's frame with only the columns needed."""
    return design.frame[_columns(design, *users)]


def _boxed(part: pd.DataFrame, fn: Any, *args: Any) -> pd.Series:
    return pd.Series([fn(part, *args)], dtype=object)


def _per_partition(fn: Any, frame: Any, *args: Any) -> list[Any]:
    """``fn(part, *args)`` for every partition of ``frame``, as a list (computed).

    A ``map_partitions`` of the frame, so dask's optimiser reads only the columns used and
    may merge small Parquet files into fewer partitions; each shared argument (the layout,
    recipes, projections) is a single node of the graph: the scheduler ships it once per
    worker instead of once per task, and dask does not walk through its contents."""
    import dask

    shared = [a if a is None or isinstance(a, (bool, int, float, str)) else
              dask.delayed(a, traverse=False) for a in args]
    out = frame.map_partitions(_boxed, fn, *shared, meta=pd.Series(dtype=object),
                               enforce_metadata=False, align_dataframes=False)
    return out.compute().tolist()


def _partition(part: pd.DataFrame, layout: DaskLayout, recipe: Any, domains: Any,
               n_domains: int, stage: int, n_units: int, second_moment: bool,
               binary: bool) -> UnitSums:
    w = layout.row_weights(part)
    num, den, valid = recipe(part, w)
    return unit_sums(num, den, domains.codes(part), n_domains, w, layout.units(part, stage),
                     n_units, valid=valid, second_moment=second_moment, binary=binary,
                     compress=True)


def add_sums(parts: Sequence[UnitSums]) -> UnitSums:
    """Add up per-partition sums (same key layout, or compressed keys merged)."""
    first = parts[0]
    fields = ("wnum", "wden", "pden", "wval", "wnum2", "prow")
    if all(p.dense for p in parts):
        total = {f: None if getattr(first, f) is None else
                 np.sum([getattr(p, f) for p in parts], axis=0) for f in fields}
        return replace(first, **total)
    d = first.n_domains
    keys = np.concatenate([p.key_unit() * d + p.key_domain() for p in parts])
    code, uniq = pd.factorize(keys)
    merged = {}
    for f in fields:
        if getattr(first, f) is None:
            merged[f] = None
            continue
        stacked = np.concatenate([getattr(p, f) for p in parts])
        merged[f] = (np.bincount(code, weights=stacked, minlength=len(uniq)) if stacked.ndim == 1
                     else np.column_stack([np.bincount(code, weights=stacked[:, j],
                                                       minlength=len(uniq))
                                           for j in range(stacked.shape[1])]))
    uniq = np.asarray(uniq, dtype=np.int64)
    size = first.n_units * d
    if size <= DENSE_KEYS:  # back to the dense layout the in-memory engine uses
        dense = {}
        for f, arr in merged.items():
            if arr is None:
                dense[f] = None
                continue
            full = np.zeros((size, *arr.shape[1:]))
            full[uniq] = arr
            dense[f] = full
        return replace(first, unit=None, domain=None, **dense)
    return replace(first, unit=uniq // d, domain=uniq % d, **merged)


def reduce_partitions(design: Any, recipe: Any, domains: Any, n_domains: int, *,
                      stage: int = -1, second_moment: bool = False,
                      binary: bool = False) -> UnitSums:
    """Run :func:`sipas.reduction.unit_sums` on every partition and add the results."""

    layout = design._dask
    n_units = (layout.shadow.stages[-1] if stage == -1 else layout.shadow.stages[0]).n_units
    return add_sums(_per_partition(_partition, partitions(design, recipe, domains), layout,
                                   recipe, domains, n_domains, stage, n_units, second_moment,
                                   binary))


def _partition_apply(part: pd.DataFrame, layout: DaskLayout, recipe: Any, domains: Any,
                     fn: Any) -> Any:
    w = layout.row_weights(part)
    num, den, _valid = recipe(part, w)
    return fn(num, den, domains(part), w)


def _add(results: Sequence[Any]) -> Any:
    if isinstance(results[0], tuple):
        return tuple(np.sum([r[i] for r in results], axis=0) for i in range(len(results[0])))
    return np.sum(results, axis=0)


def sum_partitions(design: Any, recipe: Any, domains: Any, fn: Any) -> Any:
    """Sum over partitions of ``fn(num, den, domain, w)`` for the rows of ``recipe``."""

    layout = design._dask
    return _add(_per_partition(_partition_apply, partitions(design, recipe, domains), layout,
                               recipe, domains, fn))


def fit_recipe(design: Any, recipe: Any, by: Any, *, second_moment: bool = False,
               binary: bool = False) -> tuple[Any, pd.DataFrame]:
    """The Dask counterpart of :func:`sipas.fitting.fit_ratios`.

    Parameters
    ----------
    design : Design or ReplicateDesign
        A design on a Dask frame.
    recipe : callable
        ``recipe(part, w) -> (num, den, valid)`` for one partition (the estimation
        recipes, e.g. :class:`sipas.recipes.NumericRecipe`).
    by : str or list of str or None
        Domain columns.
    second_moment : bool
        Also reduce ``sum w num^2`` (design effects).
    binary : bool
        ``num`` holds only 0 and 1.

    Returns
    -------
    (RatioFit, pandas.DataFrame)
        Estimates, variance basis and counts, and the domain labels.

    Raises
    ------
    DesignError
        A ``by`` column is not in the frame or has missing values.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, sipas
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3], "g": [1, 2, 1, 2, 1, 2], "w": 2.0,
    ...                    "y": [1.0, 2, 3, 4, 5, 6]})
    >>> d = sipas.Design(dd.from_pandas(df, npartitions=2), ids="psu", weights="w")
    >>> from sipas.recipes import NumericRecipe
    >>> fit, labels = fit_recipe(d, NumericRecipe(("y",)), "g")
    >>> fit.basis.full.tolist(), labels["g"].tolist()
    ([3.0, 4.0], [1, 2])
    """
    labels, domains = domain_table(design, by)
    return fit_domains(design, recipe, domains, len(labels), second_moment=second_moment,
                       binary=binary), labels


def fit_domains(design: Any, recipe: Any, domains: Any, n_domains: int, *,
                second_moment: bool = False, binary: bool = False) -> Any:
    """Estimates, variance basis and counts of ``recipe`` by the given domains."""
    from sipas.fitting import finish_fit
    from sipas.replication import ReplicateDesign

    replicate = isinstance(design, ReplicateDesign)
    if replicate or not design.calibrated:
        sums = reduce_partitions(design, recipe, domains, n_domains,
                                 stage=0 if replicate else -1, second_moment=second_moment,
                                 binary=binary)
        return finish_fit(design, sums, None)
    return fit_calibrated(design, recipe, domains, n_domains, second_moment=second_moment,
                          binary=binary)


def _distinct(chain: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for p in chain:
        if all(p is not q for q in out):
            out.append(p)
    return out


def _partition_cal(part: pd.DataFrame,
                   steps: tuple[DaskLayout, Sequence[ProjectionTerms | tuple[ProjectionTerms]]],
                   recipe: Any, domains: Any, n_domains: int, n_units: int,
                   second_moment: bool, binary: bool) -> tuple[UnitSums, list]:
    """The partition's sums and, per projection, its (level, domain) influence sums; a
    1-tuple stands for all the margins of one raking step, whose sums are per (joint cell,
    domain) with the multiplier ``w / w_before`` (the client splits them into levels).
    ``steps`` is the design's layout and the projection terms in one argument, so that the
    weighting steps they share stay shared objects on the worker (cells found once)."""
    layout, terms = steps
    found: dict = {}  # each weighting step's cells, found once for the whole partition
    w = layout.row_weights(part, found)
    num, den, valid = recipe(part, w)
    dom = domains(part)
    sums = unit_sums(num, den, dom, n_domains, w, layout.units(part), n_units, compress=True,
                     valid=valid,
                     second_moment=second_moment, binary=binary)
    inside = dom >= 0
    everyone = bool(inside.all())
    dom = dom if everyone else np.where(inside, dom, 0)
    buf = np.empty(len(w))
    extra = []
    for t in terms:
        if isinstance(t, tuple):
            t = t[0]
            if id(t.factor) not in found:
                found[id(t.factor)] = t.factor.cells(part)
            cells = found[id(t.factor)]
            w_before = t.layout_before.row_weights(part, found)
            ok = (cells >= 0) & (w_before > 0)
            if not everyone:
                ok &= inside
            m = np.zeros(len(w))
            np.divide(w, w_before, out=m, where=ok)
            size = len(t.f) * n_domains
            key = _with_domain(np.maximum(cells, 0), dom, n_domains, size)
        else:
            codes, a, _b = t(part)
            m = a * w
            if not everyone:
                m[~inside] = 0.0
            size = t.p * n_domains
            key = _with_domain(codes, dom, n_domains, size)
        extra.append((_by_key(key, m, size, num, buf),
                      None if den is None else _by_key(key, m, size, den, buf)))
    return sums, extra


def _with_domain(codes: np.ndarray, dom: np.ndarray, n_domains: int, size: int) -> np.ndarray:
    """``codes * n_domains + dom`` in the narrowest integer type that holds ``size`` keys."""
    key = codes.astype(np.int32 if size < 2**31 else np.int64)
    key *= n_domains
    key += dom
    return key


def _by_key(key: np.ndarray, m: np.ndarray, size: int, values: np.ndarray,
            buf: np.ndarray) -> np.ndarray:
    out = np.empty((size, values.shape[1]))
    for j in range(values.shape[1]):
        np.multiply(m, values[:, j], out=buf)
        out[:, j] = np.bincount(key, weights=buf, minlength=size)
    return out


def _add_cal(results: Sequence[tuple[UnitSums, list]]) -> tuple[UnitSums, list]:
    sums = add_sums([r[0] for r in results])
    extra = []
    for i in range(len(results[0][1])):
        num = np.sum([r[1][i][0] for r in results], axis=0)
        den = None if results[0][1][i][1] is None else np.sum([r[1][i][1] for r in results],
                                                             axis=0)
        extra.append((num, den))
    return sums, extra


def fit_calibrated(design: Any, recipe: Any, domains: Any, n_domains: int, *,
                   second_moment: bool, binary: bool) -> Any:
    """Estimates of a weighted Dask design, with the per-(level, domain) sums that make its
    Taylor variance calibration-aware, all in the same pass."""

    from sipas.fitting import calibration_chain, finish_fit

    layout = design._dask
    distinct = _distinct(calibration_chain(design))
    n_units = layout.shadow.stages[-1].n_units
    # the margins of one raking step share their joint cells: one set of sums for all
    groups: dict[int, list] = {}
    for q in distinct:
        groups.setdefault(id(q.shared) if q.shared is not None else id(q), []).append(q)
    terms = [(g[0].terms,) if g[0].shared is not None else g[0].terms
             for g in groups.values()]
    parts = _per_partition(_partition_cal, partitions(design, recipe, domains,
                                                      *[q.terms for q in distinct]),
                           (layout, terms), recipe, domains, n_domains, n_units,
                           second_moment, binary)
    sums, extra = _add_cal(parts)
    j = sums.n_vars
    by_proj = {}
    for members, (snum, sden) in zip(groups.values(), extra):
        if members[0].shared is None:
            by_proj[id(members[0])] = (snum, sden)
            continue
        for q in members:  # joint cells -> this margin's levels, with the factor 1/f[cell]
            f = q.terms.f
            inv = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), 0.0)
            to_levels = sparse.csr_matrix((inv, (q.terms.level_of_cell, np.arange(len(f)))),
                                          shape=(q.p, len(f)))
            by_proj[id(q)] = tuple(
                None if x is None else np.asarray(
                    to_levels @ x.reshape(len(f), n_domains * j)).reshape(q.p * n_domains, j)
                for x in (snum, sden))

    def chain_reduce(p: Any, est: np.ndarray, denom: np.ndarray | None) -> np.ndarray:
        snum, sden = by_proj[id(p)]
        snum = snum.reshape(p.p, n_domains * j)
        if sden is None:
            return snum
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (snum - est * sden.reshape(p.p, n_domains * j)) / denom
        return np.where(denom > 0, out, 0.0)

    return finish_fit(design, sums, None, chain_reduce)


# ---------------------------------------------------------------------- weighting on workers

def _cell_partition(part: pd.DataFrame, layout: DaskLayout, cols: list[str]) -> pd.DataFrame:
    w = layout.row_weights(part)
    keep = w > 0
    frame = part.loc[keep, cols].assign(__w=w[keep], __n=1.0)
    return frame.groupby(cols, dropna=False, sort=False)[["__w", "__n"]].sum().reset_index()


def cell_totals(design: Any, cols: list[str]) -> pd.DataFrame:
    """Weighted and plain counts of positive-weight rows per combination of ``cols``."""

    layout = design._dask
    frames = _per_partition(_cell_partition, partitions(design, _Cols(tuple(cols))), layout,
                            cols)
    table = pd.concat(frames, ignore_index=True)
    if table[cols].isna().any().any():
        which = [c for c in cols if table[c].isna().any()]
        from sipas.errors import WeightingError

        raise WeightingError(f"margin column(s) {which} have missing values among weighted "
                             "rows. Recode them explicitly before weighting.")
    table = table.groupby(cols, sort=True)[["__w", "__n"]].sum().reset_index()
    return table


def _combo_levels(table: pd.DataFrame, margin: Any, partial: bool) -> tuple[np.ndarray, list]:
    """Level of ``margin`` of every combination (the pre-flight checks of cell_codes)."""
    from sipas.weighting._targets import cell_codes

    codes, levels = cell_codes(table, margin, np.ones(len(table)), partial=partial)
    return codes, levels


@dataclass(frozen=True, eq=False)
class ProjectionTerms:
    """Row terms of a cell projection, computed per partition (picklable: no data).

    codes = the margin level of the row's cell, ``b`` = the weights right after the step
    (``w_before x f[cell]``), ``a`` = ``1/f[cell]`` (post-stratification, R's weighted cell
    mean) or ``1/b`` (raking, R's unweighted average)."""

    layout_before: DaskLayout
    factor: WeightFactor
    level_of_cell: np.ndarray
    f: np.ndarray
    p: int
    raking: bool

    @property
    def columns(self) -> list[str]:
        """Columns the row terms read."""
        return _term_columns(self)

    def __call__(self, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cells = self.factor.cells(part)
        ok = cells >= 0
        c = np.maximum(cells, 0)
        w_before = self.layout_before.row_weights(part)
        b = np.where(ok, w_before * self.f[c], 0.0)
        if self.raking:
            a = np.where(b > 0, 1.0 / np.where(b > 0, b, 1.0), 0.0)
        else:
            a = np.where(ok & (w_before > 0), 1.0 / self.f[c], 0.0)
        return np.where(ok, self.level_of_cell[c], 0), a, b


@dataclass(frozen=True, eq=False)
class DaskProjection:
    """The :class:`sipas.variance.Projection` interface for a Dask design: its cross
    products and unit loadings are sums over the partitions (cached)."""

    terms: ProjectionTerms
    frame: Any
    p: int
    m_inv: np.ndarray
    #: raking: rows with positive weight per joint cell, and a cache shared by the margins
    cell_rows: np.ndarray | None = None
    shared: dict | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def _same_cells(self, other: DaskProjection) -> bool:
        return (self.cell_rows is not None and self.shared is not None
                and other.shared is self.shared)

    def cross(self, other: DaskProjection) -> np.ndarray:
        key = id(other)
        if key not in self._cache and self._same_cells(other):
            # margins of one raking step: a_i b_i = f_other[c] / f_self[c] on the rows with
            # positive weight, so the cross product is a sum over the joint cells, no pass
            fs, fo = self.terms.f, other.terms.f
            ratio = np.where(fs > 0, fo / np.where(fs > 0, fs, 1.0), 0.0)
            pairs = self.terms.level_of_cell * other.p + other.terms.level_of_cell
            self._cache[key] = np.bincount(pairs, weights=self.cell_rows * ratio,
                                           minlength=self.p * other.p).reshape(self.p, other.p)
        if key not in self._cache:
            self._cache[key] = _map_sum(self.frame[_term_columns(self.terms, other.terms)],
                                        self.terms.layout_before, _cross_part,
                                        self.terms, other.terms)
        return self._cache[key]

    def unit_loadings(self, _rows_to_units: Any = None) -> np.ndarray:
        n_units = self.terms.layout_before.shadow.stages[-1].n_units
        if ("units" not in self._cache and self.shared is not None
                and n_units * len(self.terms.f) <= DENSE_KEYS):
            # one pass for all the margins of the step: weights per (unit, joint cell)
            if "unit_cells" not in self.shared:
                self.shared["unit_cells"] = _map_sum(
                    self.frame[_term_columns(self.terms)], self.terms.layout_before,
                    _unit_cells_part, self.terms)
            # sum over cells of w_before f[cell], per (unit, level)
            onehot = sparse.csr_matrix(
                (self.terms.f, (np.arange(len(self.terms.f)), self.terms.level_of_cell)),
                shape=(len(self.terms.f), self.p))
            self._cache["units"] = np.asarray((onehot.T @ self.shared["unit_cells"].T).T)
        if "units" not in self._cache:
            self._cache["units"] = _map_sum(self.frame[_term_columns(self.terms)],
                                            self.terms.layout_before,
                                            _loadings_part, self.terms)
        return self._cache["units"]


def _term_columns(*terms: ProjectionTerms) -> list[str]:
    cols: list[str] = []
    for t in terms:
        lay = t.layout_before
        cols += [*lay.key_columns, *(c for c in (lay.weights, lay.probs, lay.mask) if c),
                 *t.factor.columns, *(c for f in lay.factors for c in f.columns)]
    return list(dict.fromkeys(cols))


def _cross_part(part: pd.DataFrame, layout: DaskLayout, p: ProjectionTerms,
                q: ProjectionTerms) -> np.ndarray:
    cp, ap, _bp = p(part)
    cq, _aq, bq = q(part)
    out = np.bincount(cp * q.p + cq, weights=ap * bq, minlength=p.p * q.p)
    return out.reshape(p.p, q.p)


def _loadings_part(part: pd.DataFrame, layout: DaskLayout, p: ProjectionTerms) -> np.ndarray:
    codes, _a, b = p(part)
    units = layout.units(part)
    n_units = layout.shadow.stages[-1].n_units
    return np.bincount(units * p.p + codes, weights=b,
                       minlength=n_units * p.p).reshape(n_units, p.p)


def _unit_cells_part(part: pd.DataFrame, layout: DaskLayout, p: ProjectionTerms) -> np.ndarray:
    """(units x cells) positive weights before the step."""
    n_units = layout.shadow.stages[-1].n_units
    n_cells = len(p.f)
    cells = p.factor.cells(part)
    w = p.layout_before.row_weights(part)
    keep = (cells >= 0) & (w > 0)
    units = layout.units(part)
    return np.bincount(units * n_cells + np.maximum(cells, 0), weights=np.where(keep, w, 0.0),
                       minlength=n_units * n_cells).reshape(n_units, n_cells)


def _map_sum(frame: Any, layout: DaskLayout, fn: Any, *args: Any) -> Any:

    return _add(_per_partition(fn, frame, layout, *args))


def _projection(design: Any, factor: WeightFactor, codes: np.ndarray, f: np.ndarray, p: int,
                m_inv: np.ndarray, raking: bool, cell_rows: np.ndarray | None = None,
                shared: dict | None = None) -> DaskProjection:
    terms = ProjectionTerms(design._dask, factor, codes, f, p, raking)
    return DaskProjection(terms, design.frame, p, m_inv, cell_rows, shared)


def _weighted_design(design: Any) -> None:
    from sipas.errors import WeightingError
    from sipas.replication import ReplicateDesign

    if isinstance(design, ReplicateDesign):
        raise WeightingError("weighting a Dask replicate design is not available: weight the "
                             "Dask design (Taylor variance, calibration-aware), or replicate "
                             "and weight in memory.")


def _with_step(design: Any, factor: WeightFactor, step: Any, calibration: Any) -> Any:
    layout = replace(design._dask, factors=(*design._dask.factors, factor))
    cal = (*design._calibration, calibration)
    return replace(design, _dask=layout, _calibration=cal, _history=(*design._history, step))


def poststratify(design: Any, by: Sequence[str], margin: Any, partial: bool) -> Any:
    """:func:`sipas.poststratify` on a Dask design (one pass for the cell totals)."""
    from sipas.design import WeightingStep

    _weighted_design(design)
    cols = list(margin.variables)
    table = cell_totals(design, cols)
    codes, levels = _combo_levels(table, margin, partial)
    targets = np.array([margin.targets[lv] for lv in levels])
    before = np.bincount(codes, weights=table["__w"].to_numpy(), minlength=len(levels))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_level = np.where(before > 0, targets / before, 1.0)
    f = per_level[codes]
    keys = KeyIndex.build(table[cols])
    factor = WeightFactor(tuple(cols), keys, f)
    proj = _projection(design, factor, codes, f, len(levels),
                       np.where(before > 0, 1.0 / np.where(before > 0, before, 1), 0.0),
                       raking=False)
    rows = [{"margin": margin.name, "level": lv if len(lv) > 1 else lv[0],
             "target": margin.targets[lv], "before": float(before[i]),
             "achieved": float(targets[i] if before[i] > 0 else 0.0)}
            for i, lv in enumerate(levels)]
    step = WeightingStep("poststratify", {"by": cols, "partial": partial, "backend": "dask"},
                         {"margins": rows})
    return _with_step(design, factor, step, proj)


def rake(design: Any, margins: list[Any], tol: float, max_iter: int, partial: bool) -> Any:
    """:func:`sipas.rake` on a Dask design: one pass for the joint cell totals, then IPF on
    the cells in memory."""
    from sipas.design import WeightingStep
    from sipas.errors import ConvergenceError
    from sipas.weighting.calibration import (
        RAKE_PROJECTION_SWEEPS,
        _ipf,
        _margin_summary_cells,
    )

    _weighted_design(design)
    cols = list(dict.fromkeys(v for m in margins for v in m.variables))
    table = cell_totals(design, cols)
    coded = [_combo_levels(table, m, partial) for m in margins]
    targets = [np.array([m.targets[lv] for lv in lvs]) for m, (_c, lvs) in zip(margins, coded)]
    size = table["__w"].to_numpy()
    f, f_last, iters, ok = _ipf(size, [c for c, _ in coded], targets, tol, max_iter)
    if not ok:
        raise ConvergenceError(f"raking did not converge in {max_iter} sweeps (tol {tol:g}); "
                               "check that the margins are consistent or raise max_iter.")
    keys = KeyIndex.build(table[cols])
    factor = WeightFactor(tuple(cols), keys, f)
    counts = table["__n"].to_numpy()
    shared: dict = {}  # the margins' common (unit x cell) weights, made once
    projections = []
    for (codes, lvs), fm in zip(coded, f_last):
        n_level = np.bincount(codes, weights=counts, minlength=len(lvs))
        projections.append(_projection(design, factor, codes, fm, len(lvs),
                                       np.where(n_level > 0, 1.0 / np.where(
                                           n_level > 0, n_level, 1), 0.0), raking=True,
                                       cell_rows=counts, shared=shared))
    summary = _margin_summary_cells(margins, [lvs for _c, lvs in coded],
                                    [c for c, _ in coded], size, size * f)
    step = WeightingStep("rake", {"margins": [m.name for m in margins], "tol": tol,
                                  "max_iter": max_iter, "backend": "dask"},
                         {**summary, "iterations": iters, "converged": True})
    return _with_step(design, factor, step, tuple(projections) * RAKE_PROJECTION_SWEEPS)
