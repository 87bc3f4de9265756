"""What every back end provides: sums of kernels over the rows, cell totals, weight factors.

A back end holds the rows of a design and only turns them into sums: it runs a
:class:`~sipas.engine.rows.Kernel` over its chunks of rows and adds the results
(:meth:`Backend.reduce`), counts the weighting cells of some columns (:meth:`cell_table`), codes
domains, and applies a weighting step's factors to its rows' weights (:meth:`Backend.apply`).
Every statistic (estimates, variances, raking, calibration) is written once, above the back
ends, on those sums. :class:`~sipas.backends.memory.MemoryBackend` holds a pandas frame (one
chunk: all rows); :class:`~sipas.backends.dask.DaskBackend` a Dask frame (a chunk per
partition).

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> d.backend.kind, d.backend.in_memory
('memory', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas.engine.rows import Kernel, Rows
from sipas.errors import EstimationError

__all__ = ["Backend", "CellFactor", "CellTable", "Domains", "FixedCodes", "RowWeights",
           "WeightFactor", "needs_memory", "row_domains"]

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Domains:
    """The domains of some columns: their labels (one row per observed combination, sorted)
    and how to find each row's domain in a chunk (``coder(frame)`` gives codes, -1: none).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> dom = d.domains("urban")
    >>> dom.labels["urban"].tolist(), len(dom)
    ([1.0, 2.0], 2)
    """

    labels: pd.DataFrame
    coder: Any

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def columns(self) -> tuple[str, ...]:
        """The domain columns."""
        return tuple(self.labels.columns)

    def codes(self, rows: Rows) -> np.ndarray:
        """Domain code of every row of a chunk (-1: in no domain)."""
        return self.coder(rows.frame)


@dataclass(frozen=True, eq=False)
class FixedCodes:
    """Domain codes given for every row (in-memory designs: the one chunk is all rows).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> FixedCodes(np.array([0, 1]))(pd.DataFrame({"a": [1, 2]})).tolist()
    [0, 1]
    """

    codes: np.ndarray

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) != len(self.codes):
            raise EstimationError("internal: domain codes of all rows asked for another frame")
        return self.codes


def row_domains(codes: np.ndarray, n_domains: int) -> Domains:
    """Domains given by a code per row (-1: in none), labelled 0..n-1 (in-memory designs).

    Examples
    --------
    >>> import numpy as np
    >>> len(row_domains(np.array([0, 1, -1]), 2))
    2
    """
    return Domains(pd.DataFrame(index=range(n_domains)), FixedCodes(np.asarray(codes)))


@dataclass(frozen=True, eq=False)
class CellTable:
    """Weighting cells: the observed combinations of some columns among the rows with
    positive weight, with their weighted (``__w``) and plain (``__n``) counts, and the
    back end's handle to find every row's cell later (``lookup``).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> cells = d.backend.cell_table(["urban"])
    >>> cells.table["__n"].tolist()
    [120.0, 680.0]
    """

    table: pd.DataFrame
    lookup: Any

    @property
    def columns(self) -> list[str]:
        """The cell columns."""
        return [c for c in self.table.columns if c not in ("__w", "__n")]


@dataclass(frozen=True, eq=False)
class CellFactor:
    """A weighting step as a factor per cell: every row's weight times ``factor[cell]``
    (rows in no cell get weight 0).

    Examples
    --------
    >>> import numpy as np, sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> cells = d.backend.cell_table(["urban"])
    >>> new = d.backend.apply(CellFactor(cells.lookup, np.array([2.0, 1.0])))
    >>> round(float(new.weight_array().sum() - d.weight_array.sum()) > 0)
    1
    """

    lookup: Any
    factor: np.ndarray


@dataclass(frozen=True, eq=False)
class RowWeights:
    """A weighting step that gives every row a new weight (trimming, GREG calibration, a
    subset): the rows are needed in memory.

    Examples
    --------
    >>> import numpy as np
    >>> float(RowWeights(np.ones(3)).values.sum())
    3.0
    """

    values: np.ndarray


WeightFactor = CellFactor | RowWeights


class Backend(Protocol):
    """Rows turned into sums (see the module docstring)."""

    @property
    def kind(self) -> Literal["memory", "dask"]:
        """``memory`` or ``dask``."""
        ...

    @property
    def in_memory(self) -> bool:
        """Whether the rows are in memory (one chunk)."""
        ...

    @property
    def columns(self) -> pd.Index:
        """The data columns."""
        ...

    @property
    def n_steps(self) -> int:
        """How many weight factors were applied."""
        ...

    def reduce(self, kernel: Kernel[T]) -> T:
        """The sum of ``kernel`` over all chunks of rows."""
        ...

    def rows(self) -> Rows:
        """All rows as one chunk (in-memory back end only)."""
        ...

    def frame(self) -> Any:
        """The data (a copy that cannot change the back end's rows)."""
        ...

    def empty(self) -> pd.DataFrame:
        """The columns and their types, without rows."""
        ...

    def distinct(self, columns: Sequence[str]) -> pd.DataFrame:
        """The distinct combinations of ``columns`` (any order)."""
        ...

    def domains(self, columns: Sequence[str]) -> Domains:
        """The domains of ``columns`` (labels sorted, missing values refused)."""
        ...

    def cell_table(self, columns: Sequence[str]) -> CellTable:
        """Weighting cells of ``columns`` among the positive-weight rows."""
        ...

    def row_cells(self, cells: CellTable) -> np.ndarray:
        """The cell of every row, -1 for none (in-memory back end only)."""
        ...

    def rows_of(self, cells: CellTable, which: int, limit: int = 10) -> list[int] | None:
        """The first rows of cell ``which`` (for messages), or None when unknown."""
        ...

    def with_columns(self, columns: Mapping[str, Any]) -> Backend:
        """The same rows, weights and steps with columns added to the data."""
        ...

    def apply(self, factor: WeightFactor) -> Backend:
        """A back end whose rows' weights include ``factor`` (the input is unchanged)."""
        ...

    def weight_array(self) -> npt.NDArray[np.float64]:
        """Final weights, one per row (in-memory back end only)."""
        ...


def needs_memory(backend: Backend, what: str) -> None:
    """Refuse an operation that needs the rows in memory, in one wording.

    Parameters
    ----------
    backend : Backend
        The design's back end.
    what : str
        What needs the rows (``"quantiles"``, ``"the likelihood interval"``, ...).

    Raises
    ------
    EstimationError
        The back end keeps its rows elsewhere (Dask workers).

    Examples
    --------
    >>> import sipas
    >>> needs_memory(sipas.Design.from_spec(sipas.datasets.load_demo()).backend, "quantiles")
    """
    if not backend.in_memory:
        raise EstimationError(f"{what} need(s) the rows in memory; on a {backend.kind} design "
                              "compute the columns used into a pandas frame first.")
