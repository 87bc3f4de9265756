"""Survey designs: the one object that carries strata, clusters, weights and fpc.

A :class:`Design` is immutable. It is validated once, when it is built; weighting functions
return a new design that remembers what they did (for calibration-aware variances and for
provenance); estimators read it and never change it. :class:`ReplicateDesign` carries
replicate weights instead of clusters; :func:`replicate` creates them from a design.

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

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import sparse

from sipas._codes import sorted_codes
from sipas._validate import as_name_list, check_choice, message, require_columns
from sipas.backends import is_dask
from sipas.errors import DesignError, EstimationError

if TYPE_CHECKING:
    from sipas.io import SurveyData

__all__ = ["Design", "LonelyPSU", "Stage", "WeightingStep"]

LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]


@dataclass(frozen=True)
class WeightingStep:
    """What one weighting step did: its name, arguments and summary numbers (provenance).

    Attributes
    ----------
    name : str
        The step: ``nonresponse``, ``poststratify``, ``rake``, ``calibrate``, ``trim``, ...
    options : mapping
        The arguments the step was called with.
    summary : mapping
        What it did: counts, margins before and after, and the distribution of the weights
        after it (``weights``).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> a = sipas.nonresponse(d, "response", [1], nonrespondent=[2, 3], classes="district")
    >>> step = a.history[-1]
    >>> step.name, step.summary["respondents"]
    ('nonresponse', 711)
    """

    name: str
    options: Mapping[str, Any]
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Stage:
    """One sampling stage as the variance engine sees it.

    ``unit`` gives each row's unit code at this stage; ``group`` each unit's group (the
    stratum at stage 1, the parent unit later); ``scale`` the factor that multiplies the
    squared deviations of the unit totals from their group mean (fpc, n/(n-1), and the
    sampling fractions of the earlier stages).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> [(s.n_units, s.n_groups) for s in d.stages]  # communes in districts, users in communes
    [(40, 10), (800, 40)]
    """

    unit: np.ndarray
    n_units: int
    group: np.ndarray
    n_groups: int
    n_in_group: np.ndarray
    scale: np.ndarray
    lonely: np.ndarray
    group_labels: np.ndarray
    certainty: np.ndarray
    fraction: np.ndarray

    @cached_property
    def rows_to_units(self) -> sparse.csr_matrix:
        """Sparse (units x rows) indicator that sums row values into unit totals.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> d.stages[0].rows_to_units.shape
        (40, 800)
        """
        n = len(self.unit)
        return sparse.csr_matrix((np.ones(n), (self.unit, np.arange(n))),
                                 shape=(self.n_units, n))

    @cached_property
    def units_to_groups(self) -> sparse.csr_matrix:
        """Sparse (groups x units) indicator that sums unit totals into group totals.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> d.stages[0].units_to_groups.shape
        (10, 40)
        """
        return sparse.csr_matrix((np.ones(self.n_units), (self.group, np.arange(self.n_units))),
                                 shape=(self.n_groups, self.n_units))


@dataclass(frozen=True, eq=False, repr=False)
class Design:
    """A complex survey design (stratified, multistage, weighted, with fpc).

    Parameters
    ----------
    frame : pandas.DataFrame
        The data, one row per respondent. It is never modified (a shallow copy is kept).
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
        ``adjust`` centres it at the grand mean of PSU totals; ``average`` replaces its
        variance by the average of the other strata. Same numbers as R's
        ``options(survey.lonely.psu=)``.

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
    ``s_g = (1 - n_g/N_g) n_g/(n_g - 1) * prod_{l<k} n_l/N_l`` (R ``svyrecvar``).

    R equivalent: ``svydesign(ids=, strata=, weights=, fpc=, nest=)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd)
    >>> d.df
    30
    """

    frame: pd.DataFrame
    ids: str | Sequence[str] | None = None
    strata: str | None = None
    weights: str | None = None
    probs: str | None = None
    fpc: str | Sequence[str] | None = None
    nest: bool = False
    lonely_psu: LonelyPSU = "fail"
    _w: np.ndarray | None = field(default=None, repr=False)
    _calibration: tuple[Any, ...] = field(default=(), repr=False)
    _history: tuple[WeightingStep, ...] = field(default=(), repr=False)
    _dask: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if is_dask(self.frame):
            self._init_dask()
            return
        if not isinstance(self.frame, pd.DataFrame):
            raise DesignError(message("frame", "a pandas DataFrame", type(self.frame).__name__))
        object.__setattr__(self, "frame", _private_copy(self.frame))
        object.__setattr__(self, "ids", tuple(as_name_list("ids", self.ids)))
        object.__setattr__(self, "fpc", tuple(as_name_list("fpc", self.fpc)))
        check_choice("lonely_psu", self.lonely_psu, get_args(LonelyPSU))
        if not isinstance(self.nest, bool):
            raise DesignError(message("nest", "True or False", self.nest))
        if len(self.frame) == 0:
            raise DesignError("The data frame has no rows: a design needs respondents.")
        dup = self.frame.columns[self.frame.columns.duplicated()].unique().tolist()
        if dup:
            raise DesignError(f"column name(s) {dup} appear more than once in the data frame. "
                              "Rename or drop the duplicates so every column is unique.")
        if len(self.fpc) > max(len(self.ids), 1):
            raise DesignError(message("fpc", f"at most one column per stage ({len(self.ids)})",
                                      list(self.fpc)))
        if self.weights is not None and self.probs is not None:
            raise DesignError("Give weights= or probs=, not both (weights are 1/probs).")
        used = [*self.ids, *(c for c in (self.strata, self.weights, self.probs) if c),
                *self.fpc]
        require_columns(self.frame.columns, used, "Design")
        _ = self.stages  # validate everything now, once
        _ = self.weight_array  # weights too: a bad weight is refused when the design is built

    def _init_dask(self) -> None:
        object.__setattr__(self, "ids", tuple(as_name_list("ids", self.ids)))
        object.__setattr__(self, "fpc", tuple(as_name_list("fpc", self.fpc)))
        check_choice("lonely_psu", self.lonely_psu, get_args(LonelyPSU))
        if self.weights is not None and self.probs is not None:
            raise DesignError("Give weights= or probs=, not both (weights are 1/probs).")
        if self._dask is None:
            from sipas.backends.dask import init_layout

            object.__setattr__(self, "_dask", init_layout(self))

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
                   fpc=list(ds.fpc) or None, nest=ds.nest, lonely_psu=ds.lonely_psu)

    # ------------------------------------------------------------------ basic facts

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
        return len(self.frame)

    @cached_property
    def weight_array(self) -> np.ndarray:
        """Final weights as a float array (zero outside the population of interest).

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
        if self._dask is not None:
            raise EstimationError("the weights of a Dask design live on the workers; this "
                                  "operation needs them in memory (use a pandas frame).")
        if self._w is not None:
            return self._w
        return self._base_weights()

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

    @cached_property
    def df(self) -> int:
        """Design degrees of freedom: number of PSUs minus number of strata (R ``degf``).

        Only PSUs with a positive-weight row count, as in R ``degf(subset(design, ...))``.

        Examples
        --------
        >>> import sipas
        >>> sipas.Design.from_spec(sipas.datasets.load_demo()).df  # 40 communes, 10 districts
        30
        """
        if self._dask is not None:
            return self._dask.shadow.df
        return self.domain_df(self.weight_array > 0)

    def domain_df(self, in_domain: np.ndarray) -> int:
        """Degrees of freedom counted within a domain: PSUs with a positive-weight row in
        it minus the strata of those PSUs (R ``degf(subset(design, ...))``).

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
        s1 = self.stages[0]
        units = np.unique(s1.unit[np.asarray(in_domain, dtype=bool)])
        return int(len(units) - len(np.unique(s1.group[units])))

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

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d.n, int((d.weight_array > 0).sum()), d.df
        (800, 711, 30)
        """
        mask = _as_mask(mask, self.n, self.frame.index)
        w = np.where(mask, self.weight_array, 0.0)
        return self._derive(_w=w)

    def with_weights(self, w: np.ndarray, step: WeightingStep | None = None,
                     calibration: Any = None) -> Design:
        """A new design with final weights ``w`` (used by the weighting layer).

        Parameters
        ----------
        w : numpy.ndarray
            Final weights, one per row, finite and >= 0.
        step : WeightingStep, optional
            Appended to :attr:`history`.
        calibration : Projection or tuple of Projection, optional
            The calibration projection(s) of the step, appended to the chain that makes
            the Taylor variance calibration-aware.

        Returns
        -------
        Design
            A copy with the new weights; the input design is unchanged.

        Raises
        ------
        DesignError
            ``w`` does not have one finite, non-negative value per row.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> d2 = d.with_weights(2 * d.weight_array)
        >>> round(float(d2.weight_array.sum() / d.weight_array.sum()), 6), d2.calibrated
        (2.0, False)
        """
        w = np.asarray(w, dtype="float64")
        if w.shape != (self.n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise DesignError("internal: weights must be finite, non-negative, one per row.")
        cal = self._calibration + ((calibration,) if calibration is not None else ())
        hist = self._history + ((step,) if step is not None else ())
        return self._derive(_w=w, _calibration=cal, _history=hist)

    def _derive(self, **changes: Any) -> Design:
        """A copy with new weights/steps, keeping the validated layout (a weighting step or a
        subset changes neither the frame nor the design columns, so nothing is re-checked
        and the stages are not laid out again)."""
        new = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(new, name, value)
        for cached in ("weight_array", "df"):
            new.__dict__.pop(cached, None)
        return new

    def __repr__(self) -> str:
        s1 = self.stages[0]
        text = (f"Design(n={self.n}, strata={s1.n_groups}, psu={s1.n_units}, "
                f"stages={len(self.ids) or 1}, fpc={'yes' if self.fpc else 'no'}, "
                f"df={self.df}, lonely_psu={self.lonely_psu!r}")
        if self._history:
            text += ", weighting=" + "→".join(h.name for h in self._history)
        return text + ")"

    # ------------------------------------------------------------------ layout

    @cached_property
    def stages(self) -> tuple[Stage, ...]:
        """The stages that enter the variance (validated when the design is built).

        Without fpc only the first stage enters (ultimate cluster); with fpc every stage
        up to the first one without fpc (see :class:`Stage`).

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> len(d.stages), d.stages[0].n_units
        (2, 40)
        """
        if self._dask is not None:
            return self._dask.shadow.stages
        frame, n = self.frame, len(self.frame)
        strata_codes, strata_labels = self._strata_codes()
        ids = list(self.ids) if self.ids else []
        unit_codes = []
        parent = None
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
        object.__setattr__(self, "_fpc_weights", w0 if len(stages) == len(self.fpc) else None)
        return tuple(stages)

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
                "lonely_psu='adjust' (centre at the grand mean), 'average', 'remove' or "
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

    def _base_weights(self) -> np.ndarray:
        if self.weights is not None:
            return _positive_column(self.frame, self.weights, "weights")
        if self.probs is not None:
            p = _positive_column(self.frame, self.probs, "probs")
            if np.any(p > 1):
                raise DesignError(f"probs column {self.probs!r} has values above 1; selection "
                                  "probabilities are in (0, 1].")
            return 1.0 / p
        _ = self.stages
        fpc_w = getattr(self, "_fpc_weights", None)
        if fpc_w is not None:
            return np.asarray(fpc_w, dtype="float64")
        # stacklevel: _base_weights < weight_array < cached_property < __post_init__ <
        # __init__ < the caller that built the design
        warnings.warn("No weights, probs or fpc given: every respondent gets weight 1.",
                      stacklevel=6)
        return np.ones(self.n)


# ---------------------------------------------------------------------- helpers

def _private_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that later changes to ``frame`` cannot reach.

    With copy-on-write (pandas >= 3, or enabled in pandas 2) a shallow copy is enough and
    costs nothing; without it a shallow copy shares the data, so an in-place change of the
    user's frame (``df.loc[i, "w"] = ...``) would change the design: copy the data then.
    """
    cow = int(pd.__version__.split(".")[0]) >= 3 or \
        getattr(pd.options.mode, "copy_on_write", False) is True
    return frame.copy(deep=not cow)


def _as_mask(mask: Any, n: int, index: pd.Index | None = None) -> np.ndarray:
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


def _positive_column(frame: pd.DataFrame, col: str, role: str) -> np.ndarray:
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
