"""Tests of model terms on a design: Wald F tests and working likelihood-ratio tests (R
``regTermTest``).

The Wald test of the coefficients ``b`` of some terms uses their design-based covariance
``V``: ``chisq = b' V^-1 b`` and ``F = chisq / k`` on ``k`` and the model's residual df. The
working likelihood-ratio test (Rao–Scott) compares the deviances of the model with and without
the terms (weights scaled to mean one) and refers the difference to a weighted sum of
chi-squares, the weights being the eigenvalues of ``V0^-1 V`` (``V0`` the model-based
covariance); its p-value uses the saddlepoint approximation with an F denominator, as R's
``pFsum(..., method="saddlepoint")``.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> res = sipas.glm(d, "p03 ~ p01 + C(urban)")
>>> test = wald_test(res, "C(urban)")
>>> test.df_num, test.df_den
(1, 28.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sipas._validate import check_choice
from sipas.errors import EstimationError
from sipas.models.formula import canonical_term
from sipas.models.irls import irls
from sipas.models.result import ModelResult

__all__ = ["TermTest", "pfsum_upper", "wald_test"]


@dataclass(frozen=True)
class TermTest:
    """The result of a test of model terms (read-only).

    Attributes
    ----------
    terms : tuple of str
        The terms tested.
    method : str
        ``"wald"`` or ``"lrt"``.
    statistic : float
        Wald: ``F = chisq / df_num`` (``chisq`` when ``df_den`` is infinite); LRT: the
        deviance difference (R's ``chisq``).
    chisq : float
        Wald ``b' V^-1 b``, or the deviance difference.
    df_num : int
        Number of coefficients tested.
    df_den : float
        Denominator df (the model's residual df unless given).
    p_value : float
        Upper-tail p-value.
    scale : tuple of float
        LRT: the eigenvalues of ``V0^-1 V`` (R ``lambda``); empty for Wald.
    """

    terms: tuple[str, ...]
    method: str
    statistic: float
    chisq: float
    df_num: int
    df_den: float
    p_value: float
    scale: tuple[float, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row: ``terms, method, statistic, chisq, df_num, df_den, p_value``.

        Examples
        --------
        >>> TermTest(("x",), "wald", 4.0, 4.0, 1, 30.0, 0.05).to_frame().shape
        (1, 7)
        """
        return pd.DataFrame([{"terms": " + ".join(self.terms), "method": self.method,
                              "statistic": self.statistic, "chisq": self.chisq,
                              "df_num": self.df_num, "df_den": self.df_den,
                              "p_value": self.p_value}])


def wald_test(result: ModelResult, terms: str | Sequence[str], *,
              method: Literal["wald", "lrt"] = "wald", df: float | None = None) -> TermTest:
    """Test that the coefficients of some terms are all zero (R ``regTermTest``).

    Parameters
    ----------
    result : ModelResult
        A model from :func:`sipas.glm` or :func:`sipas.ordinal`.
    terms : str or sequence of str
        Terms as written in the formula (``"C(stype)"``, ``"meals"``, ``"C(stype):meals"``;
        ``"stype"`` for ``C(stype)`` works too). Several terms are tested jointly.
    method : {"wald", "lrt"}
        Wald F test, or the working (Rao–Scott) likelihood-ratio test (GLMs only).
    df : float, optional
        Denominator df (default: the model's residual df; ``math.inf`` for chi-square).

    Returns
    -------
    TermTest

    Raises
    ------
    EstimationError
        A term is not in the model, or ``lrt`` on a model that has no deviance.

    Notes
    -----
    Wald: ``F = b' V^-1 b / k``, p from ``F(k, df)``. LRT: ``chisq = D(reduced) - D(full)``
    and ``p = P(sum_j lambda_j chi2_1 / (chi2_df / df) > chisq)`` by the saddlepoint
    approximation. R equivalent: ``regTermTest(model, ~stype, method="Wald")`` or
    ``method="LRT"``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> res = sipas.glm(d, "p03 ~ p01 + p02")
    >>> round(wald_test(res, ["p01", "p02"]).p_value, 6) < 1
    True
    """
    check_choice("method", method, ("wald", "lrt"))
    names = [terms] if isinstance(terms, str) else list(terms)
    index = _positions(result, names)
    beta = result.coef.to_numpy()[index]
    cov = result.vcov().to_numpy()[np.ix_(index, index)]
    ddf = float(result.df_residual if df is None else df)
    k = len(index)
    if method == "wald":
        chisq = float(beta @ np.linalg.solve(cov, beta))
        if np.isinf(ddf):
            return TermTest(tuple(names), "wald", chisq, chisq, k, ddf,
                            float(stats.chi2.sf(chisq, k)))
        f = chisq / k
        return TermTest(tuple(names), "wald", f, chisq, k, ddf, float(stats.f.sf(f, k, ddf)))
    state = result._model_frame
    if result.model != "glm":
        raise EstimationError("method='lrt' needs a GLM from sipas.glm; use method='wald'.")
    mf, fam, fit = state.frame, state.family, state.fit
    reduced = mf.without(tuple(index))
    fit0 = irls(reduced.X, mf.y, state.weights, mf.offset, fam, reduced.names)
    chisq = fit0.deviance - fit.deviance
    v0 = fit.bread[np.ix_(index, index)]
    lam = np.sort(np.linalg.eigvals(np.linalg.solve(v0, cov)).real)[::-1]
    p = pfsum_upper(chisq, lam, ddf)
    return TermTest(tuple(names), "lrt", chisq, chisq, k, ddf, p, tuple(lam.tolist()))


def _positions(result: ModelResult, names: list[str]) -> list[int]:
    state = result._model_frame
    table = state.frame.terms
    index: list[int] = []
    for name in names:
        key = canonical_term(name)
        if key not in table:
            raise EstimationError(f"term {name!r} is not in the model {result.formula!r}; "
                                  f"its terms are {sorted(table)}.")
        index += [j for j in table[key] if j not in index]
    return sorted(index)


def pfsum_upper(x: float, lam: np.ndarray, ddf: float) -> float:
    """``P(sum_j lam_j chi2_1 / (chi2_ddf / ddf) > x)``: saddlepoint approximation, falling
    back to Satterthwaite's F where the saddlepoint is undefined (R ``pFsum``).

    Examples
    --------
    >>> round(pfsum_upper(3.0, np.array([1.0]), np.inf), 4)  # exact P(chi2_1 > 3) = 0.0833
    0.0855
    """
    a = np.asarray(lam, dtype="float64")
    # R repeats the denominator's term int(ddf) times (rep() truncates)
    ddf_rep = 0 if np.isinf(ddf) else int(ddf)
    if ddf_rep > 10**6:  # F(., 1e6) is chi-square to 6 digits; spare the memory
        return pfsum_upper(x, a, np.inf)
    tr = a.mean()
    tr2 = (a**2).mean() / tr**2
    scale, ndf = tr * tr2, len(a) / tr2
    if np.isinf(ddf):
        fallback = float(stats.chi2.sf(x / scale, ndf))
        s = _saddle(x, a)
    else:
        fallback = float(stats.f.sf(x / ndf / scale, ndf, ddf))
        s = _saddle(0.0, np.concatenate([a, np.full(ddf_rep, -x / ddf)]))
    return fallback if np.isnan(s) else s


def _saddle(x: float, lam: np.ndarray) -> float:
    """Upper tail of ``sum lam_j chi2_1`` at ``x`` (Kuonen's saddlepoint; NaN near the
    mean, where it is unstable)."""
    d = lam.max()
    lam = lam / d
    x = x / d

    def k0(z: float) -> float:
        return float(-np.log1p(-2 * z * lam).sum() / 2)

    def k1(z: float) -> float:
        return float((lam / (1 - 2 * z * lam)).sum())

    def k2(z: float) -> float:
        return float(2 * (lam**2 / (1 - 2 * z * lam) ** 2).sum())

    if np.any(lam < 0):
        lmin = float(np.max(1 / (2 * lam[lam < 0]))) * 0.99999
    elif x > lam.sum():
        lmin = -0.01
    else:
        lmin = -len(lam) / (2 * x)
    lmax = float(np.min(1 / (2 * lam[lam > 0]))) * 0.99999
    z = optimize.brentq(lambda t: k1(t) - x, lmin, lmax, xtol=1e-8,
                        rtol=4 * np.finfo(float).eps)
    if abs(z) < 1e-4:
        return float("nan")
    w = np.sign(z) * np.sqrt(2 * (z * x - k0(z)))
    v = z * np.sqrt(k2(z))
    return float(stats.norm.sf(w + np.log(v / w) / w))
