"""The linearization design: strata, clusters, weights and fpc in one object.

A :class:`Design` cannot change after it is built. It is validated once; it keeps its own
copy of the data (copy-on-write: free until someone writes, and a write to the user's frame
or to ``design.frame`` never reaches the design); weighting returns a new design that
remembers the step (for calibration-aware variances and for provenance).

Examples
--------
>>> import pandas as pd, sipas
>>> df = pd.DataFrame({"h": [1, 1, 2, 2], "psu": [1, 2, 3, 4], "w": [10., 10, 20, 20],
...                    "y": [1., 2, 3, 4]})
>>> d = sipas.Design(df, ids="psu", strata="h", weights="w")
>>> d.df, d.n
(2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas._validate import as_name_list, check_choice, message, plain, require_columns
from sipas.backends.base import Backend, Domains, RowWeights
from sipas.backends.dask import is_dask
from sipas.design.protocol import Reduction, Reweighting, RowInfluence, WeightingStep
from sipas.design.stages import (
    DesignColumns,
    LonelyPSU,
    as_mask,
    open_dask,
    open_memory,
)
from sipas.design.taylor import Linearization
from sipas.engine.basis import VarBasis
from sipas.engine.calibration import (
    Projection,
)
from sipas.engine.sums import Reduced, UnitSums
from sipas.engine.variance import Stage, TaylorEngine
from sipas.errors import DesignError

if TYPE_CHECKING:
    from sipas.io import SurveyData

__all__ = ["Design"]


class Design:
    """A complex survey design (stratified, multistage, weighted, with fpc).

    Parameters
    ----------
    frame : pandas.DataFrame or dask.dataframe.DataFrame
        The data, one row per respondent. It is never modified; the design keeps a copy.
    ids : str or list of str, optional
        Cluster columns, one per stage (``["commune", "household"]``). ``None`` means every
        row is its own primary sampling unit.
    strata : str, optional
        Stratum column of the first stage.
    weights : str, optional
        Sampling-weight column (positive, finite).
    probs : str, optional
        Selection-probability column, instead of ``weights`` (weights = 1 / probs).
    fpc : str or list of str, optional
        Finite population correction per stage: population sizes (number of units in the
        stratum, or in the parent unit at later stages) or sampling fractions (all <= 1).
        With fpc the variance follows R's multistage formula; without, only the first stage
        enters (ultimate cluster, with replacement). When fpc is given for fewer stages than
        ``ids``, the first stage without fpc is treated as sampled with replacement and the
        stages after it are not used (Stata's convention).
        Without weights or probs, the weights are derived from the fpc (R's rule).
    nest : bool
        PSU ids are only unique within strata (relabel them as stratum x id).
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        What to do with a stratum that has a single PSU: ``fail`` (the default) raises a
        :class:`DesignError` naming it; ``remove`` and ``certainty`` give it no variance;
        ``adjust`` centres its total at zero; ``average`` replaces its variance by the
        average of the other strata, counting for each domain only the strata with a PSU
        in it. Same numbers as R ``survey`` 4.1-1's ``options(survey.lonely.psu=)``, at
        every stage.
    lonely_domain : bool
        R's ``options(survey.adjust.domain.lonely=TRUE)``: under ``adjust`` and ``average``,
        a stratum with several PSUs of which only one has a row in the domain is lonely
        for that domain's estimates.
    lonely_corrected : bool
        The corrected rules where R 4.1-1 is wrong (docs/intervals.md, "Strata with one
        PSU"): ``adjust`` centres at the mean of all PSU totals (as R >= 4.3 does), and
        ``average`` at a later stage averages over all groups of that stage (R: ``NaN``).

    Raises
    ------
    DesignError
        ``frame`` is not a DataFrame, has no rows or duplicate column names; a named column
        is absent; both ``weights`` and ``probs``; more fpc columns than stages; empty
        strata or cluster ids; PSU ids in several strata without ``nest``; a single PSU; a
        stratum with one PSU under ``lonely_psu="fail"``; an fpc that is not numeric, not
        positive, varies within a stratum, mixes fractions and sizes, or is below the
        number of sampled units; weights or probs that are not positive and finite (probs
        above 1). Every message names the column and the first rows.

    Warns
    -----
    UserWarning
        No weights, probs or fpc: every respondent gets weight 1.

    Notes
    -----
    The variance of a total of influence values ``z`` is, at each stage ``k`` that enters,
    ``sum_g s_g sum_{u in g} (t_u - mean_g t)^2`` with ``t_u`` the unit totals of ``z``,
    ``s_g = (1 - n_g/N_g) n_g/(n_g - 1) * prod_{l<k} n_l/N_l`` (R ``svyrecvar``). A Dask
    frame keeps the rows on the workers (:mod:`sipas.backends.dask`); it needs cluster ids.

    R equivalent: ``svydesign(ids=, strata=, weights=, fpc=, nest=)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd)
    >>> d.df
    30
    """

    __slots__ = ("_backend", "_cache", "_calibration", "_columns", "_history", "_probs",
                 "_stages", "_weights")
    _backend: Backend
    _cache: dict[str, Any]
    _calibration: tuple[Projection, ...]
    _columns: DesignColumns
    _history: tuple[WeightingStep, ...]
    _probs: str | None
    _stages: tuple[Stage, ...]
    _weights: str | None

    def __init__(self, frame: Any, ids: str | Sequence[str] | None = None,
                 strata: str | None = None, weights: str | None = None,
                 probs: str | None = None, fpc: str | Sequence[str] | None = None,
                 nest: bool = False, lonely_psu: LonelyPSU = "fail",
                 lonely_domain: bool = False, lonely_corrected: bool = False) -> None:
        columns = DesignColumns(tuple(as_name_list("ids", ids)), strata,
                                tuple(as_name_list("fpc", fpc)), nest, lonely_psu,
                                lonely_domain, lonely_corrected)
        check_choice("lonely_psu", lonely_psu, get_args(LonelyPSU))
        for name, flag in (("nest", nest), ("lonely_domain", lonely_domain),
                           ("lonely_corrected", lonely_corrected)):
            if not isinstance(flag, bool):
                raise DesignError(message(name, "True or False", flag))
        if weights is not None and probs is not None:
            raise DesignError("Give weights= or probs=, not both (weights are 1/probs).")
        if len(columns.fpc) > max(len(columns.ids), 1):
            raise DesignError(message("fpc", f"at most one column per stage "
                                      f"({len(columns.ids)})", list(columns.fpc)))
        backend: Backend
        if is_dask(frame):
            backend, stages = open_dask(frame, columns, weights, probs)
        else:
            backend, stages = open_memory(frame, columns, weights, probs)
        _set(self, _backend=backend, _stages=stages, _columns=columns, _weights=weights,
             _probs=probs, _calibration=(), _history=(), _cache={})

    #: the variance comes from replicate weights (R's svrep methods differ from the
    #: linearization ones in small ways, e.g. the dispersion of a glm)
    replicated = False

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Design cannot change after it is built (setting {name!r}); "
                             "weighting and subset() return a new design.")

    def _derived(self, **changes: Any) -> Design:
        """A copy with a new back end, chain or history (the layout is kept as it is)."""
        new = object.__new__(Design)
        for name in Design.__slots__:
            object.__setattr__(new, name, changes.get(name, getattr(self, name)))
        object.__setattr__(new, "_cache", {})
        return new

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_spec(cls, data: SurveyData, frame: pd.DataFrame | None = None) -> Design:
        """Build the design the spec's ``[design]`` table describes.

        Parameters
        ----------
        data : SurveyData
            Data read with a spec (:func:`sipas.read_survey` with ``spec=``).
        frame : DataFrame, optional
            Use this frame instead of ``data.frame`` (e.g. after adding columns).

        Returns
        -------
        Design
            ``ids``, ``strata``, ``weights``/``probs``, ``fpc``, ``nest`` and ``lonely_psu``
            as the spec's ``[design]`` table gives them.

        Raises
        ------
        DesignError
            ``data`` has no spec, or the design the spec describes is invalid (see
            :class:`Design`).

        Notes
        -----
        R equivalent: ``svydesign(ids=~commune+resp_id, strata=~district, weights=~w_design,
        fpc=~N_communes+N_users, data=)`` written from the spec.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> d.ids, d.strata, d.weights
        (('commune', 'resp_id'), 'district', 'w_design')
        """
        if data.spec is None:
            raise DesignError("This SurveyData has no spec; read it with "
                              "read_survey(path, spec=...) or build sipas.Design(...) directly.")
        ds = data.spec.design
        return cls(data.frame if frame is None else frame, ids=list(ds.ids) or None,
                   strata=ds.strata, weights=ds.weights, probs=ds.probs,
                   fpc=list(ds.fpc) or None, nest=ds.nest, lonely_psu=ds.lonely_psu,
                   lonely_domain=ds.lonely_domain, lonely_corrected=ds.lonely_corrected)

    # ------------------------------------------------------------------ what it was built from

    @property
    def ids(self) -> tuple[str, ...]:
        """Cluster columns, one per stage."""
        return self._columns.ids

    @property
    def strata(self) -> str | None:
        """Stratum column."""
        return self._columns.strata

    @property
    def weights(self) -> str | None:
        """Weight column."""
        return self._weights

    @property
    def probs(self) -> str | None:
        """Selection-probability column."""
        return self._probs

    @property
    def fpc(self) -> tuple[str, ...]:
        """fpc columns, one per stage that has one."""
        return self._columns.fpc

    @property
    def nest(self) -> bool:
        """Whether PSU ids are relabelled within strata."""
        return self._columns.nest

    @property
    def lonely_psu(self) -> str:
        """The rule for strata with a single PSU."""
        return self._columns.lonely_psu

    @property
    def lonely_domain(self) -> bool:
        """Whether the lonely-PSU rule also acts on a stratum with one PSU in a domain."""
        return self._columns.lonely_domain

    @property
    def lonely_corrected(self) -> bool:
        """Whether the corrected lonely-PSU rules are used instead of R 4.1-1's."""
        return self._columns.lonely_corrected

    # ------------------------------------------------------------------ facts

    @property
    def backend(self) -> Backend:
        """Where the rows are (:mod:`sipas.backends`).

        Examples
        --------
        >>> import sipas
        >>> sipas.Design.from_spec(sipas.datasets.load_demo()).backend.kind
        'memory'
        """
        return self._backend

    @property
    def frame(self) -> Any:
        """A copy of the data; changing it does not change the design.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> f = d.frame
        >>> f.loc[0, "p03"] = 100
        >>> float(d.frame.loc[0, "p03"]) != 100
        True
        """
        return self._backend.frame()

    @property
    def n(self) -> int:
        """Number of rows (respondents, including any with zero weight).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d.n, int((d.weight_array > 0).sum())
        (800, 711)
        """
        if "n" not in self._cache:
            self._cache["n"] = len(self._backend.frame())
        return int(self._cache["n"])

    @property
    def weight_array(self) -> npt.NDArray[np.float64]:
        """Final weights, one per row, read-only (zero outside the population of interest).

        Raises
        ------
        EstimationError
            The design is on a Dask frame (its weights stay on the workers).

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> round(float(d.weight_array.sum()))
        74844
        """
        return self._backend.weight_array()

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages that enter the variance (:class:`~sipas.engine.variance.Stage`).

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> len(d.stages), d.stages[0].n_units
        (2, 40)
        """
        return self._stages

    @property
    def history(self) -> tuple[WeightingStep, ...]:
        """The weighting steps applied to this design, in order (:class:`WeightingStep`).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> [h.name for h in sipas.rake(d, sd.spec.margins).history]
        ['rake']
        """
        return self._history

    @property
    def calibration(self) -> tuple[Projection, ...]:
        """The calibration projections of the weighting steps, in the order the variance
        applies them (raking repeats its margins).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> len(sipas.rake(d, sd.spec.margins).calibration) > 0
        True
        """
        return self._calibration

    @property
    def calibrated(self) -> bool:
        """Whether a calibration step (post-stratification, raking, calibration) was applied.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d.calibrated, sipas.rake(d, sd.spec.margins).calibrated
        (False, True)
        """
        return bool(self._calibration)

    @property
    def engine(self) -> TaylorEngine:
        """The linearization engine (one object per design, so covariances match)."""
        if "engine" not in self._cache:
            self._cache["engine"] = TaylorEngine(self._stages, self.lonely_psu,
                                                 self.lonely_domain, self.lonely_corrected)
        return self._cache["engine"]

    @property
    def df(self) -> int:
        """Design degrees of freedom: number of PSUs minus number of strata (R ``degf``).

        Only PSUs with a positive-weight row count, as in R ``degf(subset(design, ...))``.

        Examples
        --------
        >>> import sipas
        >>> sipas.Design.from_spec(sipas.datasets.load_demo()).df  # 40 communes, 10 districts
        30
        """
        if "df" not in self._cache:
            s1 = self._stages[0]
            if self._backend.in_memory:
                units = np.unique(s1.unit[self.weight_array > 0])
            else:  # weights are checked positive; cell steps keep every unit's rows
                units = np.arange(s1.n_units)
            self._cache["df"] = int(len(units) - len(np.unique(s1.group[units])))
        return int(self._cache["df"])

    def domain_df(self, in_domain: np.ndarray) -> int:
        """Degrees of freedom counted within a domain: PSUs with a row in it minus the
        strata of those PSUs (R ``degf(subset(design, ...))``).

        Parameters
        ----------
        in_domain : numpy.ndarray of bool
            One value per row: the rows of the domain (pass ``weight_array > 0`` too, if
            zero-weight rows must not count).

        Returns
        -------
        int
            ``#PSUs(domain) - #strata(those PSUs)``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d.domain_df((sd.frame["district"] == 1).to_numpy() & (d.weight_array > 0))
        3
        """
        s1 = self._stages[0]
        units = np.unique(s1.unit[np.asarray(in_domain, dtype=bool)])
        return int(len(units) - len(np.unique(s1.group[units])))

    def __repr__(self) -> str:
        s1 = self._stages[0]
        text = (f"Design(n={self.n}, strata={s1.n_groups}, psu={s1.n_units}, "
                f"stages={len(self.ids) or 1}, fpc={'yes' if self.fpc else 'no'}, "
                f"df={self.df}, lonely_psu={self.lonely_psu!r}, backend={self._backend.kind}")
        if self._history:
            text += ", weighting=" + "→".join(h.name for h in self._history)
        return text + ")"

    # ------------------------------------------------------------------ new designs

    def subset(self, mask: np.ndarray | pd.Series) -> Design:
        """Restrict estimation to the rows where ``mask`` is true, keeping the design.

        Rows outside get weight zero but stay, so strata and PSUs stay in the variance
        (R ``subset()``). Use it for a domain; use ``by=`` in estimators for many domains.

        Parameters
        ----------
        mask : numpy.ndarray or pandas.Series of bool
            One value per row. A Series must have the index of ``design.frame``; missing
            values are refused.

        Returns
        -------
        Design
            The same design with weight zero outside ``mask`` (calibration and history
            kept).

        Raises
        ------
        DesignError
            ``mask`` has the wrong length, missing values, or a Series index that differs
            from the frame's.
        EstimationError
            The design is on a Dask frame.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d.n, int((d.weight_array > 0).sum()), d.df
        (800, 711, 30)
        """
        w = self.weight_array
        mask = as_mask(mask, len(w), self._backend.frame().index)
        return self._derived(_backend=self._backend.apply(RowWeights(np.where(mask, w, 0.0))))

    def reweight(self, change: Reweighting) -> Design:
        """A new design with a weighting step applied (used by the weighting layer).

        Parameters
        ----------
        change : Reweighting
            The step: its new weights, calibration projections and history record.

        Returns
        -------
        Design
            A copy with the new weights; the input design is unchanged.

        Raises
        ------
        DesignError
            Row weights that are not one finite, non-negative value per row.

        Examples
        --------
        >>> import sipas
        >>> from sipas.design.protocol import Reweighting
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d2 = d.reweight(Reweighting.to(2 * d.weight_array))
        >>> round(float(d2.weight_array.sum() / d.weight_array.sum()), 6), d2.calibrated
        (2.0, False)
        """
        factor = change.factor
        if isinstance(factor, RowWeights):
            w = np.asarray(factor.values, dtype="float64")
            if w.shape != (self.n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise DesignError(message("weights", f"{self.n} finite, non-negative numbers "
                                          "(one per row)", f"shape {w.shape}"))
        return self._derived(_backend=self._backend.apply(factor),
                             _calibration=(*self._calibration, *change.projections),
                             _history=(*self._history, change.step))

    def unweighted(self) -> Design:
        """Weight 1 for every row with positive weight, without calibration: the same strata
        and clusters stay in the variance (R ``svydesign(..., weights=~1)``).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> sorted(set(d.unweighted().weight_array.tolist()))
        [0.0, 1.0]
        """
        w = (self.weight_array > 0).astype("float64")
        return self._derived(_backend=self._backend.apply(RowWeights(w)), _calibration=(),
                             _history=(*self._history, WeightingStep("unweighted", {})))

    def with_columns(self, columns: Mapping[str, Any]) -> Design:
        """The same design (layout, weights, steps) with columns added to its data.

        Parameters
        ----------
        columns : mapping
            Column name -> values (one per row).

        Returns
        -------
        Design

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> "one" in d.with_columns({"one": 1.0}).frame.columns
        True
        """
        return self._derived(_backend=self._backend.with_columns(columns))

    # ------------------------------------------------------------------ for estimators

    def domains(self, by: str | Sequence[str] | None) -> Domains:
        """The domains of ``by``: labels (sorted observed combinations) and row codes.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> len(d.domains("district")), len(d.domains(None))
        (10, 1)
        """
        cols = as_name_list("by", by)
        require_columns(self._backend.columns, cols, "by")
        self._check_nested(cols)
        return self._backend.domains(cols)

    def _check_nested(self, cols: list[str]) -> None:
        """A cluster id that restarts within strata names no domain without its stratum."""
        strata = self._columns.strata
        if not self.nest or strata is None or strata in cols:
            return
        for col in (c for c in cols if c in self._columns.ids):
            pairs = self._backend.distinct([strata, col])
            if pairs[col].duplicated().any():
                raise DesignError(
                    f"by column {col!r} holds cluster codes that restart within each "
                    f"{strata!r} (the design has nest=True): code "
                    f"{plain(pairs.loc[pairs[col].duplicated(), col].iloc[0])} names "
                    f"different clusters in different strata. Use by=[{strata!r}, {col!r}].")

    def reduction(self) -> Reduction:
        """Sums per final-stage unit, and per level of every calibration projection."""
        return self._taylor().reduction()

    def variance_basis(self, sums: Reduced, est: np.ndarray, denom: np.ndarray | None,
                       again: RowInfluence | None = None) -> VarBasis:
        """Influence totals per final unit (calibration-aware) and the Taylor engine."""
        return self._taylor().variance_basis(sums, est, denom, again)

    def domain_dfs(self, sums: UnitSums, domains: Domains) -> np.ndarray:
        """Design df counted within each domain: PSUs with a positive-weight row in the
        domain minus the strata of those PSUs (R ``degf(subset(design, ...))``)."""
        return self._taylor().domain_dfs(sums)

    def _taylor(self) -> Linearization:
        if "taylor" not in self._cache:
            self._cache["taylor"] = Linearization(self._backend, self._stages,
                                                  self._calibration, self.engine)
        return self._cache["taylor"]


def _set(obj: Design, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)
