"""The Fay–Herriot model on arrays: the variance ``A``, GLS coefficients, EBLUP and MSE.

Arrays in, arrays out, no tables: :func:`sipas.small_area.fay_herriot` validates the input
and builds the result, :mod:`sipas.small_area.bootstrap` refits the model on bootstrap
data. ``y`` are the direct estimates, ``d`` their variances, ``xmat`` the covariates with
the intercept column (Rao & Molina 2015, *Small Area Estimation*, 2nd ed., ch. 6).

Examples
--------
>>> import numpy as np
>>> y, d = np.array([1.0, 2.0, 2.5, 4.0]), np.full(4, 0.5)
>>> xmat = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 4.0]])
>>> fit = fit_model(y, d, xmat, "REML")
>>> bool(fit.variance >= 0), fit.eblup.shape
(True, (4,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from sipas.errors import SmallAreaError

__all__ = ["ModelFit", "fit_model", "fit_variance", "gls", "prasad_rao_mse"]


@dataclass(frozen=True)
class ModelFit:
    """The model fitted on one set of direct estimates (arrays, one value per area)."""

    variance: float
    beta: np.ndarray
    cov_beta: np.ndarray
    synthetic: np.ndarray
    gamma: np.ndarray
    eblup: np.ndarray
    iterations: int
    loglik: float


def fit_model(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, method: str,
              tol: float = 1e-10, max_iter: int = 100) -> ModelFit:
    """``A`` by REML or ML, then ``beta`` by GLS and the EBLUP ``synthetic + gamma (y -
    synthetic)`` with ``gamma = A / (A + d)``."""
    a_hat, iterations, loglik = fit_variance(y, d, xmat, method, tol, max_iter)
    beta, cov_beta, _ = gls(y, d, xmat, a_hat)
    synthetic = xmat @ beta
    gamma = a_hat / (a_hat + d)
    return ModelFit(a_hat, beta, cov_beta, synthetic, gamma,
                    synthetic + gamma * (y - synthetic), iterations, loglik)


def gls(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta, (X'V^-1 X)^-1 and the residuals for a given A."""
    vi = 1 / (a + d)
    xtvx = xmat.T @ (xmat * vi[:, None])
    q = np.linalg.inv(xtvx)
    beta = q @ (xmat.T @ (vi * y))
    return beta, q, y - xmat @ beta


def _score(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float, method: str
           ) -> tuple[float, float]:
    """The score of the (restricted) log-likelihood in ``A`` and its Fisher information."""
    vi = 1 / (a + d)
    _, q, r = gls(y, d, xmat, a)
    if method == "ML":
        return -0.5 * vi.sum() + 0.5 * np.sum((r * vi) ** 2), 0.5 * np.sum(vi**2)
    xv2 = xmat.T @ (xmat * (vi**2)[:, None])
    xv3 = xmat.T @ (xmat * (vi**3)[:, None])
    trace_p = vi.sum() - np.trace(q @ xv2)
    trace_p2 = np.sum(vi**2) - 2 * np.trace(q @ xv3) + np.trace(q @ xv2 @ q @ xv2)
    return -0.5 * trace_p + 0.5 * np.sum((r * vi) ** 2), 0.5 * trace_p2


def fit_variance(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, method: str,
                 tol: float = 1e-10, max_iter: int = 100) -> tuple[float, int, float]:
    """``A`` (truncated at 0), the iterations used and the (restricted) log-likelihood."""
    a = float(np.median(d))
    for iterations in range(1, min(max_iter, 30) + 1):
        score, info = _score(y, d, xmat, a, method)
        new = max(a + score / info, 0.0)
        if abs(new - a) <= tol * max(1.0, a):
            return new, iterations, loglik(y, d, xmat, new, method)
        a = new
    # Fisher scoring can cycle across the boundary on a flat likelihood: find the root of
    # the score instead (it falls through zero once where the likelihood peaks)
    if _score(y, d, xmat, 0.0, method)[0] <= 0:
        return 0.0, iterations, loglik(y, d, xmat, 0.0, method)
    high = max(float(np.var(y)), float(d.max()), 1e-12)
    for _ in range(200):
        if _score(y, d, xmat, high, method)[0] < 0:
            break
        high *= 2
    else:
        raise SmallAreaError(f"the {method} fit of the random-effect variance did not converge; "
                             "check the direct estimates and their variances.")
    root, found = optimize.brentq(
        lambda v: _score(y, d, xmat, v, method)[0], 0.0, float(high), xtol=tol * 1e-4,
        rtol=4 * np.finfo(float).eps, maxiter=max(max_iter, 200), full_output=True)
    if not found.converged:
        raise SmallAreaError(f"the {method} fit of the random-effect variance did not converge "
                             f"in {max_iter} iterations; raise max_iter or check the data.")
    return float(root), iterations + int(found.iterations), loglik(y, d, xmat, root, method)


def loglik(y: np.ndarray, d: np.ndarray, xmat: np.ndarray, a: float, method: str) -> float:
    """The (restricted) log-likelihood at ``A``."""
    v = a + d
    _, q, r = gls(y, d, xmat, a)
    ll = -0.5 * (len(y) * math.log(2 * math.pi) + np.log(v).sum() + np.sum(r * r / v))
    if method == "REML":
        ll -= 0.5 * np.linalg.slogdet(np.linalg.inv(q))[1]
    return float(ll)


def prasad_rao_mse(d: np.ndarray, xmat: np.ndarray, a: float, q: np.ndarray,
                   gamma: np.ndarray, method: str) -> np.ndarray:
    """``g1 + g2 + 2 g3`` (REML), minus Datta–Lahiri's ML bias term for ML."""
    vi = 1 / (a + d)
    g1 = gamma * d
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", xmat, q, xmat)
    vbar = 2 / np.sum(vi**2)
    g3 = d**2 * vi**3 * vbar
    mse = g1 + g2 + 2 * g3
    if method == "ML":
        bias = -np.trace(q @ (xmat.T @ (xmat * (vi**2)[:, None]))) / np.sum(vi**2)
        mse = mse - (d * vi) ** 2 * bias
    return mse
