"""A PAR scheme as Python objects: areas -> criteria -> sub-criteria, and how points convert.

:func:`sipas.par.load_scheme` builds a :class:`Scheme` from a TOML file
(``sipas.par.scheme.parse`` reads and checks it); the classes here hold the validated
scheme and turn survey values into points.

Examples
--------
>>> from sipas.par import load_scheme
>>> s = load_scheme("example")
>>> s.areas[0].criteria[0].subcriteria[0].source
'appraisal'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

__all__ = ["SOURCES", "TOL", "Area", "Criterion", "Scheme", "Source", "SubCriterion"]

Source = Literal["appraisal", "officials_survey", "citizen_survey"]
SOURCES = ("appraisal", "officials_survey", "citizen_survey")
#: slack when a total is compared with a group's minimum
TOL = 1e-9


@dataclass(frozen=True)
class SubCriterion:
    """A scored sub-criterion: its maximum, where its value comes from and how it converts.

    Attributes
    ----------
    code : str
        Unique code (``A1.2.1``).
    label : mapping
        Language -> label.
    max : float
        Maximum points.
    source : {"appraisal", "officials_survey", "citizen_survey"}
        Where the points or the value come from.
    index : str or None
        For survey sources: ``factor:<name>``, ``item:<name>`` or ``overall``.
    rule : {"linear", "bands"}
        ``linear``: ``max * value``; ``bands``: ``max * fraction`` of the first band whose
        threshold the value reaches.
    bands : tuple of (threshold, fraction)
        Highest threshold first.
    transform : {"none", "pct_of_max", "pct_of_range"}
        How a value on the answer scale becomes a proportion first.
    scale_max, scale_min : float
        The answer scale of ``transform``.
    area, criterion : str
        Codes of the parents.

    Examples
    --------
    >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access")
    >>> sub.convert(0.8)
    8.0
    """

    code: str
    label: Mapping[str, str]
    max: float
    source: Source
    index: str | None = None
    rule: str = "linear"
    bands: tuple[tuple[float, float], ...] = ()
    transform: str = "none"
    scale_max: float = 5.0
    scale_min: float = 1.0
    area: str = ""
    criterion: str = ""

    def convert(self, value: float) -> float:
        """Points for a survey value (after ``transform``), never above the maximum.

        Parameters
        ----------
        value : float
            The index value on its own scale (a proportion, or the answer scale when the
            sub-criterion transforms it).

        Returns
        -------
        float
            ``max * v`` (linear) or ``max * fraction`` of the first band reached, with ``v``
            the transformed value; NaN for a NaN value. Callers cap at ``max``.

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.convert(4.0)  # 10 * 4/5
        8.0
        >>> band = SubCriterion("X.2", {}, 10.0, "citizen_survey", "overall", rule="bands",
        ...                     bands=((0.9, 1.0), (0.8, 0.75), (0.0, 0.0)))
        >>> band.convert(0.85), band.convert(0.5)
        (7.5, 0.0)
        """
        v = self.transformed(value)
        if math.isnan(v):
            return math.nan
        v = min(max(v, 0.0), 1.0)  # as convert_array: points stay within [0, max]
        if self.rule == "linear":
            return self.max * v
        for threshold, fraction in self.bands:
            if v >= threshold:
                return self.max * fraction
        return 0.0

    def convert_array(self, values: np.ndarray) -> np.ndarray:
        """:meth:`convert` for an array of (untransformed) values.

        Parameters
        ----------
        values : numpy.ndarray
            Index values on their own scale.

        Returns
        -------
        numpy.ndarray
            Points; transformed values are clipped to [0, 1] first, so points stay in
            ``[0, max]``.

        Examples
        --------
        >>> import numpy as np
        >>> band = SubCriterion("X.2", {}, 10.0, "citizen_survey", "overall", rule="bands",
        ...                     bands=((0.9, 1.0), (0.8, 0.75), (0.0, 0.0)))
        >>> band.convert_array(np.array([0.95, 0.85, 0.5])).tolist()
        [10.0, 7.5, 0.0]
        """
        v = np.clip(self.transformed(np.asarray(values, dtype="float64")), 0.0, 1.0)
        if self.rule == "linear":
            return self.max * v
        out = np.zeros_like(v)
        done = np.zeros(v.shape, dtype=bool)
        for threshold, fraction in self.bands:
            hit = ~done & (v >= threshold)
            out[hit] = self.max * fraction
            done |= hit
        return out

    @overload
    def transformed(self, value: float) -> float: ...
    @overload
    def transformed(self, value: np.ndarray) -> np.ndarray: ...
    def transformed(self, value: float | np.ndarray) -> float | np.ndarray:
        """The value as a proportion: ``value / scale_max`` (``pct_of_max``),
        ``(value - scale_min) / (scale_max - scale_min)`` (``pct_of_range``) or unchanged.

        Parameters
        ----------
        value : float or numpy.ndarray
            Index value(s) on their own scale.

        Returns
        -------
        float or numpy.ndarray
            The transformed value(s) (not clipped).

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.transformed(3.74)
        0.748
        """
        if self.transform == "pct_of_max":
            return value / self.scale_max
        if self.transform == "pct_of_range":
            return (value - self.scale_min) / (self.scale_max - self.scale_min)
        return value

    def slope(self) -> float:
        """d points / d value for linear rules (used for standard errors).

        Returns
        -------
        float
            ``max / scale`` with ``scale`` the divisor of the transform (1 without one);
            NaN for ``bands`` (points are a step function of the value, so the delta-method
            SE is undefined).

        Examples
        --------
        >>> sub = SubCriterion("X.1", {}, 10.0, "citizen_survey", "factor:access",
        ...                    transform="pct_of_max", scale_max=5.0)
        >>> sub.slope()
        2.0
        """
        if self.rule != "linear":
            return math.nan
        scale = {"pct_of_max": self.scale_max,
                 "pct_of_range": self.scale_max - self.scale_min}.get(self.transform, 1.0)
        return self.max / scale


@dataclass(frozen=True)
class Criterion:
    """A criterion: a group of sub-criteria whose maxima add up to its own.

    Attributes
    ----------
    code : str
        Code (``A1.2``).
    label : mapping
        Language -> label.
    max : float
        Maximum points (the sum of the sub-criteria's).
    subcriteria : tuple of SubCriterion
        In scheme order.

    Examples
    --------
    >>> from sipas.par import load_scheme
    >>> crit = load_scheme("example").areas[0].criteria[1]
    >>> crit.code, crit.max, [s.code for s in crit.subcriteria]
    ('A1.2', 15.0, ['A1.2.1', 'A1.2.2'])
    """

    code: str
    label: Mapping[str, str]
    max: float
    subcriteria: tuple[SubCriterion, ...]


@dataclass(frozen=True)
class Area:
    """An area (lĩnh vực): a group of criteria whose maxima add up to its own.

    Attributes
    ----------
    code : str
        Code (``A1``).
    label : mapping
        Language -> label.
    max : float
        Maximum points (the sum of the criteria's).
    criteria : tuple of Criterion
        In scheme order.
    note : str
        Free text from the scheme file.

    Examples
    --------
    >>> from sipas.par import load_scheme
    >>> area = load_scheme("example").areas[0]
    >>> area.code, area.max, [c.code for c in area.criteria]
    ('A1', 40.0, ['A1.1', 'A1.2'])
    """

    code: str
    label: Mapping[str, str]
    max: float
    criteria: tuple[Criterion, ...]
    note: str = ""


@dataclass(frozen=True)
class Scheme:
    """A validated PAR scheme.

    Attributes
    ----------
    name : str
        Scheme name.
    title : mapping
        Language -> title.
    total : float
        Maximum total points (the sum of the areas' maxima).
    areas : tuple of Area
        In scheme order.
    groups : tuple of (name, minimum)
        Ranking groups, highest minimum first.
    status : str
        Free text (``example``, ``official``...).
    source : str or None
        The file it was read from.

    Examples
    --------
    >>> from sipas.par import load_scheme
    >>> s = load_scheme("example")
    >>> s.total, len(s.subcriteria), s.groups[0]
    (100.0, 9, ('A', 90.0))
    """

    name: str
    title: Mapping[str, str]
    total: float
    areas: tuple[Area, ...]
    groups: tuple[tuple[str, float], ...]
    status: str = ""
    source: str | None = None

    @property
    def subcriteria(self) -> tuple[SubCriterion, ...]:
        """Every sub-criterion, area by area and criterion by criterion.

        Examples
        --------
        >>> from sipas.par import load_scheme
        >>> s = load_scheme("example")
        >>> [sub.code for sub in s.subcriteria][:3]
        ['A1.1.1', 'A1.2.1', 'A1.2.2']
        """
        return tuple(s for a in self.areas for c in a.criteria for s in c.subcriteria)

    def max_by_source(self) -> dict[str, float]:
        """Maximum points from each source.

        Returns
        -------
        dict
            ``appraisal``, ``officials_survey`` and ``citizen_survey`` -> the sum of the
            maxima of their sub-criteria (0 for a source the scheme does not use).

        Examples
        --------
        >>> from sipas.par import load_scheme
        >>> s = load_scheme("example")
        >>> s.max_by_source()
        {'appraisal': 55.0, 'officials_survey': 0.0, 'citizen_survey': 45.0}
        """
        out = dict.fromkeys(SOURCES, 0.0)
        for s in self.subcriteria:
            out[s.source] += s.max
        return out

    def group(self, total: float) -> str:
        """Group of a total score (first group whose minimum it reaches).

        Parameters
        ----------
        total : float
            Total points.

        Returns
        -------
        str
            The group's name; ``""`` for NaN or a total below every minimum.

        Examples
        --------
        >>> from sipas.par import load_scheme
        >>> s = load_scheme("example")
        >>> s.group(85.0), s.group(50.0)
        ('B', 'D')
        """
        if math.isnan(total):
            return ""
        for name, minimum in self.groups:
            if total >= minimum - TOL:
                return name
        return ""
