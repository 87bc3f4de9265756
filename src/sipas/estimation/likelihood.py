"""Profile-likelihood intervals for proportions (R ``svyciprop(method="likelihood")``).

R fits ``svyglm(y ~ 1, design, family=quasibinomial)`` and calls
``confint(fit, 1, method="likelihood", ddf=df)`` (survey 4.1-1, ``survey.R``):

1. the working likelihood is the binomial deviance with prior weights ``W = w / mean(w)``
   (svyglm rescales the sampling weights); the intercept ``b0`` is found by R's IRLS
   (``glm.fit``), which stops at a relative deviance change below ``1e-8``;
2. ``lambda = V_design(b0) / V_naive(b0)`` (the design effect of the intercept) and
   ``alpha = pnorm(qt((1 - level)/2, ddf) sqrt(lambda)) / 2``;
3. ``MASSprofile_glm`` profiles the scaled deviance ``z(b) = sign(b - b0)
   sqrt((D(b) - D(b0)) / phi)`` on the grid ``b0 +- k del se`` (``del = zmax/5``,
   ``zmax = sqrt(qf(alpha, 1, n - 1, lower.tail=FALSE))``, ``k < 10``), where ``phi`` is
   ``svyvar`` of the Pearson residuals and ``se`` the design-based SE of ``b0``;
4. ``confint_profile`` interpolates ``(b, z)`` with ``spline()`` (FMM cubic, ``3 m`` points)
   and inverts it at ``+-qnorm(2 alpha)`` with ``approx()`` (linear);
5. ``svyciprop`` maps the limits back with ``expit``.

Every step is reproduced with R's own arithmetic (link functions with their thresholds, the
IRLS stopping rule, the FMM end conditions, the evaluation grid), because the interval
depends on the profile grid and on where the IRLS stopped, not only on the data.

Domains behave like ``svyciprop`` on ``subset(design, domain)`` of an uncalibrated design:
only the rows of the domain with positive weight enter the fit (the variance keeps the whole
design, with zero influence outside the domain, which is what R's subset design gives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sipas.backends.base import Domains, row_domains
from sipas.estimation.fit import fit as estimate_fit
from sipas.estimation.recipes import ArrayRecipe, Recipe

__all__ = ["likelihood_interval"]

_THRESH = 30.0  # R's logit link clamps eta beyond +-30 (family.c)
_EPS = np.finfo(float).eps
_EPSILON = 1e-8  # glm.control()$epsilon
_MAXIT = 25  # glm.control()$maxit
_MAXSTEPS = 10  # MASSprofile_glm default


# ---------------------------------------------------------------------- quasibinomial family

def _linkinv(eta: np.ndarray) -> np.ndarray:
    """Inverse logit as R's C ``logit_linkinv``: ``t/(1+t)``, ``t = exp(eta)`` clamped."""
    eta = np.asarray(eta, dtype="float64")
    tmp = np.where(eta < -_THRESH, _EPS, np.where(eta > _THRESH, 1 / _EPS, np.exp(eta)))
    return tmp / (1 + tmp)


def _mu_eta(eta: np.ndarray) -> np.ndarray:
    """``d mu / d eta`` as R's C ``logit_mu_eta``: ``exp(eta)/(1+exp(eta))^2``."""
    eta = np.asarray(eta, dtype="float64")
    opexp = 1 + np.exp(eta)
    out = np.exp(eta) / (opexp * opexp)
    return np.where((eta > _THRESH) | (eta < -_THRESH), _EPS, out)


def _deviance(y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> float:
    """Binomial deviance ``sum 2 wt (y log(y/mu) + (1-y) log((1-y)/(1-mu)))``.

    R's C ``binomial_dev_resids`` term by term; the sum is correctly rounded (``math.fsum``)
    because R's ``sum`` accumulates in long double and the profile takes differences of
    deviances that are much larger than those differences.
    """
    mu = np.broadcast_to(mu, y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 terms are dropped
        t1 = np.where(y != 0, y * np.log(np.divide(y, mu)), 0.0)
        t2 = np.where(1 - y != 0, (1 - y) * np.log(np.divide(1 - y, 1 - mu)), 0.0)
    return math.fsum(2 * wt * (t1 + t2))


# ---------------------------------------------------------------------- glm.fit (intercept)

@dataclass(frozen=True)
class _Fit:
    """What R keeps from ``glm.fit`` for an intercept-only model."""

    coef: float
    mu: np.ndarray  # fitted values (one per row)
    deviance: float
    weights: np.ndarray  # working weights of the last IRLS step (``fit$weights``)
    resid: np.ndarray  # working residuals ``(y - mu)/mu.eta`` (``fit$residuals``)


def _irls(y: np.ndarray, prior: np.ndarray, start: float | None = None) -> _Fit | None:
    """R's ``glm.fit(x = 1, y, weights=prior, family=quasibinomial)``; None if D is infinite.

    Starts from ``mustart = (W y + 1/2)/(W + 1)`` (binomial ``initialize``) or from ``start``;
    each step is the weighted least squares fit of ``z = eta + (y - mu)/mu.eta`` with weights
    ``W mu.eta^2 / (mu (1 - mu))``; it stops when ``|D - D_old| / (|D| + 0.1) < 1e-8``.
    The working weights returned are those of the last step (evaluated *before* its update),
    exactly as R stores them; they enter the naive and sandwich variances.
    """
    if start is None:
        mustart = (prior * y + 0.5) / (prior + 1)
        eta = np.log(mustart / (1 - mustart))
    else:
        eta = np.full(y.shape, float(start))
    mu = _linkinv(eta)
    dev_old = _deviance(y, mu, prior)
    good = prior > 0
    for _ in range(_MAXIT):
        mu_eta = _mu_eta(eta)
        z = eta[good] + (y - mu)[good] / mu_eta[good]
        w = np.sqrt(prior[good] * mu_eta[good] ** 2 / (mu * (1 - mu))[good])
        coef = float(np.dot(w, z * w) / np.dot(w, w))
        eta = np.full(y.shape, coef)
        mu = _linkinv(eta)
        dev = _deviance(y, mu, prior)
        if not math.isfinite(dev):
            return None
        if abs(dev - dev_old) / (abs(dev) + 0.1) < _EPSILON:
            break
        dev_old = dev
    # after maxit steps R warns but keeps the last step, so do we
    wt = np.zeros(y.shape)
    wt[good] = w**2
    return _Fit(coef, mu, dev, wt, (y - mu) / _mu_eta(eta))


# ---------------------------------------------------------------------- svyglm pieces

@dataclass(frozen=True)
class _Rows:
    """The rows of one estimate: ``fit`` rows (valid answer) inside ``frame`` (the domain)."""

    frame: np.ndarray  # bool (n,): rows of R's (subset) design
    fit: np.ndarray  # bool (n,): rows of the glm (frame and a valid answer)
    y: np.ndarray  # 0/1 response on the fit rows
    w: np.ndarray  # sampling weights on the fit rows


def _taylor_coef_var(design: Any, rows: _Rows, fit: _Fit, naive: float) -> float:
    """``svy.varcoef``: design variance of ``sum estfun_i * Ainv`` (R ``svyrecvar``).

    ``estfun = x * resid_working * weights_working``; ``Ainv`` is the naive (unscaled)
    covariance ``1/sum(weights_working)``. The influence values are fed to the design's
    linearization engine as a total (``sum w_i v_i``), so strata, fpc, lonely PSUs and
    calibration are treated as for every other estimate.
    """
    values = np.zeros((len(rows.fit), 1))
    values[rows.fit, 0] = fit.resid * fit.weights * naive / rows.w
    result = estimate_fit(design, ArrayRecipe(values, None),
                          row_domains(np.where(rows.fit, 0, -1), 1))
    return float(result.basis.var()[0])


def _taylor_dispersion(rows: _Rows, fit: _Fit, prior: np.ndarray) -> float:
    """``summary.svyglm`` dispersion: ``svyvar`` of the Pearson residuals.

    ``r = (y - mu) sqrt(W / P) / sqrt(mu (1 - mu))`` where ``W`` are the glm prior weights
    (rescaled over the whole subset design) and ``P`` the weights rescaled over the rows of
    the fit; ``svyvar`` is the weighted mean of ``(r - rbar)^2 n/(n-1)``.
    """
    w = rows.w
    pwts = w / np.mean(w)
    mu = fit.mu
    r = (rows.y - mu) * np.sqrt(prior / pwts) / np.sqrt(mu * (1 - mu))
    n = np.count_nonzero(w)
    psum = w.sum()
    xbar = np.sum(r * w / psum)
    x = r - xbar
    return float(np.sum(x * x * n / (n - 1) * w / psum))


def _replicate_coef_var(design: Any, rows: _Rows, beta0: float) -> float:
    """``svyglm.svyrep.design``: replicate variance of the intercept.

    Each replicate refits the glm (IRLS from ``b0``) with weights ``w_r / sum(w_r)`` on the
    rows of the fit; the variance is the design's replicate formula (R ``svrVar``).
    """
    repw = design.replicate_weights()[rows.fit]
    betas = np.full(repw.shape[1], np.nan)
    for r in range(repw.shape[1]):
        wi = repw[:, r]
        fit = _irls(rows.y, wi / wi.sum(), start=beta0)
        if fit is not None:
            betas[r] = fit.coef
    return float(design.engine.var(betas[:, None], np.array([beta0]))[0])


def _replicate_dispersion(rows: _Rows, fit: _Fit, prior: np.ndarray) -> float:
    """``summary.svrepglm`` dispersion: ``sum(w r^2)/sum(w)`` with the Pearson residuals
    ``r = (y - mu) sqrt(W) / (sqrt(mu (1 - mu)) sqrt(w / mean(w)))``.

    This is survey 4.4-1's formula. Version 4.1-1 divided by ``w/sum(w)`` while ``W =
    w/mean(w)``, making the dispersion about ``n`` times too large so that R 4.1-1 gives no
    likelihood interval (NA) on replicate designs; sipas follows the corrected version.
    """
    w = rows.w
    mu = fit.mu
    r = (rows.y - mu) * np.sqrt(prior) / (np.sqrt(mu * (1 - mu)) * np.sqrt(w / w.mean()))
    return float(np.sum(w * r**2) / np.sum(w))


@dataclass(frozen=True)
class _Svyglm:
    """The parts of R's svyglm fit that ``confint(method="likelihood")`` uses."""

    fit: _Fit
    prior: np.ndarray  # glm prior weights (rescaled sampling weights)
    naive: float  # naive.cov: summary.glm cov.unscaled = 1/sum(working weights)
    var: float  # cov.unscaled: design variance of the intercept
    dispersion: float  # summary(svyglm)$dispersion


def _svyglm(design: Any, rows: _Rows) -> _Svyglm | None:
    """``svyglm(y ~ 1, design, family=quasibinomial)`` on the rows of one estimate.

    The prior weights are ``w / mean(w)`` with the mean over every row of the (subset)
    design, including rows whose answer is missing (R rescales before ``glm`` drops them).
    """
    prior = rows.w / np.mean(design.weight_array[rows.frame])
    fit = _irls(rows.y, prior)
    if fit is None:
        return None
    naive = 1.0 / float(np.sum(fit.weights))
    if design.replicated:
        var = _replicate_coef_var(design, rows, fit.coef)
        disp = _replicate_dispersion(rows, fit, prior)
    else:
        var = _taylor_coef_var(design, rows, fit, naive)
        disp = _taylor_dispersion(rows, fit, prior)
    return _Svyglm(fit, prior, naive, var, disp)


# ---------------------------------------------------------------------- MASSprofile_glm

def _profile(y: np.ndarray, glm: _Svyglm, zmax: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``MASSprofile_glm``: signed root scaled deviance on a grid around ``b0``.

    Steps ``b = b0 + sgn k del se`` (``del = zmax/5``, ``se = sqrt(cov.unscaled)``) for
    ``k = 1, 2, ...`` while ``k < 10`` and ``|z| < zmax``, in each direction. With the
    intercept fixed the model has no free parameter, so ``D(b)`` is the deviance at
    ``mu = expit(b)`` (R's ``glm.fit`` with an empty model matrix). Returns the parameter
    values and ``z`` sorted by ``z`` (None where R stops: a better fit than ``b0``).
    """
    b0, dev0, se = glm.fit.coef, glm.fit.deviance, math.sqrt(glm.var)
    delta = zmax / 5
    bs, zs = [b0], [0.0]
    for sgn in (-1.0, 1.0):
        step, z = 0, 0.0
        while (step := step + 1) < _MAXSTEPS and abs(z) < zmax:
            bi = b0 + sgn * step * delta * se
            zz = (_deviance(y, _linkinv(np.array(bi)), glm.prior) - dev0) / glm.dispersion
            if not zz > -0.001:
                return None
            z = sgn * math.sqrt(max(zz, 0.0))
            bs.append(bi)
            zs.append(z)
    order = np.argsort(np.array(zs), kind="stable")  # R's order() is stable too
    return np.array(bs)[order], np.array(zs)[order]


# ---------------------------------------------------------------------- spline() and approx()

def _regularize(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``regularize.values(x, y, ties=mean)``: sort by ``x`` (stably), average ``y`` over
    tied ``x``."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, first = np.unique(x, return_index=True)
    if len(ux) < len(x):
        counts = np.diff(np.append(first, len(x)))
        y = np.add.reduceat(y, first) / counts
        x = ux
    return x, y


def _fmm_coef(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cubic spline coefficients with Forsythe, Malcolm & Moler end conditions.

    A transcription of R's C ``fmm_spline`` (``splines.c``): the third derivative at each end
    matches that of the cubic through the four nearest points. The spline on
    ``[x_i, x_{i+1}]`` is ``y_i + b_i t + c_i t^2 + d_i t^3`` with ``t = u - x_i``.
    """
    n = len(x)
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 3:
        b[:] = (y[1] - y[0]) / (x[1] - x[0]) if n == 2 else 0.0
        return b, c, d
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, n - 1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0], b[n - 1] = -d[0], -d[n - 2]
    c[0] = c[n - 1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[n - 1] = c[n - 2] / (x[n - 1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[n - 1] = -c[n - 1] * d[n - 2] * d[n - 2] / (x[n - 1] - x[n - 4])
    return _fmm_solve(x, y, b, c, d)


def _fmm_solve(x: np.ndarray, y: np.ndarray, b: np.ndarray, c: np.ndarray,
               d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second half of ``fmm_spline``: tridiagonal elimination, then the coefficients."""
    n = len(x)
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[n - 1] = c[n - 1] / b[n - 1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[n - 1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[n - 1])
    for i in range(n - 1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[n - 1] = 3.0 * c[n - 1]
    d[n - 1] = d[n - 2]
    return b, c, d


def _seq(start: float, stop: float, length: int) -> np.ndarray:
    """R ``seq.int(start, stop, length.out=length)``: ends exact, ``start + i by`` between."""
    out = start + np.arange(length) * ((stop - start) / (length - 1) if length > 2 else 0.0)
    out[0] = start
    if length > 1:
        out[-1] = stop
    return out


def _spline_eval(u: np.ndarray, x: np.ndarray, y: np.ndarray, b: np.ndarray, c: np.ndarray,
                 d: np.ndarray) -> np.ndarray:
    """R's C ``spline_eval`` (non-periodic): interval search as in R, then Horner."""
    n_1 = len(x) - 1
    v = np.empty(len(u))
    i = 0
    for k, ul in enumerate(u):
        if ul < x[i] or (i < n_1 and x[i + 1] < ul):
            i, j = 0, len(x)
            while True:  # bisection: x[i] <= ul < x[j]
                mid = (i + j) // 2
                i, j = (i, mid) if ul < x[mid] else (mid, j)
                if j <= i + 1:
                    break
        dx = ul - x[i]
        v[k] = y[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))
    return v


def _approx(x: np.ndarray, y: np.ndarray, v: float) -> float:
    """R ``approx(x, y, xout=v)`` (linear, ``rule=1``: NaN outside ``[x_1, x_n]``), with
    R's C ``approx1`` bisection; ``x`` sorted."""
    if not len(x) or v < x[0] or v > x[-1] or math.isnan(v):
        return math.nan
    i, j = 0, len(x) - 1
    while i < j - 1:
        mid = (i + j) // 2
        i, j = (i, mid) if v < x[mid] else (mid, j)
    if v == x[j]:
        return float(y[j])
    if v == x[i]:
        return float(y[i])
    return float(y[i] + (y[j] - y[i]) * ((v - x[i]) / (x[j] - x[i])))


def _confint_profile(par: np.ndarray, z: np.ndarray, cutoff: np.ndarray) -> np.ndarray:
    """``confint_profile``: ``approx(spline(par, z)$y, spline(par, z)$x, xout=cutoff)$y``.

    ``spline()`` regularizes ``(par, z)``, fits the FMM spline and evaluates it at
    ``seq(min, max, length.out = 3 m)``; ``approx()`` then inverts it linearly (after sorting
    the spline values, as its own ``regularize.values`` does).
    """
    x, y = _regularize(par, z)
    b, c, d = _fmm_coef(x, y)
    xout = _seq(float(x[0]), float(x[-1]), 3 * len(x))
    yout = _spline_eval(xout, x, y, b, c, d)
    zx, px = _regularize(yout, xout)
    return np.array([_approx(zx, px, float(v)) for v in cutoff])


# ---------------------------------------------------------------------- confint.svyglm

def _alpha(glm: _Svyglm, ddf: float, level: float) -> float:
    """``confint.svyglm``: ``alpha = pnorm(q sqrt(lambda))/2``, ``lambda`` = design effect
    ``cov.unscaled / naive.cov`` and ``q = qt((1 - level)/2, ddf)`` (``qnorm`` if infinite)."""
    lam = glm.var / glm.naive
    tail = (1 - level) / 2
    q = stats.norm.ppf(tail) if math.isinf(ddf) else stats.t.ppf(tail, ddf)
    return float(stats.norm.cdf(q * math.sqrt(lam)) / 2)


def _interval(design: Any, rows: _Rows, ddf: float, level: float) -> tuple[float, float]:
    """The likelihood interval of one proportion (NaN where R would fail)."""
    glm = _svyglm(design, rows)
    if glm is None or not (glm.var > 0 and glm.dispersion > 0) or not math.isfinite(glm.var):
        return math.nan, math.nan
    alpha = _alpha(glm, ddf, level)
    # quasibinomial: zmax from F(1, n - p) with n = rows of the model frame, p = 1
    zmax = math.sqrt(stats.f.isf(alpha, 1, len(rows.y) - 1))
    prof = _profile(rows.y, glm, zmax)
    if prof is None:
        return math.nan, math.nan
    cutoff = np.array([stats.norm.ppf(2 * alpha), stats.norm.isf(2 * alpha)])
    lo, hi = _confint_profile(prof[0], prof[1], cutoff)
    return _expit(lo), _expit(hi)


def _expit(eta: float) -> float:
    """survey's ``expit``: ``exp(eta)/(1 + exp(eta))`` (NaN for huge ``eta``, as in R)."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.float64(eta))
        return float(e / (1 + e))


def _rows(w: np.ndarray, num: np.ndarray, den: np.ndarray | None, domain: np.ndarray, d: int,
          j: int) -> _Rows:
    """Rows of domain ``d`` with positive weight, and those with a valid answer to ``j``."""
    frame = (domain == d) & (w > 0)
    valid = np.ones(len(w), dtype=bool) if den is None else den[:, j] > 0
    fit = frame & valid
    return _Rows(frame, fit, num[fit, j].astype("float64"), w[fit])


def likelihood_interval(design: Any, recipe: Recipe, domains: Domains, est: np.ndarray,
                        se: np.ndarray, row_df: np.ndarray, level: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Profile-likelihood limits of proportions (R ``svyciprop(method="likelihood")``).

    Parameters
    ----------
    design : Design or ReplicateDesign
        An in-memory design.
    recipe : Recipe
        0/1 event indicators (``num``) and validity (``den``) of J variables.
    domains : Domains
        The D domains; column ``d * J + j`` is variable ``j`` in domain ``d``.
    est, se : ndarray
        The proportions and their linearized SEs (used only to skip degenerate cases).
    row_df : ndarray
        Denominator degrees of freedom per estimate (R ``ddf``; ``inf`` = normal).
    level : float
        Confidence level.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        NaN where the interval cannot be computed (p = 0 or 1, zero SE, df <= 0, the
        profile leaving the spline range, or where R itself stops).

    Notes
    -----
    R equivalent: ``svyciprop(~I(y == value), design, method="likelihood", df=row_df)``,
    i.e. ``expit(confint(svyglm(y ~ 1, design, family=quasibinomial), 1,
    method="likelihood", ddf=df))``; see the module docstring for the steps.
    """
    rows = design.backend.rows()
    w = rows.weights()
    num, den, _valid = recipe(rows.frame, w)
    domain = domains.codes(rows)
    k = len(est)
    lower, upper = np.full(k, np.nan), np.full(k, np.nan)
    for col in range(k):
        p, s, ddf = float(est[col]), float(se[col]), float(row_df[col])
        if not (0 < p < 1 and s > 0 and ddf > 0):  # R: no MLE, or zero/negative df
            continue
        d, j = divmod(col, num.shape[1])
        lower[col], upper[col] = _interval(design, _rows(w, num, den, domain, d, j), ddf, level)
    return lower, upper
