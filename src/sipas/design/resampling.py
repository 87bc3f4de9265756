"""Creating replicate weights from a design: jackknife, BRR, Fay and the bootstrap.

:func:`replicate` turns a linearization design into a
:class:`~sipas.design.replicate.ReplicateDesign` whose replicates are factors per PSU (never
expanded to one weight per row and replicate unless a weighting step needs them), so it
works on Dask designs too.

Examples
--------
>>> import pandas as pd, sipas
>>> df = pd.DataFrame({"psu": [1, 2, 3, 4], "w": [10.0] * 4, "y": [1.0, 2, 3, 4]})
>>> rep = sipas.replicate(sipas.Design(df, ids="psu", weights="w"), "jk1")
>>> rep.n_replicates, round(float(sipas.mean(rep, "y").to_frame()["se"][0]), 6)
(4, 0.645497)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sipas._validate import check_choice, generator, message
from sipas.design.design import Design
from sipas.design.replicate import ReplicateDesign, RepMethod
from sipas.errors import DesignError

__all__ = ["replicate"]


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
        factors = _bootstrap(s1, replicates or 200, generator(rng))
        scale, rscales = 1.0 / (factors.shape[0] - 1), np.ones(factors.shape[0])
    return ReplicateDesign.from_factors(design.backend, factors, method=method, scale=scale,
                                        rscales=rscales, mse=mse, weights=design.weights,
                                        fay_rho=fay_rho if method == "fay" else None,
                                        history=design.history, psu_strata=s1.group)


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
