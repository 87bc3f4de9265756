"""Integer codes of a column's values: the first step of every group-by (domains, weighting
cells, margins).

Survey files code provinces, districts, services and answer categories as small integers, so
the common case is a table lookup over the range of the codes (one pass, no hashing); other
values go through :func:`pandas.factorize`.

Examples
--------
>>> import numpy as np
>>> codes, uniques = sorted_codes(np.array([30, 10, 30, 20]))
>>> codes.tolist(), uniques.tolist()
([2, 0, 2, 1], [10, 20, 30])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["integer_table", "sorted_codes"]

#: a table lookup is used when the codes' range is at most this many times the rows (or 65,536)
RANGE_PER_ROW = 4


def sorted_codes(values: np.ndarray | pd.Series, *,
                 na_level: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..L-1`` of the values in sorted order, and the ``L`` sorted distinct values.

    Parameters
    ----------
    values : numpy.ndarray or pandas.Series
        One value per row.
    na_level : bool
        Missing values form a level of their own (sorted last); otherwise their code is -1.

    Returns
    -------
    (numpy.ndarray of int64, numpy.ndarray)
        The code of every row and the distinct values.

    Examples
    --------
    >>> import numpy as np
    >>> codes, uniques = sorted_codes(np.array(["b", "a", "b"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([1, 0, 1], ['a', 'b'])
    >>> sorted_codes(np.array([2.0, 1.0]))[0].tolist()  # integer-valued floats: the table
    [1, 0]
    """
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    table = integer_table(arr)
    if table is not None:
        index, counts, start = table
        present = counts > 0
        code_of = np.cumsum(present, dtype=np.int64) - 1
        return code_of[index], (np.flatnonzero(present) + start).astype(arr.dtype)
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=not na_level)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques)


def integer_table(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """For integer (or integer-valued float) codes in a small range: ``(index, counts,
    start)`` with ``index = arr - start`` (``arr`` itself when it can index directly) and
    ``counts[i]`` the rows with index ``i`` (one pass); ``None`` for other values.

    Parameters
    ----------
    arr : numpy.ndarray
        One value per row.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int) or None

    Examples
    --------
    >>> import numpy as np
    >>> index, counts, start = integer_table(np.array([3, 1, 3]))
    >>> index.tolist(), counts.tolist(), start
    ([3, 1, 3], [0, 1, 0, 2], 0)
    """
    if not len(arr) or not (arr.dtype.kind in "iu" or (
            arr.dtype.kind == "f" and bool(np.all(arr == np.floor(arr))))):
        return None
    lo, hi = arr.min().item(), arr.max().item()
    limit = max(RANGE_PER_ROW * len(arr), 1 << 16)
    if hi - lo > limit:
        return None
    # non-negative integer codes index the table as they are (no shifted copy)
    start = 0 if arr.dtype.kind in "iu" and lo >= 0 and hi <= limit else int(lo)
    index = arr if start == 0 and arr.dtype.kind in "iu" else np.subtract(
        arr, start, casting="unsafe", dtype=np.int64)
    return index, np.bincount(index, minlength=int(hi - start) + 1), start
