"""The protocol every design implements, and the records weighting leaves on a design.

Estimators and weighting steps call a design through :class:`SurveyDesign` only: its back end
(the rows), its domains, a subset, a re-weighting, what a reduction must sum, and the
variance basis of the sums. :class:`~sipas.design.design.Design` (linearization) and
:class:`~sipas.design.replicate.ReplicateDesign` (replicate weights) answer each in their own
way; nothing above asks which one it has.

Examples
--------
>>> import sipas
>>> is_design(sipas.Design.from_spec(sipas.datasets.load_demo())), is_design("a frame")
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from sipas.backends.base import Backend, Domains, RowWeights, WeightFactor
from sipas.engine.basis import VarBasis
from sipas.engine.calibration import Projection
from sipas.engine.rows import Kernel
from sipas.engine.sums import Reduced, UnitSums

__all__ = ["InfluenceRows", "Reduction", "Reweighting", "RowInfluence", "SurveyDesign",
           "WeightingStep", "is_design"]


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
class Reweighting:
    """A weighting step as a design applies it.

    Attributes
    ----------
    step : WeightingStep
        The record appended to the design's history.
    factor : CellFactor or RowWeights
        The new full-sample weights (a factor per cell, or a weight per row).
    projections : tuple of Projection
        The step's calibration projections, in the order the variance applies them (a
        linearization design keeps them; a replicate design re-weights its replicates
        instead).
    replicate : callable, optional
        Re-weights the weights of one replicate (an array of row weights); ``None`` when the
        step cannot be applied to replicates.

    Examples
    --------
    >>> import numpy as np
    >>> change = Reweighting.to(np.ones(3), "given")
    >>> change.step.name, change.factor.values.tolist()
    ('given', [1.0, 1.0, 1.0])
    """

    step: WeightingStep
    factor: WeightFactor
    projections: tuple[Projection, ...] = ()
    replicate: Callable[[np.ndarray], np.ndarray] | None = None

    @classmethod
    def to(cls, weights: np.ndarray, name: str = "weights") -> Reweighting:
        """Replace the weights by ``weights`` (rows in memory), with no calibration.

        Parameters
        ----------
        weights : numpy.ndarray
            One finite, non-negative weight per row.
        name : str
            The history record's name.

        Returns
        -------
        Reweighting
        """
        w = np.asarray(weights, dtype="float64")
        return cls(WeightingStep(name, {}), RowWeights(w))


@dataclass(frozen=True, eq=False)
class Reduction:
    """What a reduction of a design's rows must sum, besides the estimates' own sums.

    Attributes
    ----------
    stage : int or None
        The sampling stage whose units key the sums (-1: final, 0: PSU; None: one unit).
    n_units : int
        Number of units at that stage.
    groups : tuple of tuple of Projection
        The calibration projections, grouped by weighting step (their sums per level).
    replicates : numpy.ndarray or None
        (rows x R) replicate weights of an in-memory replicate design kept per row.
    defer : bool
        Units of one row each (an element design) keep domain totals only; the variance
        basis reads the rows again (:class:`RowInfluence`) for the influence values.
    """

    stage: int | None
    n_units: int
    groups: tuple[tuple[Projection, ...], ...] = ()
    replicates: np.ndarray | None = None
    defer: bool = False


#: what a second pass gives: per-unit values, their support (or None), and their sums per
#: (group, domain) when asked and made (or None)
InfluenceRows = tuple[np.ndarray, np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]


class RowInfluence(Protocol):
    """Reads the rows again for the influence values of units of one row each."""

    def __call__(self, ratio: np.ndarray, scale: np.ndarray, support: bool,
                 moments: tuple[np.ndarray, int, np.ndarray] | None = None
                 ) -> Kernel[InfluenceRows]:
        """A kernel giving, per final unit in unit order, the (units x J) influence values
        ``(w num - ratio w den) scale`` of its row (ratio and scale (D x J), by the row's
        domain); with ``support``, whether the row is a positive-weight respondent; with
        ``moments`` = (group of each unit, number of groups, scale of each unit), the sums
        and scaled squares of :meth:`sipas.engine.domainrows.DomainRows.moments`, made as
        the values are (None when it could not)."""
        ...


class SurveyDesign(Protocol):
    """What estimators and weighting steps ask of a design (see the module docstring)."""

    @property
    def backend(self) -> Backend:
        """Where the rows are."""
        ...

    @property
    def replicated(self) -> bool:
        """Whether the variance comes from replicate weights."""
        ...

    @property
    def history(self) -> tuple[WeightingStep, ...]:
        """The weighting steps applied, in order."""
        ...

    @property
    def df(self) -> int:
        """Design degrees of freedom."""
        ...

    @property
    def frame(self) -> Any:
        """A copy of the data."""
        ...

    @property
    def weight_array(self) -> npt.NDArray[np.float64]:
        """Final weights (in-memory designs)."""
        ...

    def domains(self, by: str | Sequence[str] | None) -> Domains:
        """The domains of ``by`` (one domain without)."""
        ...

    def subset(self, mask: np.ndarray | pd.Series) -> Self:
        """Weight zero outside ``mask``; the design is kept."""
        ...

    def reweight(self, change: Reweighting) -> Self:
        """A new design with the step applied (the input is unchanged)."""
        ...

    def with_columns(self, columns: Mapping[str, Any]) -> Self:
        """The same design with columns added to its data."""
        ...

    def unweighted(self) -> Self:
        """Weight 1 for every row with positive weight, no calibration."""
        ...

    def reduction(self) -> Reduction:
        """What a reduction of the rows must sum for this design's variance."""
        ...

    def variance_basis(self, sums: Reduced, est: np.ndarray, denom: np.ndarray | None,
                       again: RowInfluence | None = None) -> VarBasis:
        """The variance basis of ratio estimates from their reduced sums (``again`` reads the
        rows a second time where the sums were deferred)."""
        ...

    def domain_dfs(self, sums: UnitSums, domains: Domains) -> np.ndarray:
        """Degrees of freedom counted within each domain."""
        ...

    def domain_df(self, in_domain: np.ndarray) -> int:
        """Degrees of freedom of the rows in ``in_domain`` (in-memory designs)."""
        ...


def is_design(obj: Any) -> bool:
    """Whether ``obj`` implements :class:`SurveyDesign` (checked on its type, so no property
    is evaluated: a Dask design's weights stay where they are).

    Examples
    --------
    >>> is_design(3)
    False
    """
    return all(hasattr(type(obj), name) for name in (
        "backend", "reduction", "variance_basis", "domains", "subset", "reweight",
        "domain_dfs", "unweighted", "with_columns"))
