"""Replicate-weight designs: the variance from re-estimating under replicate weights.

A :class:`ReplicateDesign` holds its replicates either as factors per PSU (created by
:func:`sipas.replicate`; they work on a Dask design too) or as one weight per row and
replicate (supplied by the survey producer, or after a weighting step re-weighted every
replicate). It cannot change after it is built.

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas._validate import as_name_list, check_choice, message, require_columns
from sipas.backends.base import Backend, Domains, RowWeights
from sipas.backends.memory import MemoryBackend
from sipas.design.protocol import Reduction, Reweighting, RowInfluence, WeightingStep
from sipas.design.stages import as_mask, positive_column
from sipas.engine.basis import VarBasis
from sipas.engine.sums import Reduced, UnitSums
from sipas.engine.variance import ReplicateEngine
from sipas.errors import DesignError, WeightingError

__all__ = ["RepMethod", "ReplicateDesign", "per_replicate"]

RepMethod = Literal["jk1", "jkn", "brr", "fay", "bootstrap", "other"]


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

    __slots__ = ("_backend", "_cache", "_factors", "_history", "_psu_strata", "_rep",
                 "combined_weights",
                 "degf", "fay_rho", "method", "mse", "repweights", "rscales", "scale",
                 "weights")
    _backend: Backend
    _cache: dict[str, Any]
    #: (R x PSUs) replicate factors, or None when the replicates are weights per row
    _factors: npt.NDArray[np.float64] | None
    _history: tuple[WeightingStep, ...]
    #: the stratum of every PSU when sipas.replicate made the factors (caps domain df)
    _psu_strata: np.ndarray | None
    #: (n x R) replicate weights, or None when the replicates are factors per PSU
    _rep: npt.NDArray[np.float64] | None
    combined_weights: bool
    degf: int | None
    fay_rho: float | None
    method: RepMethod
    mse: bool
    repweights: tuple[str, ...]
    rscales: npt.NDArray[np.float64]
    scale: float
    weights: str | None

    def __init__(self, frame: pd.DataFrame, weights: str | None = None,
                 repweights: Sequence[str] | str = (), method: RepMethod = "other",
                 scale: float | None = None, rscales: Sequence[float] | None = None,
                 mse: bool = False, combined_weights: bool = True, degf: int | None = None,
                 fay_rho: float | None = None) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise DesignError(message("frame", "a pandas DataFrame", type(frame).__name__))
        check_choice("method", method, get_args(RepMethod))
        if weights is None:
            raise DesignError("ReplicateDesign needs weights= (the full-sample weight column).")
        cols = repweights
        if isinstance(cols, str):
            pattern = re.compile(cols)
            cols = [c for c in frame.columns if pattern.fullmatch(str(c))]
            if not cols:
                raise DesignError(f"repweights pattern {repweights!r} matches no column.")
        cols = as_name_list("repweights", list(cols))
        if len(cols) < 2:
            raise DesignError(message("repweights", "at least two replicate-weight columns",
                                      cols))
        require_columns(frame.columns, [weights, *cols], "Replicate design")
        own = frame.copy(deep=False)
        w = positive_column(own, weights, "weights")
        rep = np.column_stack([_rep_column(own, c) for c in cols])
        if not combined_weights:
            rep = rep * w[:, None]
        rep.flags.writeable = False
        scale, scales = _default_scales(method, rep.shape[1], scale, rscales, fay_rho)
        _set(self, _backend=MemoryBackend(own, (np.zeros(len(own), dtype=np.int64),), w),
             _factors=None, _rep=rep, _history=(), _cache={}, _psu_strata=None,
             weights=weights,
             repweights=tuple(cols), method=method, scale=scale, rscales=scales, mse=mse,
             combined_weights=combined_weights, degf=degf, fay_rho=fay_rho)

    @classmethod
    def from_factors(cls, backend: Backend, factors: np.ndarray, *, method: RepMethod,
                     scale: float, rscales: np.ndarray, mse: bool, weights: str | None,
                     fay_rho: float | None, history: tuple[WeightingStep, ...],
                     psu_strata: np.ndarray | None = None) -> ReplicateDesign:
        """Replicates as factors per PSU of the rows of ``backend`` (:func:`sipas.replicate`).

        Parameters
        ----------
        backend : Backend
            The rows and their full-sample weights.
        factors : numpy.ndarray
            (R x PSUs) replicate factors.
        method, scale, rscales, mse, weights, fay_rho, history
            As :class:`ReplicateDesign`.
        psu_strata : numpy.ndarray, optional
            The stratum of each PSU of the design the replicates were made from; with it
            a domain's df is at most its PSUs minus their strata (:meth:`domain_df`).

        Returns
        -------
        ReplicateDesign
        """
        factors = np.array(factors, dtype="float64")
        factors.flags.writeable = False
        scale, scales = _default_scales(method, factors.shape[0], scale, rscales, fay_rho)
        new = object.__new__(cls)
        _set(new, _backend=backend, _factors=factors, _rep=None, _history=history, _cache={},
             _psu_strata=None if psu_strata is None else np.asarray(psu_strata),
             weights=weights, repweights=(), method=method, scale=scale, rscales=scales,
             mse=mse, combined_weights=True, degf=None, fay_rho=fay_rho)
        return new

    #: the variance comes from replicate weights (R's svrep methods differ from the
    #: linearization ones in small ways, e.g. the dispersion of a glm)
    replicated = True

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a ReplicateDesign cannot change after it is built (setting "
                             f"{name!r}); weighting and subset() return a new design.")

    def _derived(self, **changes: Any) -> ReplicateDesign:
        new = object.__new__(ReplicateDesign)
        for name in ReplicateDesign.__slots__:
            object.__setattr__(new, name, changes.get(name, getattr(self, name)))
        object.__setattr__(new, "_cache", {})
        return new

    # ------------------------------------------------------------------ facts

    @property
    def backend(self) -> Backend:
        """Where the rows are (:mod:`sipas.backends`)."""
        return self._backend

    @property
    def frame(self) -> Any:
        """A copy of the data; changing it does not change the design."""
        return self._backend.frame()

    @property
    def n(self) -> int:
        """Number of rows (respondents, including any with zero weight).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.replicate(d, "jkn").n
        800
        """
        if "n" not in self._cache:
            self._cache["n"] = len(self._backend.frame())
        return int(self._cache["n"])

    @property
    def n_replicates(self) -> int:
        """Number of replicates ``R``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.replicate(d, "jkn").n_replicates  # one per PSU in strata with 2+ PSUs
        40
        """
        if self._factors is not None:
            return self._factors.shape[0]
        return self._row_replicates().shape[1]

    @property
    def weight_array(self) -> npt.NDArray[np.float64]:
        """Full-sample weights, read-only (zero outside the population of interest).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> bool((sipas.replicate(d, "jkn").weight_array == d.weight_array).all())
        True
        """
        return self._backend.weight_array()

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

    @property
    def df(self) -> int:
        """Rank of the replicate weights minus one (R ``degf``), unless ``degf`` was given.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sipas.replicate(d, "jkn").df
        30
        """
        if self.degf is not None:
            return int(self.degf)
        if not self._backend.in_memory:
            return self._capped(int(np.linalg.matrix_rank(self._psu_factors())) - 1,
                                np.arange(self._psu_factors().shape[1]))
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
        >>> sipas.replicate(d, "jkn").domain_df((sd.frame["district"] == 1).to_numpy())
        3
        """
        if self.degf is not None:
            return int(self.degf)
        in_domain = np.asarray(in_domain, dtype=bool)
        units = np.unique(self._backend.rows().units(0)[in_domain])
        if self._factors is not None:
            mat = self._factors[:, units]
        else:
            mat = self._row_replicates()[in_domain]
        return self._capped(_rank(mat) - 1 if mat.size else 0, units)

    def _capped(self, rank_df: int, units: np.ndarray) -> int:
        """R's rank df, but at most the domain's PSUs minus their strata when the PSUs are
        known: re-weighting gives every row its own replicate weights, so their rank grows
        with the rows, not with the PSUs that carry the information."""
        if self._psu_strata is None or not len(units):
            return rank_df
        return min(rank_df, len(units) - len(np.unique(self._psu_strata[units])))

    @property
    def engine(self) -> ReplicateEngine:
        """The variance engine of this design (one object, so covariances match).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> eng = sipas.replicate(d, "jkn").engine
        >>> eng.scale, len(eng.rscales), eng.mse
        (1.0, 40, False)
        """
        if "engine" not in self._cache:
            self._cache["engine"] = ReplicateEngine(float(self.scale),
                                                    np.asarray(self.rscales, dtype="float64"),
                                                    bool(self.mse))
        return self._cache["engine"]

    def replicate_weights(self) -> npt.NDArray[np.float64]:
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
        >>> sipas.replicate(d, "jkn").replicate_weights().shape
        (800, 40)
        """
        if self._rep is not None:
            return self._rep
        rows = self._backend.rows()
        return rows.weights()[:, None] * self._psu_factors().T[rows.units(0)]

    def _psu_factors(self) -> npt.NDArray[np.float64]:
        if self._factors is None:
            raise DesignError("This ReplicateDesign holds replicate weights per row, not "
                              "factors per PSU.")
        return self._factors

    def _row_replicates(self) -> npt.NDArray[np.float64]:
        if self._rep is None:
            raise DesignError("This ReplicateDesign holds factors per PSU, not replicate "
                              "weights per row.")
        return self._rep

    def __repr__(self) -> str:
        text = (f"ReplicateDesign(n={self.n}, method={self.method!r}, "
                f"replicates={self.n_replicates}, scale={self.scale:.6g}, mse={self.mse}, "
                f"df={self.df}, backend={self._backend.kind}")
        if self._history:
            text += ", weighting=" + "→".join(h.name for h in self._history)
        return text + ")"

    # ------------------------------------------------------------------ new designs

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
        >>> urban = sipas.replicate(d, "jkn").subset((sd.frame["urban"] == 1).to_numpy())
        >>> int((urban.weight_array > 0).sum())
        97
        """
        w = self.weight_array
        mask = as_mask(mask, len(w), self._backend.frame().index)
        backend = self._backend.apply(RowWeights(np.where(mask, w, 0.0)))
        rep = None if self._rep is None else _frozen(self._rep * mask[:, None])
        return self._derived(_backend=backend, _rep=rep)

    def reweight(self, change: Reweighting) -> ReplicateDesign:
        """A new design with a weighting step applied to the full sample and to every
        replicate (R's behaviour); the replicates are then kept per row.

        Parameters
        ----------
        change : Reweighting
            The step (its ``replicate`` function re-weights one replicate).

        Returns
        -------
        ReplicateDesign

        Raises
        ------
        WeightingError
            The step cannot re-weight replicates, the design is on a Dask frame, or a
            replicate fails (named).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = sipas.rake(sipas.replicate(d, "jkn"), sd.spec.margins)
        >>> rep.n_replicates, rep.history[-1].name
        (40, 'rake')
        """
        if not self._backend.in_memory:
            raise WeightingError("weighting a Dask replicate design is not available: weight the "
                                 "Dask design (Taylor variance, calibration-aware), or replicate "
                                 "and weight in memory.")
        if change.replicate is None:
            raise WeightingError(f"the {change.step.name!r} step cannot re-weight replicates; "
                                 "apply it before creating the replicates.")
        rep = _frozen(per_replicate(self.replicate_weights(), change.replicate))
        return self._derived(_backend=self._backend.apply(change.factor), _rep=rep,
                             _factors=None, _history=(*self._history, change.step))

    def unweighted(self) -> ReplicateDesign:
        """Refused: replicate weights have no unweighted counterpart."""
        raise DesignError("unweighted() needs a Taylor design (sipas.Design).")

    def with_columns(self, columns: Mapping[str, Any]) -> ReplicateDesign:
        """The same design with columns added to its data."""
        return self._derived(_backend=self._backend.with_columns(columns))

    # ------------------------------------------------------------------ for estimators

    def domains(self, by: str | Sequence[str] | None) -> Domains:
        """The domains of ``by``: labels (sorted observed combinations) and row codes."""
        cols = as_name_list("by", by)
        require_columns(self._backend.columns, cols, "by")
        return self._backend.domains(cols)

    def reduction(self) -> Reduction:
        """Sums per PSU (replicate factors), or per replicate weight (replicates per row)."""
        if self._factors is not None:
            return Reduction(0, self._factors.shape[1])
        return Reduction(None, 1, replicates=self._rep)

    def variance_basis(self, sums: Reduced, est: np.ndarray, denom: np.ndarray | None,
                       again: RowInfluence | None = None) -> VarBasis:
        """The replicate estimates and the replicate engine (``again`` is not needed: a
        replicate design never defers its sums)."""
        u = sums.units
        if self._factors is not None:
            rnum = np.asarray(self._factors @ u.unit_matrix(u.wnum))
            rden = None if u.wden is None else np.asarray(self._factors @ u.unit_matrix(u.wden))
        else:
            if sums.replicates is None:
                raise DesignError("these sums were not reduced with this design's replicate "
                                  "weights (use design.reduction()).")
            rnum, rden = sums.replicates
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = rnum if rden is None else rnum / rden
        return VarBasis(reps, est, self.engine)

    def domain_dfs(self, sums: UnitSums, domains: Domains) -> np.ndarray:
        """The rank of each domain's replicate weights minus one (or ``degf``)."""
        d = sums.n_domains
        if self.degf is not None:
            return np.full(d, float(self.degf))
        if self._factors is not None:
            present = sums.prow > 0
            units, doms = sums.key_unit()[present], sums.key_domain()[present]
            return np.array([self._capped(_rank(self._factors[:, units[doms == k]]) - 1,
                                          np.unique(units[doms == k])) for k in range(d)],
                            dtype=float)
        rows = self._backend.rows()
        codes, pos = domains.codes(rows), rows.weights() > 0
        return np.array([self.domain_df(pos & (codes == k)) for k in range(d)], dtype=float)


def _set(obj: ReplicateDesign, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype="float64")
    a.flags.writeable = False
    return a


def _rank(mat: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(mat)) if mat.size else 0


def _rep_column(frame: pd.DataFrame, col: str) -> np.ndarray:
    values = frame[col]
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


def per_replicate(reps: np.ndarray, reweight: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``reweight`` to every column of the (n x R) replicate weights.

    A failure in one replicate names it (a jackknife replicate can lose the only respondents
    of a cell or class even when the full sample has them).

    Examples
    --------
    >>> import numpy as np
    >>> float(per_replicate(np.ones((2, 3)), lambda w: 2 * w).sum())
    12.0
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


