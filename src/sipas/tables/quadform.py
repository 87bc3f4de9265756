"""Tail probabilities of weighted sums of chi-squares (the reference of Rao–Scott tests).

Pearson's X^2 on a complex sample is asymptotically ``sum_i delta_i Z_i^2`` with the
eigenvalues ``delta_i`` of the design-effect matrix. Three ways to its tail, as R ``survey``
(``pchisqsum``, ``pFsum``):

* ``satterthwaite``: a scaled chi-square (or F) with matched mean and variance;
* ``saddlepoint``: Kuonen's (1999) saddlepoint approximation, with the root found by Brent's
  method on the same bracket and tolerance as R's ``uniroot``, so the numbers agree with R;
* ``integration``: the exact probability by Ruben's (1962) series, a mixture of chi-squares
  (or of F distributions, with denominator df) that converges for positive weights, as
  design effects are (R uses Farebrother's algorithm, Ruben's series too, or Davies'
  inversion of the characteristic function: the same probability to their accuracy).

With denominator df ``ddf`` (a design with finitely many PSUs), the statistic is compared
with ``sum_i delta_i Z_i^2 / (chi^2_ddf / ddf)``: ``P(sum delta_i Z_i^2 - x chi^2_ddf/ddf > 0)``.

Examples
--------
>>> from scipy import stats
>>> p = chisqsum_sf(6.0, [1.0, 1.0, 1.0], method="integration")
>>> bool(abs(p - stats.chi2.sf(6.0, 3)) < 1e-8)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["Method", "Weights", "chisqsum_sf", "fsum_sf", "saddle", "zeroin"]

Method = Literal["satterthwaite", "saddlepoint", "integration"]
#: weights of the chi-squares (a sequence or an array)
Weights = Sequence[float] | np.ndarray

EPS = float(np.finfo(float).eps)


def zeroin(f: Callable[[float], float], a: float, b: float, fa: float, fb: float,
           tol: float, maxit: int = 1000) -> float:
    """A root of ``f`` in ``[a, b]`` by Brent's method (Brent 1973, the ``zeroin``
    algorithm of Forsythe, Malcolm and Moler), stopping as R's ``uniroot`` does.

    The saddlepoint p-value depends on where the search stops (R stops within ``tol``), so
    the same algorithm and stopping rule reproduce R's numbers, not only its precision.

    Examples
    --------
    >>> round(zeroin(lambda x: x * x - 2, 0.0, 2.0, -2.0, 2.0, 1e-12), 10)
    1.4142135624
    """
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # two points: secant
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:  # three points: inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def saddle(x: float, lam: Weights, counts: Weights | None = None) -> float:
    """Saddlepoint approximation of ``P(sum_i lam_i Z_i^2 > x)`` (NaN near the mean, where
    it is unreliable and R falls back).

    Parameters
    ----------
    x : float
        The point.
    lam : sequence of float
        The weights (distinct values).
    counts : sequence of float, optional
        How many times each weight occurs (default once).

    Examples
    --------
    >>> round(saddle(10.0, [1.0, 1.0]), 4)  # exact: exp(-5) = 0.0067
    0.0069
    """
    d = float(np.max(lam))
    lam = np.asarray(lam, dtype="float64") / d
    cnt = np.ones_like(lam) if counts is None else np.asarray(counts, dtype="float64")
    x = x / d

    def k0(z: float) -> float:
        return -float(np.sum(cnt * np.log(1 - 2 * z * lam))) / 2

    def k1(z: float) -> float:
        return float(np.sum(cnt * lam / (1 - 2 * z * lam)))

    def k2(z: float) -> float:
        return 2 * float(np.sum(cnt * lam**2 / (1 - 2 * z * lam) ** 2))

    if np.any(lam < 0):
        lmin = float(np.max(1 / (2 * lam[lam < 0]))) * 0.99999
    elif x > float(np.sum(cnt * lam)):
        lmin = -0.01
    else:
        lmin = -float(cnt.sum()) / (2 * x)
    lmax = float(np.min(1 / (2 * lam[lam > 0]))) * 0.99999
    h = zeroin(lambda z: k1(z) - x, lmin, lmax, k1(lmin) - x, k1(lmax) - x, 1e-8)
    if abs(h) < 1e-4:
        return math.nan
    w = math.copysign(math.sqrt(2 * (h * x - k0(h))), h)
    v = h * math.sqrt(k2(h))
    return float(stats.norm.sf(w + math.log(v / w) / w))


def _ruben(x: float, lam: np.ndarray, ddf: float = math.inf) -> float:
    """``P(sum_j lam_j Z_j^2 / (chi^2_ddf / ddf) > x)`` for positive ``lam`` by Ruben's
    (1962) series: a mixture of chi-squares ``chi^2_{k + 2i}`` scaled by ``beta = min lam``
    (F distributions with ``ddf`` denominator df), summed until the weights left are below
    1e-14."""
    lam = lam[lam > 1e-12 * lam.max()]
    k = len(lam)
    beta = float(lam.min())
    gamma = 1 - beta / lam
    weights = [float(np.prod(np.sqrt(beta / lam)))]
    g: list[float] = []
    total = weights[0]
    while 1 - total > 1e-14 and len(weights) < 100_000:
        i = len(weights)
        g.append(0.5 * float(np.sum(gamma**i)))
        c = float(np.dot(g[::-1], weights)) / i
        if c <= 0:
            break
        weights.append(c)
        total += c
    w = np.asarray(weights)
    dfs = k + 2 * np.arange(len(w))
    if math.isinf(ddf):
        tails = stats.chi2.sf(x / beta, dfs)
    else:
        tails = stats.f.sf(x / (beta * dfs), dfs, ddf)
    return float(min(max(np.dot(w, tails), 0.0), 1.0))


def _satterthwaite(a: np.ndarray) -> tuple[float, float]:
    tr = float(np.mean(a))
    tr2 = float(np.mean(a**2)) / tr**2
    return tr * tr2, len(a) / tr2


def chisqsum_sf(x: float, a: Weights, method: Method = "saddlepoint") -> float:
    """``P(sum_i a_i Z_i^2 > x)`` (R ``pchisqsum(x, df=1, a, lower.tail=FALSE)``).

    Parameters
    ----------
    x : float
        The statistic (Pearson's X^2).
    a : sequence of float
        The weights (eigenvalues of the design-effect matrix).
    method : {"satterthwaite", "saddlepoint", "integration"}
        See the module docstring; ``saddlepoint`` falls back to ``satterthwaite`` near the
        mean, as R does.

    Examples
    --------
    >>> round(chisqsum_sf(6.0, [1.0, 1.0, 1.0], method="satterthwaite"), 6)
    0.11161
    """
    lam = np.asarray(a, dtype="float64")
    scale, ndf = _satterthwaite(lam)
    guess = float(stats.chi2.sf(x / scale, ndf))
    if method == "satterthwaite":
        return guess
    if method == "integration":
        return _ruben(x, lam)
    s = saddle(x, lam)
    return guess if math.isnan(s) else s


def fsum_sf(x: float, a: Weights, ddf: float,
            method: Method = "saddlepoint") -> float:
    """``P(sum_i a_i Z_i^2 / (chi^2_ddf / ddf) > x)`` (R ``pFsum(..., lower.tail=FALSE)``).

    R repeats the weight ``-x/ddf`` ``ddf`` times, truncated to an integer, in the
    saddlepoint, and passes ``ddf`` as an integer to Davies' algorithm for the exact tail;
    so does this function (``P(sum_i a_i Z_i^2 > x chi^2_m / ddf)``, ``m = floor(ddf)``),
    so the numbers agree. ``ddf = inf`` is :func:`chisqsum_sf`.

    Examples
    --------
    >>> from scipy import stats
    >>> p = fsum_sf(6.0, [1.0, 1.0], 30.0, method="integration")  # integer ddf: exact F
    >>> bool(abs(p - stats.f.sf(3.0, 2, 30)) < 1e-8)
    True
    """
    if math.isinf(ddf):
        return chisqsum_sf(x, a, method)
    lam = np.asarray(a, dtype="float64")
    if method == "integration":
        # R (CompQuadForm::davies) takes the df of the chi-square as an integer, keeping
        # the weight -x/ddf: P(sum a Z^2 > x/ddf chi^2_m) with m = floor(ddf)
        m = math.floor(ddf)
        return _ruben(x * m / ddf, lam, m)
    scale, ndf = _satterthwaite(lam)
    value = float(stats.f.sf(x / ndf / scale, ndf, ddf))
    if method == "saddlepoint":
        s = saddle(0.0, np.append(lam, -x / ddf),
                   np.append(np.ones_like(lam), math.floor(ddf)))
        if not math.isnan(s):
            value = s
    return value
