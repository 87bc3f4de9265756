"""Relative importance from a covariance matrix: R² of every submodel, Shapley/LMG shares,
Johnson's relative weights and standardised coefficients.

Everything here is a function of the weighted covariance of the outcome and the drivers, so
a replicate design needs only the replicate totals of ``1, z, z z'`` (one pass over the rows)
and then these small computations per replicate, never a refit on the rows.

Examples
--------
>>> import numpy as np
>>> corr = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.0], [0.3, 0.0, 1.0]])
>>> lmg(corr[None]).round(6).tolist()  # uncorrelated drivers: shares are r_jy^2
[[0.25, 0.09]]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_LMG", "correlations", "covariances", "lmg", "moment_columns", "relative_weights",
           "standardised", "subset_r2"]

#: drivers beyond which the 2^p submodels of LMG become too many (use relative weights)
MAX_LMG = 15


def moment_columns(z: np.ndarray) -> np.ndarray:
    """Per-row ``(1, z, z_a z_b for a <= b)``: their weighted totals give every covariance.

    Parameters
    ----------
    z : numpy.ndarray
        (n x q) centred (and scaled) outcome and drivers; zero rows are left out.

    Returns
    -------
    numpy.ndarray
        (n x (1 + q + q(q+1)/2)) columns, Fortran order.
    """
    n, q = z.shape
    a, b = np.triu_indices(q)
    out = np.empty((n, 1 + q + len(a)), order="F")
    out[:, 0] = 1.0
    out[:, 1:1 + q] = z
    for k, (i, j) in enumerate(zip(a, b)):
        np.multiply(z[:, i], z[:, j], out=out[:, 1 + q + k])
    return out


def covariances(totals: np.ndarray, q: int) -> np.ndarray:
    """(R x q x q) weighted covariances from (R x k) totals of :func:`moment_columns`."""
    totals = np.atleast_2d(totals)
    w = totals[:, 0][:, None]
    mean = totals[:, 1:1 + q] / w
    a, b = np.triu_indices(q)
    cross = np.zeros((len(totals), q, q))
    cross[:, a, b] = totals[:, 1 + q:] / w
    cross[:, b, a] = cross[:, a, b]
    return cross - mean[:, :, None] * mean[:, None, :]


def _corr(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.einsum("rii->ri", cov))
    return cov / (sd[:, :, None] * sd[:, None, :])


def subset_r2(corr: np.ndarray) -> np.ndarray:
    """R² of the outcome (index 0) on every subset of the p drivers.

    Parameters
    ----------
    corr : numpy.ndarray
        (R x q x q) correlations, the outcome first.

    Returns
    -------
    numpy.ndarray
        (R x 2^p): column ``m`` is the R² of the drivers whose bits are set in ``m``.
    """
    r, q = corr.shape[0], corr.shape[1]
    p = q - 1
    out = np.zeros((r, 2 ** p))
    for mask in range(1, 2 ** p):
        idx = [j + 1 for j in range(p) if mask >> j & 1]
        c_xy = corr[:, idx, 0]
        c_xx = corr[:, idx][:, :, idx]
        out[:, mask] = np.einsum("ri,ri->r", c_xy, np.linalg.solve(c_xx, c_xy[:, :, None])[
            :, :, 0])
    return out


def lmg(corr: np.ndarray) -> np.ndarray:
    """Shapley (LMG) shares of R²: each driver's gain in R² averaged over all orders.

    ``phi_j = sum_{S not containing j} |S|! (p - |S| - 1)! / p! (R²(S + j) - R²(S))``; the
    shares add up to the R² of the full model.

    Parameters
    ----------
    corr : numpy.ndarray
        (R x q x q) correlations, the outcome first.

    Returns
    -------
    numpy.ndarray
        (R x p) shares.
    """
    r2 = subset_r2(corr)
    p = corr.shape[1] - 1
    masks = np.arange(2 ** p)
    size = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
                       for s in range(p)])
    out = np.empty((corr.shape[0], p))
    for j in range(p):
        without = masks[(masks >> j & 1) == 0]
        out[:, j] = (r2[:, without | (1 << j)] - r2[:, without]) @ weight[size[without]]
    return out


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: R² split through the orthogonal counterpart of
    the drivers.

    With ``R_xx = Q diag(l) Q'`` and ``L = Q diag(sqrt l) Q'`` (the symmetric square root),
    ``beta = L^-1 r_xy`` and ``eps_j = sum_k L_jk^2 beta_k^2``; the weights add up to R².

    Parameters
    ----------
    corr : numpy.ndarray
        (R x q x q) correlations, the outcome first.

    Returns
    -------
    numpy.ndarray
        (R x p) weights.
    """
    rxx, rxy = corr[:, 1:, 1:], corr[:, 1:, 0]
    vals, vecs = np.linalg.eigh(rxx)
    root = np.einsum("rij,rj,rkj->rik", vecs, np.sqrt(np.clip(vals, 0, None)), vecs)
    beta = np.linalg.solve(root, rxy[:, :, None])[:, :, 0]
    return np.einsum("rjk,rk->rj", root ** 2, beta ** 2)


def standardised(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regression of the outcome on all drivers from covariances.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        (R x p) slopes, (R x p) standardised slopes ``b_j sd_j / sd_y`` and the (R,) R².
    """
    sxx, sxy = cov[:, 1:, 1:], cov[:, 1:, 0]
    b = np.linalg.solve(sxx, sxy[:, :, None])[:, :, 0]
    sd = np.sqrt(np.einsum("rii->ri", cov))
    beta = b * sd[:, 1:] / sd[:, :1]
    r2 = np.einsum("rj,rj->r", b, sxy) / cov[:, 0, 0]
    return b, beta, r2


def correlations(cov: np.ndarray) -> np.ndarray:
    """(R x q x q) correlations from covariances."""
    return _corr(cov)
