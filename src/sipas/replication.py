"""Replicate-weight designs: supplied replicate weights, or replicates created from a design.

:class:`ReplicateDesign` holds replicate weights either as columns of the data (supplied
by the survey producer) or as replicate factors per PSU (created by :func:`replicate`, never
expanded to one weight per row and replicate unless a weighting step needs them).

Examples
--------
>>> import pandas as pd, sipas
>>> df = pd.DataFrame({"psu": [1, 2, 3, 4], "w": [10.0] * 4, "y": [1.0, 2, 3, 4]})
>>> rep = sipas.replicate(sipas.Design(df, ids="psu", weights="w"), "jk1")
>>> rep.n_replicates, round(float(sipas.mean(rep, "y").to_frame()["se"][0]), 6)
(4, 0.645497)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import sparse

from sipas._validate import as_name_list, check_choice, message, require_columns
from sipas.design import Design, WeightingStep, _as_mask, _positive_column, _private_copy
from sipas.errors import DesignError, EstimationError
from sipas.variance import RatioSource, ReplicateEngine

__all__ = ["RepMethod", "ReplicateDesign", "replicate"]

RepMethod = Literal["jk1", "jkn", "brr", "fay", "bootstrap", "other"]


@dataclass(frozen=True, eq=False, repr=False)
class ReplicateDesign:
    """A design whose variance comes from replicate weights.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data (never modified).
    weights : str
        Full-sample weight column.
    repweights : list of str, or str
        Replicate-weight columns, or a regular expression matching their names
        (``"rep\\d+"``).
    method : {"jk1", "jkn", "brr", "fay", "bootstrap", "other"}
        How the replicates were made; it sets the default ``scale`` and ``rscales``:
        jk1 ``(R-1)/R``; brr ``1/R``; fay ``1/(R (1-rho)^2)``; bootstrap ``1/(R-1)``;
        jkn and other need ``rscales``/``scale`` given.
    scale, rscales : float, list of float, optional
        Variance multipliers: ``v = scale * sum_r rscales_r (theta_r - centre)^2``.
    mse : bool
        Centre at the full-sample estimate instead of the mean of the replicates.
    combined_weights : bool
        The replicate columns are analysis weights (True, R's default) or factors that
        multiply the full-sample weight (False).
    degf : int, optional
        Degrees of freedom; default the rank of the replicate weights minus one (R ``degf``).
    fay_rho : float, optional
        Fay's rho for ``method="fay"``.

    Raises
    ------
    DesignError
        No ``weights``; fewer than two replicate columns (or a pattern matching none);
        columns not in the data, not numeric, negative or not finite; ``jkn`` without
        ``rscales``; ``fay`` without ``fay_rho``; an invalid ``scale`` or ``rscales``.

    Notes
    -----
    ``v(theta) = scale * sum_r rscales_r (theta_r - centre)^2`` with ``theta_r`` the estimate
    under replicate weights ``r``; the centre is the mean of the ``theta_r`` or, with
    ``mse=True``, the full-sample estimate.
    R equivalent: ``svrepdesign(weights=, repweights=, type=, scale=, rscales=, mse=)``.

    Examples
    --------
    >>> import pandas as pd, sipas
    >>> df = pd.DataFrame({"w": [10.0] * 4, "y": [1.0, 2, 3, 4],
    ...                    "r1": [0, 40 / 3, 40 / 3, 40 / 3], "r2": [40 / 3, 0, 40 / 3, 40 / 3],
    ...                    "r3": [40 / 3, 40 / 3, 0, 40 / 3], "r4": [40 / 3, 40 / 3, 40 / 3, 0]})
    >>> rep = sipas.ReplicateDesign(df, weights="w", repweights=["r1", "r2", "r3", "r4"],
    ...                            method="jk1")
    >>> rep.n_replicates, round(float(sipas.mean(rep, "y").to_frame()["se"][0]), 6)
    (4, 0.645497)
    """

    frame: pd.DataFrame
    weights: str | None = None
    repweights: Sequence[str] | str = ()
    method: RepMethod = "other"
    scale: float | None = None
    rscales: Sequence[float] | None = None
    mse: bool = False
    combined_weights: bool = True
    degf: int | None = None
    fay_rho: float | None = None
    _w: np.ndarray | None = field(default=None, repr=False)
    _rep: np.ndarray | None = field(default=None, repr=False)
    _factors: np.ndarray | None = field(default=None, repr=False)
    _units: np.ndarray | None = field(default=None, repr=False)
    _history: tuple[WeightingStep, ...] = field(default=(), repr=False)
    _dask: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._dask is None and not isinstance(self.frame, pd.DataFrame):
            raise DesignError(message("frame", "a pandas DataFrame", type(self.frame).__name__))
        if self._dask is None:
            object.__setattr__(self, "frame", _private_copy(self.frame))
        check_choice("method", self.method, get_args(RepMethod))
        if self._rep is None and self._factors is None:
            self._init_from_columns()
        r = self.n_replicates
        scale, rscales = _default_scales(self.method, r, self.scale, self.rscales, self.fay_rho)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "rscales", rscales)

    def _init_from_columns(self) -> None:
        if self.weights is None:
            raise DesignError("ReplicateDesign needs weights= (the full-sample weight column).")
        cols = self.repweights
        if isinstance(cols, str):
            pattern = re.compile(cols)
            cols = [c for c in self.frame.columns if pattern.fullmatch(str(c))]
            if not cols:
                raise DesignError(f"repweights pattern {self.repweights!r} matches no column.")
        cols = as_name_list("repweights", list(cols))
        if len(cols) < 2:
            raise DesignError(message("repweights", "at least two replicate-weight columns",
                                      cols))
        require_columns(self.frame.columns, [self.weights, *cols], "Replicate design")
        w = _positive_column(self.frame, self.weights, "weights")
        rep = np.column_stack([self._rep_column(c) for c in cols])
        if not self.combined_weights:
            rep = rep * w[:, None]
        object.__setattr__(self, "repweights", tuple(cols))
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_rep", rep)

    def _rep_column(self, col: str) -> np.ndarray:
        values = self.frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            raise DesignError(f"replicate weight column {col!r} must be numeric; got "
                              f"{values.dtype}.")
        v = values.to_numpy(dtype="float64")
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            rows = np.flatnonzero(bad)[:10].tolist()
            raise DesignError(f"replicate weight column {col!r} has negative, NaN or infinite "
                              f"values in rows {rows}. Replicate weights are >= 0.")
        return v

    # ------------------------------------------------------------------ facts

    @property
    def n(self) -> int:
        """Number of rows (respondents, including any with zero weight).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.n
        800
        """
        return len(self.frame)

    @property
    def n_replicates(self) -> int:
        """Number of replicates ``R``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.n_replicates  # one per PSU in strata with two or more PSUs
        40
        """
        return self._factors.shape[0] if self._factors is not None else self._rep.shape[1]

    @cached_property
    def weight_array(self) -> np.ndarray:
        """Full-sample weights (zero outside the population of interest).

        Raises
        ------
        EstimationError
            The design is on a Dask frame (its weights stay on the workers).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> bool((rep.weight_array == d.weight_array).all())
        True
        """
        if self._dask is not None:
            raise EstimationError("the weights of a Dask design live on the workers; this "
                                  "operation needs them in memory (use a pandas frame).")
        return self._w

    @property
    def history(self) -> tuple[WeightingStep, ...]:
        """The weighting steps applied to this design, in order (:class:`WeightingStep`).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> [h.name for h in sipas.rake(rep, sd.spec.margins).history]
        ['rake']
        """
        return self._history

    @cached_property
    def df(self) -> int:
        """Rank of the replicate weights minus one (R ``degf``), unless ``degf`` was given.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.df
        30
        """
        if self.degf is not None:
            return int(self.degf)
        if self._dask is not None:
            return int(np.linalg.matrix_rank(self._factors)) - 1
        return self.domain_df(self.weight_array > 0)

    def domain_df(self, in_domain: np.ndarray) -> int:
        """Degrees of freedom within a domain: rank of its rows' replicate weights minus one.

        Parameters
        ----------
        in_domain : numpy.ndarray of bool
            One value per row: the rows of the domain.

        Returns
        -------
        int
            ``degf`` when it was given; otherwise the rank of the replicate weights (or
            factors) of the domain's rows (PSUs) minus one; 0 for an empty domain.

        Notes
        -----
        R equivalent: ``degf(subset(repdesign, ...))`` (``qr(repweights)$rank - 1``).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.domain_df((sd.frame["district"] == 1).to_numpy())
        3
        """
        if self.degf is not None:
            return int(self.degf)
        in_domain = np.asarray(in_domain, dtype=bool)
        if self._factors is not None:
            units = np.unique(self._units[in_domain])
            mat = self._factors[:, units]
        else:
            mat = self._rep[in_domain]
        if mat.size == 0:
            return 0
        return int(np.linalg.matrix_rank(mat)) - 1

    @cached_property
    def engine(self) -> ReplicateEngine:
        """The variance engine of this design (one object, so covariances match).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.engine.scale, len(rep.engine.rscales), rep.engine.mse
        (1.0, 40, False)
        """
        return ReplicateEngine(float(self.scale), np.asarray(self.rscales, dtype="float64"),
                               bool(self.mse))

    def replicate_weights(self) -> np.ndarray:
        """The (n x R) replicate analysis weights (expanded from factors if needed).

        Returns
        -------
        numpy.ndarray
            Column ``r`` holds the weights of replicate ``r`` (zero outside a subset).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> rep.replicate_weights().shape
        (800, 40)
        """
        if self._rep is not None:
            return self._rep
        return self._w[:, None] * self._factors.T[self._units]

    def replicate_sums(self, source: RatioSource) -> tuple[np.ndarray, np.ndarray | None]:
        """Numerator and denominator sums of ``source`` in every replicate (R x k).

        Parameters
        ----------
        source : RatioSource
            Numerators, denominators and domains of the rows (see
            :class:`sipas.variance.RatioSource`).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray or None)
            ``sum_i w_ri num_ij`` and ``sum_i w_ri den_ij`` per replicate ``r`` and column
            ``d * J + j``; the second is ``None`` when ``source.den`` is ``None``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> import numpy as np
        >>> from sipas.variance import RatioSource
        >>> src = RatioSource(np.ones((800, 1)), None, np.zeros(800, dtype=np.int64), 1)
        >>> num, den = rep.replicate_sums(src)
        >>> num.shape, den is None
        ((40, 1), True)
        """
        if self._factors is not None:
            n_units = self._factors.shape[1]
            num, den = source.raw(self._w, self._units, n_units)
            return self._factors @ num, None if den is None else self._factors @ den
        rows = sparse.csr_matrix(self._rep.T)
        num = _domain_matrix(source, source.num)
        den = None if source.den is None else _domain_matrix(source, source.den)
        return (np.asarray((rows @ num).todense()),
                None if den is None else np.asarray((rows @ den).todense()))

    def subset(self, mask: np.ndarray | pd.Series) -> ReplicateDesign:
        """Zero weight (in every replicate) outside ``mask``; the design is kept.

        Parameters
        ----------
        mask : numpy.ndarray or pandas.Series of bool
            One value per row. A Series must have the index of ``design.frame``; missing
            values are refused.

        Returns
        -------
        ReplicateDesign
            The same replicates with weight zero outside ``mask`` (R ``subset()``).

        Raises
        ------
        DesignError
            ``mask`` has the wrong length, missing values, or a Series index that differs
            from the frame's.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> urban = rep.subset((sd.frame["urban"] == 1).to_numpy())
        >>> int((urban.weight_array > 0).sum())
        97
        """
        mask = _as_mask(mask, self.n, self.frame.index)
        w = np.where(mask, self._w, 0.0)
        rep = None if self._rep is None else self._rep * mask[:, None]
        if rep is None:
            return replace(self, _w=w)
        return replace(self, _w=w, _rep=rep)

    def with_weights(self, w: np.ndarray, rep: np.ndarray,
                     step: WeightingStep | None = None) -> ReplicateDesign:
        """New full-sample and replicate weights (used by the weighting layer).

        Parameters
        ----------
        w : numpy.ndarray
            Full-sample weights, one per row.
        rep : numpy.ndarray
            Replicate weights, (rows x replicates).
        step : WeightingStep, optional
            Appended to :attr:`history`.

        Returns
        -------
        ReplicateDesign
            A copy whose replicates are stored as weights (no longer as PSU factors).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.replicate(d, "jkn")
        >>> new = rep.with_weights(rep.weight_array, rep.replicate_weights())
        >>> new.n_replicates, new.df
        (40, 30)
        """
        w = np.asarray(w, dtype="float64")
        rep = np.asarray(rep, dtype="float64")
        if w.shape != (self.n,) or rep.shape != (self.n, self.n_replicates) or not (
                np.all(np.isfinite(w)) and np.all(np.isfinite(rep))) or np.any(w < 0) or \
                np.any(rep < 0):
            raise DesignError("internal: weights must be finite, non-negative, one per row "
                              "(and one column per replicate).")
        hist = self._history + ((step,) if step is not None else ())
        return replace(self, _w=w, _rep=rep, _factors=None, _units=None, _history=hist)

    def __repr__(self) -> str:
        text = (f"ReplicateDesign(n={self.n}, method={self.method!r}, "
                f"replicates={self.n_replicates}, scale={self.scale:.6g}, mse={self.mse}, "
                f"df={self.df}")
        if self._history:
            text += ", weighting=" + "→".join(h.name for h in self._history)
        return text + ")"


def _domain_matrix(source: RatioSource, values: np.ndarray) -> sparse.csr_matrix:
    """Sparse (n x k) matrix with ``values[i, j]`` at column ``domain_i * J + j``."""
    n, j = values.shape
    inside = np.flatnonzero(source.domain >= 0)
    rows = np.repeat(inside, j)
    cols = (source.domain[inside][:, None] * j + np.arange(j)[None, :]).ravel()
    data = values[inside].ravel()
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, source.k))


def _default_scales(method: str, r: int, scale: float | None, rscales: Any,
                    rho: float | None) -> tuple[float, np.ndarray]:
    if rscales is None:
        if method == "jkn":
            raise DesignError("method='jkn' needs rscales= ((n_h - 1)/n_h of each replicate's "
                              "stratum, times its fpc); build it with sipas.replicate(design, "
                              "'jkn') or give them.")
        rscales = np.ones(r)
    rscales = np.asarray(rscales, dtype="float64")
    if rscales.shape != (r,) or np.any(rscales < 0) or not np.all(np.isfinite(rscales)):
        raise DesignError(message("rscales", f"{r} non-negative numbers (one per replicate)",
                                  f"{len(rscales)} values"))
    if scale is None:
        if method == "fay" and rho is None:
            raise DesignError("method='fay' needs fay_rho= (e.g. 0.5).")
        scale = {"jk1": (r - 1) / r, "brr": 1 / r, "bootstrap": 1 / (r - 1),
                 "fay": 1 / (r * (1 - (rho or 0)) ** 2), "jkn": 1.0, "other": 1.0}[method]
    if not np.isfinite(scale) or scale <= 0:
        raise DesignError(message("scale", "a positive number", scale))
    return float(scale), rscales


# ---------------------------------------------------------------------- creating replicates

def replicate(design: Design, method: RepMethod = "jkn", *, replicates: int | None = None,
              rng: int | np.random.Generator | None = None, fay_rho: float = 0.5,
              mse: bool = False) -> ReplicateDesign:
    """Create replicate weights from a design (as factors per PSU).

    Parameters
    ----------
    design : Design
        An in-memory or Dask design that has not been calibrated yet.
    method : {"jk1", "jkn", "brr", "fay", "bootstrap"}
        ``jk1`` delete-one-PSU jackknife (unstratified designs); ``jkn`` stratified jackknife;
        ``brr`` balanced repeated replication (2 PSUs per stratum, Sylvester Hadamard matrix
        of the smallest power-of-two order above the number of strata); ``fay`` BRR with
        factors ``2-rho`` and ``rho``; ``bootstrap`` Rao-Wu rescaled bootstrap (``n_h - 1``
        PSUs drawn with replacement in each stratum, factors ``n_h/(n_h-1) x count``; R's
        ``subbootstrap``).
    replicates : int, optional
        Number of bootstrap replicates (default 200).
    rng : int or numpy.random.Generator, optional
        Randomness for the bootstrap (the only source of randomness).
    fay_rho : float
        Fay's rho.
    mse : bool
        Centre the variance at the full-sample estimate.

    Returns
    -------
    ReplicateDesign
        Replicate factors per first-stage PSU with the ``scale`` and ``rscales`` of the
        method; full-sample weights and history as ``design``'s.

    Raises
    ------
    DesignError
        ``design`` is not a :class:`Design` or is already calibrated; an unknown ``method``;
        ``jk1`` on a stratified design; ``brr``/``fay`` without exactly two PSUs per
        stratum; ``replicates`` not an integer >= 2; ``rng`` not a seed or Generator.

    Notes
    -----
    Variance: ``scale * sum_r rscales_r (theta_r - centre)^2``.
    First-stage fpc enters the jackknives as R's ``as.svrepdesign`` does: JK1 scale
    ``(1 - n/N)(n-1)/n``; JKn ``rscales = (1 - n_h/N_h)(n_h-1)/n_h``. The calibration steps
    of a weighted design are not carried over: replicate first, then weight the replicate
    design (every replicate is re-weighted).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> sipas.replicate(d, "jkn").n_replicates
    40
    >>> boot = sipas.replicate(d, "bootstrap", replicates=50, rng=1)
    >>> boot.n_replicates, boot.method
    (50, 'bootstrap')
    """
    check_choice("method", method, ("jk1", "jkn", "brr", "fay", "bootstrap"))
    if replicates is not None and method != "bootstrap":
        raise DesignError(message("replicates", f"None for method={method!r} (its number of "
                                  "replicates follows from the design)", replicates))
    if replicates is not None and not (isinstance(replicates, (int, np.integer))
                                       and not isinstance(replicates, bool) and replicates >= 2):
        raise DesignError(message("replicates", "an integer >= 2 (or None for 200)", replicates))
    if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)):
        raise DesignError(message("rng", "an int seed or a numpy.random.Generator", rng))
    if not isinstance(design, Design):
        raise DesignError(message("design", "a sipas.Design", type(design).__name__))
    if design.calibrated:
        raise DesignError("Create replicates from the design before weighting it, then apply "
                          "the weighting steps to the replicate design (each replicate is "
                          "re-weighted, as in R).")
    s1 = design.stages[0]
    groups, n_h = s1.group, s1.n_in_group
    frac = s1.fraction
    if method == "jk1":
        if s1.n_groups > 1:
            raise DesignError("method='jk1' is for unstratified designs; use 'jkn' for a "
                              "stratified design.")
        u = s1.n_units
        factors = np.full((u, u), u / (u - 1))
        np.fill_diagonal(factors, 0.0)
        scale, rscales = (1 - frac[0]) * (u - 1) / u, np.ones(u)
    elif method == "jkn":
        keep = np.flatnonzero((n_h[groups] > 1) & (frac[groups] < 1 - 1e-7))
        factors = np.ones((len(keep), s1.n_units))
        for r, unit in enumerate(keep):
            same = groups == groups[unit]
            factors[r, same] = n_h[groups[unit]] / (n_h[groups[unit]] - 1)
            factors[r, unit] = 0.0
        g = groups[keep]
        scale, rscales = 1.0, (1 - frac[g]) * (n_h[g] - 1) / n_h[g]
    elif method in ("brr", "fay"):
        factors, scale = _brr(s1, fay_rho if method == "fay" else 0.0)
        rscales = np.ones(factors.shape[0])
    else:
        factors = _bootstrap(s1, replicates or 200, np.random.default_rng(rng))
        scale, rscales = 1.0 / (factors.shape[0] - 1), np.ones(factors.shape[0])
    if design._dask is not None:
        return ReplicateDesign(design.frame, weights=design.weights, method=method,
                               scale=scale, rscales=rscales, mse=mse,
                               fay_rho=fay_rho if method == "fay" else None, _factors=factors,
                               _dask=design._dask)
    return ReplicateDesign(design.frame, weights=design.weights, method=method, scale=scale,
                           rscales=rscales, mse=mse, fay_rho=fay_rho if method == "fay" else None,
                           _w=design.weight_array, _factors=factors, _units=s1.unit)


def _sylvester(order: int) -> np.ndarray:
    h = np.ones((1, 1))
    while h.shape[0] < order:
        h = np.block([[h, h], [h, -h]])
    return h


def _brr(s1: Any, rho: float) -> tuple[np.ndarray, float]:
    if np.any(s1.n_in_group != 2):
        bad = [str(s1.group_labels[g]) for g in np.flatnonzero(s1.n_in_group != 2)[:5]]
        raise DesignError(f"BRR and Fay need exactly 2 PSUs per stratum; stratum(s) {bad} "
                          "differ. Use 'jkn' or 'bootstrap', or pair the PSUs.")
    order = 2
    while order <= s1.n_groups:
        order *= 2
    h = _sylvester(order)[:, 1: s1.n_groups + 1]  # skip the constant column
    factors = np.empty((order, s1.n_units))
    first = np.zeros(s1.n_units, dtype=bool)
    seen = set()
    for unit in range(s1.n_units):
        g = s1.group[unit]
        first[unit] = g not in seen
        seen.add(g)
    sign = np.where(first, 1.0, -1.0)
    plus = (h[:, s1.group] * sign[None, :]) > 0
    factors[:] = np.where(plus, 2.0 - rho, rho)
    return factors, 1.0 / (order * (1 - rho) ** 2)


def _bootstrap(s1: Any, r: int, rng: np.random.Generator) -> np.ndarray:
    if r < 2:
        raise DesignError(message("replicates", "at least 2", r))
    factors = np.zeros((r, s1.n_units))
    order = np.argsort(s1.group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(s1.n_in_group)])
    for g in range(s1.n_groups):
        members = order[starts[g]: starts[g + 1]]
        n = len(members)
        if n < 2:
            factors[:, members] = 1.0
            continue
        draws = rng.integers(0, n, size=(r, n - 1))
        counts = np.zeros((r, n))
        np.add.at(counts, (np.repeat(np.arange(r), n - 1), draws.ravel()), 1.0)
        factors[:, members] = counts * n / (n - 1)
    return factors
