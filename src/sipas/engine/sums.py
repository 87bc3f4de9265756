"""Sufficient statistics: one pass over the rows to sums per (sampling unit, domain).

Every estimator is a ratio of weighted sums within domains, and its linearized variance
needs only the totals of the influence values per final sampling unit. So the data are
reduced once, per (unit, domain, variable), to

* ``wnum`` = sum w num, ``wden`` = sum w den (the estimate and its influence totals),
* ``pden`` = number of positive-weight rows with a valid value (``n``),
* ``wval`` = sum w over valid values (the population size behind a mean or total),
* ``wnum2`` = sum w num^2 (the element variance for design effects),
* ``prow`` = number of positive-weight rows (domain sizes and domain df),

and everything after that works on those small arrays. The key space is dense
(``units x domains``) when it is small, else compressed to the keys present. A back end
computes these sums chunk by chunk (the whole data in memory, or each Dask partition) and
:func:`add_sums` adds the chunks' sums.

Examples
--------
>>> import numpy as np
>>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]), 2,
...               np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
>>> s.by_domain(s.wnum).ravel().tolist()
[2.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from sipas.engine import keysums
from sipas.engine.keysums import _binary_sums, _domain_of_units, _KeySums

__all__ = ["DENSE_KEYS", "Reduced", "UnitSums", "add_sums", "join_sums", "unit_sums"]

#: dense (units x domains) key spaces up to this size; beyond, only the keys present are kept
DENSE_KEYS = 4_000_000


@dataclass(frozen=True, eq=False)
class UnitSums:
    """Sums per (unit, domain) key; arrays are (keys x variables), ``prow`` is (keys,).

    With a dense layout key ``u * D + d``; otherwise ``unit`` and ``domain`` give each key.

    Attributes
    ----------
    n_units, n_domains : int
        Number of units ``U`` and domains ``D``.
    unit, domain : numpy.ndarray or None
        Unit and domain of each key (compressed layout); ``None`` when dense.
    wnum, wden, pden, wval, wnum2 : numpy.ndarray
        (keys x J) sums, see the module docstring (``wden``/``wnum2`` may be ``None``).
    prow : numpy.ndarray
        (keys,) number of positive-weight rows.
    domain_totals : bool
        The (keys x J) fields hold (domains x J) domain totals instead (units of one row
        each: keys as many as the rows, whose values a second pass reads again); ``prow``,
        ``unit`` and ``domain`` stay per key.

    Examples
    --------
    >>> import numpy as np
    >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
    ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
    >>> s.n_units, s.n_domains, s.wnum.ravel().tolist()  # keys (unit, domain) in order
    (2, 2, [2.0, 0.0, 0.0, 1.0])
    """

    n_units: int
    n_domains: int
    unit: np.ndarray | None
    domain: np.ndarray | None
    wnum: np.ndarray
    wden: np.ndarray | None
    pden: np.ndarray
    wval: np.ndarray
    wnum2: np.ndarray | None
    prow: np.ndarray
    domain_totals: bool = False

    @property
    def dense(self) -> bool:
        """Whether every (unit, domain) key is stored (key ``u * D + d``).

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.dense
        True
        """
        return self.unit is None

    @property
    def unit_keys(self) -> bool:
        """Whether the keys are the units themselves, in order (every unit in one domain).

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.unit_keys
        False
        """
        return (self.unit is not None and len(self.unit) == self.n_units
                and bool(np.all(self.unit == np.arange(self.n_units))))

    @property
    def n_vars(self) -> int:
        """Number of variables ``J``.

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.n_vars
        1
        """
        return self.wnum.shape[1]

    def widen(self, n_vars: int) -> UnitSums:
        """These sums in arrays with room for ``n_vars`` variables (the first columns
        filled), keeping fields that are the same array (``wval`` is ``wden`` for means and
        shares) one array.

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.ones((2, 1)), None, None, 1, np.ones(2), np.array([0, 1]), 2)
        >>> s.widen(3).wnum.shape
        (2, 3)
        """
        wide: dict[str, Any] = {}
        for f in ("wnum", "wden", "pden", "wval", "wnum2"):
            arr = getattr(self, f)
            same = next((g for g in wide if getattr(self, g) is arr), None)
            if arr is None or same is not None:
                wide[f] = None if arr is None else wide[same]  # type: ignore[index]
                continue
            wide[f] = np.empty((arr.shape[0], n_vars))
            wide[f][:, : arr.shape[1]] = arr
        return replace(self, **wide)

    def key_unit(self) -> np.ndarray:
        """The unit of every key.

        Returns
        -------
        numpy.ndarray of int

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.key_unit().tolist()
        [0, 0, 1, 1]
        """
        if self.unit is None:  # dense
            return np.repeat(np.arange(self.n_units), self.n_domains)
        return self.unit

    def key_domain(self) -> np.ndarray:
        """The domain of every key.

        Returns
        -------
        numpy.ndarray of int

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.key_domain().tolist()
        [0, 1, 0, 1]
        """
        if self.domain is None:  # dense
            return np.tile(np.arange(self.n_domains), self.n_units)
        return self.domain

    def total(self, field: str) -> np.ndarray:
        """Totals of one field per domain: (D x J), or (D,) for ``prow``.

        Parameters
        ----------
        field : str
            ``wnum``, ``wden``, ``pden``, ``wval``, ``wnum2`` or ``prow``.

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.total("pden").tolist(), s.total("prow").tolist()
        ([[2.0], [1.0]], [2.0, 1.0])
        """
        arr = getattr(self, field)
        if arr is None:
            raise ValueError(f"these sums have no {field}")
        return arr if self.domain_totals and field != "prow" else self.by_domain(arr)

    def by_domain(self, arr: np.ndarray) -> np.ndarray:
        """Totals per domain: (D x J) (or (D,) for a 1-d array).

        Parameters
        ----------
        arr : numpy.ndarray
            Per-key values, (keys x J) or (keys,), e.g. :attr:`wnum` or :attr:`prow`.

        Returns
        -------
        numpy.ndarray
            Their sums over the units of each domain.

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.by_domain(s.wnum).tolist(), s.by_domain(s.prow).tolist()
        ([[2.0], [1.0]], [2.0, 1.0])
        """
        if self.dense:
            shape = (self.n_units, self.n_domains, *arr.shape[1:])
            return arr.reshape(shape).sum(axis=0)
        return np.asarray(self._domain_matrix @ arr)

    @cached_property
    def _domain_matrix(self) -> sparse.csr_matrix:
        # (D x keys) indicator: one sparse product sums every column in one pass
        keys = len(self.key_domain())
        return sparse.csr_matrix((np.ones(keys), (self.key_domain(), np.arange(keys))),
                                 shape=(self.n_domains, keys))

    def unit_matrix(self, arr: np.ndarray) -> np.ndarray | sparse.csr_matrix:
        """(units x D*J) matrix of per-key values, domain-major columns.

        Parameters
        ----------
        arr : numpy.ndarray
            (keys x J) per-key values (e.g. influence sums).

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix
            Dense for a dense layout, sparse otherwise; column ``d * J + j``.

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
        ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
        >>> s.unit_matrix(s.wnum).tolist()
        [[2.0, 0.0], [0.0, 1.0]]
        """
        j = arr.shape[1]
        if self.domain_totals:
            if arr.shape[0] != self.n_units:
                raise ValueError("domain totals have no unit matrix: give per-unit values")
            if self.n_units * self.n_domains <= DENSE_KEYS:
                # what the dense layout gives: the dense variance centres before it squares
                full = np.zeros((self.n_units, self.n_domains, j))
                full[np.arange(self.n_units), self.key_domain()] = arr
                return full.reshape(self.n_units, self.n_domains * j)
        if self.dense:
            return arr.reshape(self.n_units, self.n_domains * j)
        if self.unit_keys:
            # one key per unit, in unit order: the rows of the matrix are the keys; 32-bit
            # indices where they fit (the matrix is as large as the data for element designs)
            small = max(self.n_domains * j, (self.n_units + 1) * j) < 2**31
            idx = np.dtype(np.int32 if small else np.int64)
            cols = np.multiply(self.key_domain().astype(idx)[:, None], j, dtype=idx)
            cols = (cols + np.arange(j, dtype=idx)[None, :]).ravel()
            ptr = np.arange(0, (self.n_units + 1) * j, j, dtype=idx)
            return sparse.csr_matrix((np.ascontiguousarray(arr).ravel(), cols, ptr),
                                     shape=(self.n_units, self.n_domains * j))
        rows = np.repeat(self.key_unit(), j)
        cols = (self.key_domain()[:, None] * j + np.arange(j)[None, :]).ravel()
        return sparse.csr_matrix((arr.ravel(), (rows, cols)),
                                 shape=(self.n_units, self.n_domains * j))


def unit_sums(num: np.ndarray, den: np.ndarray | None, domain: np.ndarray | None,
              n_domains: int, w: np.ndarray, unit: np.ndarray | None, n_units: int, *,
              valid: np.ndarray | None = None, second_moment: bool = True,
              binary: bool = False, compress: bool | None = None,
              out: tuple[UnitSums, int] | None = None, defer: bool | None = False) -> UnitSums:
    """Reduce rows to sums per (unit, domain) key (see the module docstring).

    ``valid`` marks the non-missing values (default: ``den``, or every row); pass the same
    array object as ``den`` when they coincide (means, proportions) to save a pass.
    ``binary`` says that ``num`` holds only 0 and 1 (so ``num^2 = num``); ``unit=None`` puts
    every row in one unit. Rows with ``domain < 0`` are in no domain.

    Parameters
    ----------
    num : numpy.ndarray
        (n x J) numerators (zero where missing); float, or bool for 0/1 indicators.
    den : numpy.ndarray or None
        (n x J) denominators (float or bool); ``None`` for totals.
    domain : numpy.ndarray of int or None
        Domain of every row (-1: none); ``None`` puts every row in the one domain.
    n_domains : int
        Number of domains.
    w : numpy.ndarray
        Row weights.
    unit : numpy.ndarray of int or None
        Final sampling unit of every row.
    n_units : int
        Number of units.
    valid : numpy.ndarray, optional
        (n x J) 1 where a value is not missing.
    second_moment : bool
        Also compute ``wnum2`` (for design effects).
    binary : bool
        ``num`` holds only 0 and 1 (shares); when ``valid`` is ``den`` (or omitted), ``den``
        is the 0/1 indicator of an answer and ``num <= den``.
    compress : bool, optional
        Keep only the keys present (default: when the dense key space is above
        ``DENSE_KEYS``); a Dask partition always compresses, so partial results stay small.
    out : (UnitSums, int), optional
        Sums of the same rows and keys with room for more variables (:meth:`UnitSums.widen`)
        and the first column to fill: a block of variables is written in place, so the
        blocks of a large element design are never held twice.
    defer : bool
        When every unit is one row (an element design), keep domain totals only
        (:attr:`UnitSums.domain_totals`): the per-unit values are as large as the data, and
        the variance reads the rows again for them. ``None``: the caller has checked that
        every unit is one row.

    Returns
    -------
    UnitSums
        Dense keys when ``units x domains`` is at most :data:`DENSE_KEYS`, else only the
        keys present.

    Examples
    --------
    >>> import numpy as np
    >>> s = unit_sums(np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([0, 0, 1]),
    ...               2, np.array([2.0, 1.0, 1.0]), np.array([0, 1, 1]), 2)
    >>> s.by_domain(s.pden).tolist()  # respondents with a valid value per domain
    [[2.0], [1.0]]
    """
    same = valid is None or valid is den
    unit = np.zeros(len(w), dtype=np.int64) if unit is None else unit
    inside: np.ndarray | None = None
    if domain is None:
        if n_domains != 1:
            raise ValueError("domain=None puts every row in one domain: n_domains must be 1")
    else:
        inside = domain >= 0
        if not inside.all():
            domain = np.where(inside, domain, 0)
            w = np.where(inside, w, 0.0)
    one_row = defer is None or (defer and keysums.one_row_each(unit, n_units))
    if n_domains == 1 or one_row:
        key = unit
    else:
        key = np.multiply(unit, n_domains, dtype=np.int64)
        key += domain
    size = n_units * n_domains
    key_unit = key_dom = None
    unit_domain = None
    if compress is None and size > DENSE_KEYS and domain is not None and not one_row:
        unit_domain = _domain_of_units(unit, domain, inside, n_units)
    positive = w > 0
    # counts are plain counts unless some weights are zero (those rows are not counted)
    pos = None if positive.all() else positive.astype("float64")
    key_prow: np.ndarray | None = None
    if one_row and out is not None and out[0].domain_totals:
        # a later block of the same rows: the units' counts and domains are known
        key_unit, key_prow, key_dom = out[0].unit, out[0].prow, out[0].domain
        sums = _KeySums(np.zeros(len(w), dtype=np.int64) if domain is None else domain,
                        n_domains)
        size = n_domains
    elif one_row:
        # an element design: per-unit sums would be as large as the data, so only domain
        # totals are kept; the variance reads the rows again
        key_unit = np.arange(n_units)
        key_prow = np.empty(n_units)
        key_prow[unit] = 1.0 if pos is None else pos
        key_dom = np.zeros(n_units, dtype=np.int64)
        if domain is not None:
            key_dom[unit] = domain
        sums = _KeySums(key_dom[unit] if domain is None else domain, n_domains)
        size = n_domains
    elif unit_domain is not None:
        # every unit lies in one domain (domains made of whole units): the unit is the key,
        # and nothing needs to be searched for
        sums = _KeySums(unit, n_units)
        size, key_unit, key_dom = n_units, np.arange(n_units), unit_domain
    else:
        sums = _KeySums(key, size)
        if compress or (compress is None and size > DENSE_KEYS):
            uniq = sums.compress()
            size = len(uniq)
            key_unit, key_dom = uniq // n_domains, uniq % n_domains
    wden: np.ndarray | None
    if binary and den is not None and same and not sums.runs and not sums.single \
            and out is None:
        wnum, wden, pden, prow = _binary_sums(sums.key, size, w, pos, np.asfortranarray(num),
                                              np.asfortranarray(den))
        return UnitSums(n_units, n_domains, key_unit, key_dom, wnum, wden, pden, wden,
                        wnum if second_moment else None,
                        prow if key_prow is None else key_prow, key_prow is not None)
    buf = np.empty(len(w))
    j_block = num.shape[1]

    def total(field: str, mult: np.ndarray | None, values: np.ndarray) -> np.ndarray:
        dest = np.empty((size, j_block)) if out is None else \
            getattr(out[0], field)[:, out[1]: out[1] + j_block]
        for j in range(j_block):
            col = values[:, j] if mult is None else np.multiply(mult, values[:, j], out=buf)
            dest[:, j] = sums(col)
        return dest

    prow = sums.count() if pos is None else sums(pos)
    wnum = total("wnum", w, num)
    wden = None if den is None else total("wden", w, den)
    valid = den if valid is None else valid
    if valid is None:
        pden = np.repeat(prow[:, None], j_block, axis=1)
        wval = np.repeat(sums(w)[:, None], j_block, axis=1)
        if out is not None:
            out[0].pden[:, out[1]: out[1] + j_block] = pden
            out[0].wval[:, out[1]: out[1] + j_block] = wval
    else:
        pden = total("pden", pos, valid)
        wval = wden if same and wden is not None else total("wval", w, valid)
    wnum2 = None
    if second_moment:
        wnum2 = wnum if binary else total("wnum2", w, num * num)
    if out is not None:
        return out[0]
    return UnitSums(n_units, n_domains, key_unit, key_dom, wnum, wden, pden, wval, wnum2,
                    prow if key_prow is None else key_prow, key_prow is not None)


_FIELDS = ("wnum", "wden", "pden", "wval", "wnum2", "prow")


def add_sums(parts: Sequence[UnitSums]) -> UnitSums:
    """Add the sums of several chunks of rows (same units and domains).

    Dense layouts add element by element; compressed ones are merged by key, and go back to
    the dense layout when it is small enough.

    Parameters
    ----------
    parts : sequence of UnitSums
        The sums of each chunk (at least one).

    Returns
    -------
    UnitSums

    Examples
    --------
    >>> import numpy as np
    >>> a = unit_sums(np.ones((2, 1)), None, None, 1, np.ones(2), np.array([0, 1]), 2)
    >>> add_sums([a, a]).wnum.ravel().tolist()
    [2.0, 2.0]
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    if all(p.dense for p in parts):
        total: dict[str, Any] = {f: None if getattr(first, f) is None else
                 np.sum([getattr(p, f) for p in parts], axis=0) for f in _FIELDS}
        return replace(first, **total)
    d = first.n_domains
    keys = np.concatenate([p.key_unit() * d + p.key_domain() for p in parts])
    code, uniq = pd.factorize(keys)
    # Any: replace() checks each field's type, which a dict of arrays cannot say
    merged: dict[str, Any] = {}
    for f in _FIELDS:
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
    if size <= DENSE_KEYS:
        dense: dict[str, Any] = {}
        for f, arr in merged.items():
            if arr is None:
                dense[f] = None
                continue
            full = np.zeros((size, *arr.shape[1:]))
            full[uniq] = arr
            dense[f] = full
        return replace(first, unit=None, domain=None, **dense)
    return replace(first, unit=uniq // d, domain=uniq % d, **merged)


def join_sums(parts: Sequence[UnitSums]) -> UnitSums:
    """Sums of blocks of variables over the same rows, side by side (variables in order).

    Parameters
    ----------
    parts : sequence of UnitSums
        Sums of the same rows and keys, one per block of variables.

    Returns
    -------
    UnitSums

    Examples
    --------
    >>> import numpy as np
    >>> a = unit_sums(np.ones((2, 1)), None, None, 1, np.ones(2), np.array([0, 1]), 2)
    >>> join_sums([a, a]).n_vars
    2
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    joined: dict[str, Any] = {}
    for f in ("wnum", "wden", "pden", "wval", "wnum2"):
        if getattr(first, f) is None:
            joined[f] = None
            continue
        # a field that is another field in every part (wval is wden, wnum2 is wnum for
        # shares) stays that field: no second copy of a (keys x J) array
        alias = next((g for g in joined if joined[g] is not None and all(
            getattr(p, f) is getattr(p, g) for p in parts)), None)
        joined[f] = joined[alias] if alias else np.hstack([getattr(p, f) for p in parts])
    return replace(first, **joined)


@dataclass(frozen=True, eq=False)
class Reduced:
    """Everything one reduction of the rows gives for a set of ratio estimates.

    Attributes
    ----------
    units : UnitSums
        Sums per (sampling unit, domain, variable).
    projections : tuple of (numpy.ndarray, numpy.ndarray or None)
        Per group of calibration projections, the per-(level or cell, domain) sums of the
        numerators and denominators (see :func:`sipas.engine.calibration.projection_sums`).
    replicates : (numpy.ndarray, numpy.ndarray or None) or None
        (R x k) numerator and denominator sums under each replicate weight, for replicate
        weights kept per row.

    Examples
    --------
    >>> import numpy as np
    >>> s = unit_sums(np.ones((2, 1)), None, None, 1, np.ones(2), np.array([0, 1]), 2)
    >>> Reduced(s).units.n_units
    2
    """

    units: UnitSums
    projections: tuple[tuple[np.ndarray, np.ndarray | None], ...] = ()
    replicates: tuple[np.ndarray, np.ndarray | None] | None = None

    @staticmethod
    def add(parts: Sequence[Reduced]) -> Reduced:
        """Add the reductions of several chunks of rows.

        Examples
        --------
        >>> import numpy as np
        >>> s = unit_sums(np.ones((2, 1)), None, None, 1, np.ones(2), np.array([0, 1]), 2)
        >>> Reduced.add([Reduced(s), Reduced(s)]).units.wnum.ravel().tolist()
        [2.0, 2.0]
        """
        first = parts[0]
        if len(parts) == 1:
            return first
        units = add_sums([p.units for p in parts])
        projections = tuple(_add_pairs([p.projections[i] for p in parts])
                            for i in range(len(first.projections)))
        reps = None
        if first.replicates is not None:
            reps = _add_pairs([_replicates(p) for p in parts])
        return Reduced(units, projections, reps)


def _replicates(part: Reduced) -> tuple[np.ndarray, np.ndarray | None]:
    if part.replicates is None:
        raise ValueError("cannot add reductions with and without replicate sums")
    return part.replicates


def _add_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray | None]]
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Add (numerator, denominator or None) sums chunk by chunk."""
    dens = [d for _, d in pairs if d is not None]
    if dens and len(dens) != len(pairs):
        raise ValueError("cannot add ratio sums to sums without denominators")
    return np.sum([n for n, _ in pairs], axis=0), np.sum(dens, axis=0) if dens else None
