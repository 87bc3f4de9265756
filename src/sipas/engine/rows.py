"""What a statistic sees of the data: chunks of rows, and kernels that turn them into sums.

Every statistic of sipas is computed from sums over rows: per (sampling unit, domain,
variable), per weighting cell, per calibration level. A back end (the whole data in memory,
or the partitions of a Dask frame) hands each chunk of rows to a :class:`Kernel` as a
:class:`Rows` object and adds up what the kernel returns; everything else is written once,
above the back ends, on those sums.

A :class:`Rows` object answers four questions about its rows: their columns (``frame``),
their weights (final, or as they were before a weighting step), their sampling unit at a
stage, and their cell in a weighting step. A kernel must be picklable (Dask ships it to the
workers) and may hold row-aligned arrays only when it is meant for the in-memory back end
(one chunk: all rows).

Examples
--------
>>> import numpy as np, pandas as pd
>>> class Two:
...     frame = pd.DataFrame({"y": [1.0, 2.0]})
...     def weights(self, before=None):
...         return np.array([3.0, 1.0])
>>> WeightedTotal(("y",))(Two())
5.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["Kernel", "Rows", "WeightedTotal"]

T = TypeVar("T")


@runtime_checkable
class Rows(Protocol):
    """One chunk of rows as a statistic sees it (see the module docstring).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> rows = d.backend.rows()
    >>> rows.weights().shape, int(rows.units(0).max()) + 1
    ((800,), 40)
    """

    @property
    def frame(self) -> pd.DataFrame:
        """The chunk's columns (at least those the kernel asked for)."""
        ...

    @property
    def partial(self) -> bool:
        """Whether this chunk is one of several (its sums are added to others: keep them
        compact)."""
        ...

    def weights(self, before: int | None = None) -> np.ndarray:
        """Final weights of the rows, or their weights before weighting step ``before``."""
        ...

    def units(self, stage: int = -1) -> np.ndarray:
        """Sampling unit of every row at ``stage`` (0: PSU, -1: final stage)."""
        ...

    def cells(self, step: int) -> np.ndarray:
        """Cell of every row in weighting step ``step`` (-1: in no cell)."""
        ...


class Kernel(Protocol[T]):
    """A picklable function of a chunk of rows whose results add up over chunks.

    ``columns`` are the data columns it reads (a Dask back end reads only those);
    ``combine`` adds the results of several chunks.
    """

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns the kernel reads."""
        ...

    def __call__(self, rows: Rows) -> T:
        """The kernel's sums over one chunk."""
        ...

    def combine(self, parts: Sequence[T]) -> T:
        """Add the sums of several chunks."""
        ...


@dataclass(frozen=True)
class WeightedTotal:
    """The weighted total of numeric columns (a minimal kernel, used by checks and tests).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> round(d.backend.reduce(WeightedTotal(("p03",))))
    229930
    """

    names: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns summed."""
        return self.names

    def __call__(self, rows: Rows) -> float:
        values = rows.frame[list(self.names)].to_numpy(dtype="float64", na_value=0.0)
        return float(rows.weights() @ np.nan_to_num(values).sum(axis=1))

    def combine(self, parts: Sequence[float]) -> float:
        """The sum of the chunks' totals."""
        return float(sum(parts))
