"""Parametric bootstrap MSE of Fay–Herriot EBLUPs (González-Manteiga et al. 2008).

From the fitted model, each replicate ``b`` draws area effects ``u* ~ N(0, A)`` and sampling
errors ``e* ~ N(0, D_d)``, makes the true values ``theta* = x'beta + u*`` and the direct
estimates ``y* = theta* + e*``, refits the model (the same method: ``A*`` and ``beta*``) and
records ``(eblup*_d - theta*_d)²``; the MSE of area ``d`` is the mean over the replicates
(González-Manteiga, Lombardía, Molina, Morales & Santamaría 2008, *J. Stat. Comput. Simul.*
78, 443-462; the estimator of R ``sae::pbmseFH``).

Its expectation is the MSE of the EBLUP when the model's parameters are the estimated
ones, about ``g1 + g2 + g3`` at ``A``: unlike Prasad–Rao's ``g1 + g2 + 2 g3`` it does not
correct the bias of ``g1`` at the estimated ``A``, a difference of order ``1 / m`` (m areas).
Its use is where no formula applies: with ``transform="arcsin"`` the same replicates also
give the MSE of the back-transformed share, ``(p̂*_d - sin²(theta*_d))²``, which carries
the bias of the back-transformation (as in Casas-Cordero, Encina & Lahiri 2016 for shares
of Chilean comunas).

Examples
--------
>>> import numpy as np
>>> from sipas.small_area.model import fit_model
>>> rng = np.random.default_rng(1)
>>> x = np.column_stack([np.ones(30), rng.normal(size=30)])
>>> d = np.full(30, 0.5)
>>> y = x @ [1.0, 0.5] + rng.normal(size=30) + rng.normal(scale=d**0.5)
>>> fit = fit_model(y, d, x, "REML")
>>> mse, _ = bootstrap_mse(fit, d, x, "REML", replicates=50, rng=3)
>>> bool((mse > 0).all()), mse.shape
(True, (30,))
"""

from __future__ import annotations

import math

import numpy as np

from sipas.errors import SmallAreaError
from sipas.small_area.model import ModelFit, fit_model

__all__ = ["bootstrap_mse", "check_replicates", "unarcsin"]


def unarcsin(theta: np.ndarray, g1: np.ndarray) -> np.ndarray:
    """The share from an estimate on the arcsine scale, bias-corrected with
    ``E[sin² t] = (1 - cos(2 t) exp(-2 g1)) / 2``."""
    return 0.5 * (1 - np.cos(2 * theta) * np.exp(-2 * g1))


def check_replicates(replicates: object) -> None:
    """Refuse a number of replicates that is not an integer of 2 or more."""
    if not isinstance(replicates, (int, np.integer)) or isinstance(replicates, bool) \
            or replicates < 2:
        raise SmallAreaError(f"replicates must be an integer of 2 or more; got "
                             f"{replicates!r}. Use 200 or more for a stable MSE.")


def bootstrap_mse(fit: ModelFit, d: np.ndarray, xmat: np.ndarray, method: str, *,
                  replicates: int, rng: int | np.random.Generator | None,
                  arcsin: bool = False, tol: float = 1e-10, max_iter: int = 100
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """The bootstrap MSE of every area, on the model's scale and (``arcsin``) as a share.

    Parameters
    ----------
    fit : ModelFit
        The model fitted on the direct estimates (its ``variance`` and ``beta`` generate
        the replicates).
    d, xmat : numpy.ndarray
        The variances of the direct estimates and the covariates (with the intercept).
    method : {"REML", "ML"}
        How every replicate is refitted.
    replicates : int
        The number of bootstrap replicates ``B``.
    rng : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same MSE.
    arcsin : bool
        The model is on the arcsine scale: also return the MSE of the back-transformed
        share against ``sin²(theta*)`` (``theta*`` clipped to ``[0, pi / 2]``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray or None)
        The MSE on the model's scale, and on the share scale (``arcsin`` only).
    """
    check_replicates(replicates)
    gen = np.random.default_rng(rng)
    m = len(d)
    mean = xmat @ fit.beta
    sd_u, sd_e = math.sqrt(fit.variance), np.sqrt(d)
    total = np.zeros(m)
    total_share = np.zeros(m) if arcsin else None
    for b in range(int(replicates)):
        theta = mean + sd_u * gen.standard_normal(m)
        y = theta + sd_e * gen.standard_normal(m)
        try:
            refit = fit_model(y, d, xmat, method, tol, max_iter)
        except SmallAreaError as exc:
            raise SmallAreaError(f"bootstrap replicate {b + 1}: {exc}") from exc
        total += (refit.eblup - theta) ** 2
        if total_share is not None:
            true = np.sin(np.clip(theta, 0, math.pi / 2)) ** 2
            total_share += (unarcsin(refit.eblup, refit.gamma * d) - true) ** 2
    share = None if total_share is None else total_share / replicates
    return total / replicates, share
