"""Strata with one sampled unit (lonely PSUs): how each rule centres and weighs a stage.

The multistage variance sums, over the groups ``g`` of each stage (strata at stage 1, parent
units later), ``s_g sum_{u in g} (t_u - c_g)^2``. A group with a single sampled unit has no
within-group variance; the rule of :class:`LonelyRule` decides what it contributes, per
estimate (column of unit totals), because a domain may have one unit in a group that has
several in the sample. The rules are R ``survey``'s options ``survey.lonely.psu`` and
``survey.adjust.domain.lonely`` as version 4.1-1 computes them (``svyrecvar``, ``onestage``,
``onestrat``), with ``corrected=True`` for the two places where 4.1-1 contradicts its own
documentation (see :class:`LonelyRule`).

Examples
--------
>>> LonelyRule("average").acts, LonelyRule("remove").acts
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LonelyRule", "StageTerms", "stage_terms"]


@dataclass(frozen=True)
class LonelyRule:
    """What a group with one sampled unit contributes to the variance.

    Attributes
    ----------
    psu : {"fail", "remove", "certainty", "adjust", "average"}
        R ``survey.lonely.psu``. ``remove`` and ``certainty`` give the group no variance;
        ``adjust`` centres its unit total at zero (R 4.1-1) or at the mean of all unit totals
        of the stage (``corrected``); ``average`` leaves it out and multiplies the stage's sum
        by ``#groups / #groups with a variance``, counting only the groups with a unit in
        the estimate's domain.
    domain : bool
        R ``survey.adjust.domain.lonely``: a group with several sampled units of which only
        one has a row in the domain is treated as lonely too (``adjust`` and ``average``).
    corrected : bool
        Where R 4.1-1 is wrong, do what its documentation says: ``adjust`` centres at the
        mean of the unit totals of the stage (sum over the units of the groups present in
        the domain, divided by their number of sampled units: R >= 4.3 at stage 1), not at
        zero; ``average`` at a later stage averages over all groups of that stage (R gives
        ``NaN``, ``0 * 1/0``, because it averages within each parent unit).

    Examples
    --------
    >>> LonelyRule("adjust", domain=True).domain
    True
    """

    psu: str = "fail"
    domain: bool = False
    corrected: bool = False

    @property
    def acts(self) -> bool:
        """Whether the rule changes centres or weights (``adjust`` and ``average``).

        Examples
        --------
        >>> LonelyRule("certainty").acts
        False
        """
        return self.psu in ("adjust", "average")


@dataclass(frozen=True, eq=False)
class StageTerms:
    """Per group and estimate, the centre of the unit totals and the multiplier of their
    deviations (``sqrt`` of the average factor, 0 for a group left out, NaN where R has no
    variance).

    Examples
    --------
    >>> import numpy as np
    >>> StageTerms(np.zeros((2, 1)), np.ones((2, 1))).centre.shape
    (2, 1)
    """

    centre: np.ndarray
    mult: np.ndarray


def stage_terms(rule: LonelyRule, first: bool, n_in_group: np.ndarray, lonely: np.ndarray,
                certainty: np.ndarray, gsum: np.ndarray, present: np.ndarray
                ) -> StageTerms | None:
    """Centres and multipliers of one stage under a lonely-PSU rule.

    Parameters
    ----------
    rule : LonelyRule
        The design's rule.
    first : bool
        The stage is the first (strata); later stages have parent units as groups.
    n_in_group : numpy.ndarray
        (groups,) sampled units per group in the whole sample (R ``nPSU``).
    lonely : numpy.ndarray
        (groups,) one sampled unit and not a census.
    certainty : numpy.ndarray
        (groups,) the group is a census (fpc equal to the sample): no variance, never lonely.
    gsum : numpy.ndarray
        (groups x k) totals of the unit totals per group.
    present : numpy.ndarray
        (groups x k) number of the group's units with a row in each estimate's domain.

    Returns
    -------
    StageTerms or None
        ``None`` when the rule changes nothing at this stage (centre at the group mean,
        multiplier 1).

    Notes
    -----
    A group counts as lonely for an estimate when exactly one of its units is present and
    the group has one sampled unit (or, with ``domain``, several). R 4.1-1 ``onestrat``:
    ``adjust`` does not centre it (centre 0, scale ``1 - f`` without ``n/(n-1)`` when the
    group has one unit); ``average`` gives it ``NA`` and ``onestage`` multiplies the sum of
    the others by ``#strata present / #strata not NA``. A later stage is computed within
    each parent unit, so a lonely unit there makes the variance ``NaN``.

    Examples
    --------
    >>> import numpy as np
    >>> terms = stage_terms(LonelyRule("adjust"), True, np.array([2, 1]),
    ...                     np.array([False, True]), np.array([False, False]),
    ...                     np.array([[4.0], [3.0]]), np.array([[2], [1]]))
    >>> terms.centre.ravel().tolist()  # stratum mean 2, lonely stratum centred at 0
    [2.0, 0.0]
    """
    if not rule.acts:
        return None
    n = n_in_group.astype("float64")[:, None]
    single = ((present == 1) & ~certainty[:, None]
              & (lonely[:, None] | (rule.domain & (n_in_group > 1))[:, None]))
    if not single.any():
        return None
    mean = gsum / n
    k = gsum.shape[1]
    if rule.psu == "adjust":
        if rule.corrected:
            units = ((present > 0) * n).sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                grand = np.where(units > 0, gsum.sum(axis=0) / units, 0.0)
            centre = np.where(single, grand[None, :], mean)
        else:
            centre = np.where(single, 0.0, mean)
        return StageTerms(centre, np.ones_like(mean))
    groups = (present > 0).sum(axis=0).astype("float64")
    bad = single.sum(axis=0).astype("float64")
    if first or rule.corrected:
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(bad == 0, 1.0, np.where(groups > bad, groups / (groups - bad),
                                                      np.nan))
    else:
        factor = np.where(bad == 0, 1.0, np.nan)
    mult = np.where(single, 0.0, np.sqrt(factor)[None, :] * np.ones((len(n), k)))
    mult = np.where(np.isnan(factor)[None, :], np.nan, mult)
    return StageTerms(mean, mult)
