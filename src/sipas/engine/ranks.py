"""Confidence sets for ranks from simultaneous inference on pairwise differences.

Ranks are published every year (provinces by satisfaction, by PAR points), and a rank is
only as certain as the differences behind it. Following Mogstad, Romano, Shaikh & Wilhelm,
"Inference for Ranks with Applications to Mobility across Neighbourhoods and Academic
Achievement across Countries", *Review of Economic Studies* 91 (2024), the confidence set
of the rank of unit ``j`` (rank 1 = highest) is

    [1 + #{k : theta_k - theta_j > c se_jk},  p - #{k : theta_j - theta_k > c se_jk}]

where ``se_jk`` is the standard error of ``theta_j - theta_k`` from the full covariance
(same sample or independent samples alike) and ``c`` the ``level`` quantile of the largest
standardised pairwise deviation ``max |(e_j - e_k) / se_jk|`` under ``e ~ N(0, V)`` (a
multivariate t with ``df`` degrees of freedom when the variance has few). For a *marginal*
set the maximum runs over the pairs that involve ``j``; for *simultaneous* sets, valid for
all units at once, over all pairs. The quantile is found by simulation (``n_sim`` draws);
the sets are then exact for the estimated ``V`` up to that Monte Carlo error.

With simultaneous sets, ``{j : rank_low_j <= k}`` contains every true top-``k`` unit with
probability at least ``level``, and ``{j : rank_high_j <= k}`` are the units that are in
the top ``k`` with that confidence (Klein, Wright & Wieczorek, *JRSS C* 69, 2020).

Examples
--------
>>> import numpy as np
>>> est = np.array([0.9, 0.5, 0.49, 0.1])
>>> sets = rank_sets(est, np.diag([1e-4] * 4), rng=1)
>>> sets.low.tolist(), sets.high.tolist()
([1, 2, 2, 4], [1, 3, 3, 4])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from sipas._validate import generator
from sipas.errors import EstimationError

__all__ = ["RankSets", "rank_sets"]


@dataclass(frozen=True)
class RankSets:
    """Point ranks and their confidence sets (arrays in the order of the estimates).

    Attributes
    ----------
    rank : numpy.ndarray
        Ranks of the estimates (ties share the best rank).
    low, high : numpy.ndarray
        The confidence set ``[low, high]`` of each rank.
    critical : numpy.ndarray
        The critical value ``c`` used for each unit (one value repeated when simultaneous).
    """

    rank: np.ndarray
    low: np.ndarray
    high: np.ndarray
    critical: np.ndarray


def rank_sets(est: np.ndarray, cov: np.ndarray, *, level: float = 0.95,
              simultaneous: bool = True, df: float = np.inf, n_sim: int = 10_000,
              rng: int | np.random.Generator | None = None,
              descending: bool = True) -> RankSets:
    """Marginal or simultaneous confidence sets for the ranks of ``est``.

    Parameters
    ----------
    est : numpy.ndarray
        The p estimates (finite).
    cov : numpy.ndarray
        Their (p x p) covariance.
    level : float
        Confidence level of the sets.
    simultaneous : bool
        Sets that hold for all units together (True) or for each unit on its own.
    df : float
        Degrees of freedom of the variance (``inf``: normal).
    n_sim : int
        Draws used to find the critical value.
    rng : int or numpy.random.Generator, optional
        Seed of the draws.
    descending : bool
        Rank 1 is the highest estimate (True) or the lowest.

    Returns
    -------
    RankSets

    Raises
    ------
    EstimationError
        Estimates that are not finite, or a covariance of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> sets = rank_sets(np.array([3.0, 2.0, 1.0]), np.eye(3) * 1e-6, rng=0)
    >>> sets.low.tolist(), sets.high.tolist()
    ([1, 2, 3], [1, 2, 3])
    """
    est = np.asarray(est, dtype="float64")
    cov = np.asarray(cov, dtype="float64")
    p = len(est)
    if not np.all(np.isfinite(est)) or cov.shape != (p, p) or not np.all(np.isfinite(cov)):
        raise EstimationError("ranks need finite estimates and their covariance; leave out "
                              "domains without an estimate first.")
    sign = -1.0 if descending else 1.0
    rank = rankdata(sign * est, method="min").astype(np.int64)
    if p == 1:
        one = np.ones(1, dtype=np.int64)
        return RankSets(rank, one, one, np.zeros(1))
    var = np.diag(cov)
    pair_var = var[:, None] + var[None, :] - 2 * cov
    se = np.sqrt(np.maximum(pair_var, 0.0))
    draws = _draws(cov, df, n_sim, generator(rng, EstimationError))
    off = ~np.eye(p, dtype=bool)
    inv_se = np.where(se > 0, 1.0 / np.where(se > 0, se, 1.0), 0.0)  # no variance: no deviation
    worst = np.empty((n_sim, p))  # per draw and unit: its largest standardised deviation
    step = max(1, 2_000_000 // (p * p))  # draws per chunk: about 16 MB of deviations
    for start in range(0, n_sim, step):
        chunk = draws[start:start + step]
        dev = np.abs(chunk[:, :, None] - chunk[:, None, :]) * inv_se
        worst[start:start + step] = dev.max(axis=2)
    if simultaneous:
        crit = np.full(p, np.quantile(worst.max(axis=1), level))
    else:
        crit = np.quantile(worst, level, axis=0)
    diff = -sign * (est[None, :] - est[:, None])  # [j, k] > 0: k ranks before j
    above = (diff > crit[:, None] * se) & off
    below = (-diff > crit[:, None] * se) & off
    low = 1 + above.sum(axis=1)
    high = p - below.sum(axis=1)
    return RankSets(rank, low.astype(np.int64), high.astype(np.int64), crit)


def _draws(cov: np.ndarray, df: float, n_sim: int, gen: np.random.Generator) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    z = gen.standard_normal((n_sim, len(cov))) @ root.T
    if np.isfinite(df) and df > 0:
        z = z / np.sqrt(gen.chisquare(df, size=(n_sim, 1)) / df)
    return z
