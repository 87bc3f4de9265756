"""Sums of row values per key, the inner loop of :func:`sipas.engine.sums.unit_sums`: by
runs of sorted rows, by ``np.bincount``, by putting one-row keys in place, and the
three-state count of shares.

Examples
--------
>>> import numpy as np
>>> _KeySums(np.array([0, 0, 1]), 2)(np.array([1.0, 2.0, 3.0])).tolist()
[3.0, 3.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["_KeySums", "_binary_sums", "_domain_of_units", "one_row_each"]


class _KeySums:
    """Sums of row values per key. Survey files usually come sorted by stratum and PSU, so
    the rows of a key often form a few runs: then ``np.add.reduceat`` over the runs (one
    sequential pass, pairwise sums) replaces ``np.bincount`` (a scattered add, several times
    slower); scattered keys fall back to ``np.bincount``."""

    #: use runs when there are at most this fraction of rows' worth of them
    RUNS = 0.25

    starts: np.ndarray | None
    run_key: np.ndarray
    lengths: np.ndarray
    one_run: bool

    def __init__(self, key: np.ndarray, size: int) -> None:
        self.key, self.size, self.starts = key, size, None
        n = len(key)
        # one row per key (an element design's units): a sum is the row's value, put in place
        self.single = n == size and n > 0 and int(np.bincount(key, minlength=size).max()) == 1
        if n < 2 or self.single:
            return
        change = key[1:] != key[:-1]
        n_runs = 1 + int(np.count_nonzero(change))
        if n_runs > self.RUNS * n:
            return
        starts = np.empty(n_runs, dtype=np.intp)
        starts[0] = 0
        starts[1:] = np.flatnonzero(change) + 1
        self.starts = starts
        self.run_key = key[starts]
        self.lengths = np.diff(starts, append=n).astype("float64")
        self.one_run = len(np.unique(self.run_key)) == n_runs

    @property
    def runs(self) -> bool:
        return self.starts is not None

    def compress(self) -> np.ndarray:
        """Renumber the keys to the ones present (in order of first appearance); returns
        the original key of each. With runs only the runs' keys are renumbered."""
        self.single = False
        if self.starts is None:
            self.key, uniq = pd.factorize(self.key)
        else:
            self.run_key, uniq = pd.factorize(self.run_key)
        self.size = len(uniq)
        return np.asarray(uniq, dtype=np.int64)

    def _to_keys(self, per_run: np.ndarray) -> np.ndarray:
        if self.one_run:
            out = np.zeros(self.size)
            out[self.run_key] = per_run
            return out
        return np.bincount(self.run_key, weights=per_run, minlength=self.size)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """(size,) sums of the (n,) ``values`` (booleans count as 0/1)."""
        if self.single:
            out = np.empty(self.size)
            out[self.key] = values
            return out
        if self.starts is None:
            return np.bincount(self.key, weights=values, minlength=self.size)
        # dtype: booleans are added as numbers, cast chunk by chunk (no float copy)
        return self._to_keys(np.add.reduceat(values, self.starts, dtype=np.float64))

    def count(self) -> np.ndarray:
        """(size,) number of rows per key."""
        if self.single:
            return np.ones(self.size)
        if self.starts is None:
            return np.bincount(self.key, minlength=self.size).astype("float64")
        return self._to_keys(self.lengths)


def _binary_sums(key: np.ndarray, size: int, w: np.ndarray, pos: np.ndarray | None,
                 num: np.ndarray, den: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shares on scattered keys: each row is missing (0), answered not in the codes (1) or
    in them (2), so one weighted count per (key, state) gives both sums, and a plain count
    gives ``n`` (and, over the three states, the rows per key). ``pos=None``: every weight
    is positive."""
    j = num.shape[1]
    wnum, wden, pden = (np.empty((size, j)) for _ in range(3))
    base = key * 3
    state = np.empty(len(key), dtype=np.int64)
    prow: np.ndarray | None = None
    for c in range(j):
        np.add(base, den[:, c], out=state, casting="unsafe")
        np.add(state, num[:, c], out=state, casting="unsafe")
        s = np.bincount(state, weights=w, minlength=3 * size).reshape(size, 3)
        n = (np.bincount(state, minlength=3 * size) if pos is None else
             np.bincount(state, weights=pos, minlength=3 * size)).reshape(size, 3)
        wnum[:, c], wden[:, c], pden[:, c] = s[:, 2], s[:, 1] + s[:, 2], n[:, 1] + n[:, 2]
        if prow is None:
            prow = n.sum(axis=1, dtype="float64")
    if prow is None:
        raise ValueError("no variables to sum (num has no columns)")
    return wnum, wden, pden, prow



def _domain_of_units(unit: np.ndarray, domain: np.ndarray, inside: np.ndarray | None,
                     n_units: int) -> np.ndarray | None:
    """The one domain of every unit (0 for a unit without rows in any domain), or ``None``
    when some unit has rows in two domains. Rows in no domain have weight zero already, so
    they may share their unit's key."""
    unit_in = unit if inside is None or inside.all() else unit[inside]
    dom_in = domain if inside is None or inside.all() else domain[inside]
    of_unit = np.zeros(n_units, dtype=np.int64)
    of_unit[unit_in] = dom_in
    return of_unit if np.array_equal(of_unit[unit_in], dom_in) else None


def one_row_each(unit: np.ndarray, n_units: int) -> bool:
    """Whether every unit has exactly one row (an element design's final units).

    Examples
    --------
    >>> import numpy as np
    >>> one_row_each(np.array([2, 0, 1]), 3), one_row_each(np.array([0, 0, 1]), 2)
    (True, False)
    """
    return n_units == len(unit) and n_units > 0 and bool(
        np.bincount(unit, minlength=n_units).max() == 1)
