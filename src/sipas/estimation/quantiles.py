"""Weighted quantiles with Woodruff confidence intervals (R ``svyquantile``, survey 4.x).

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> q = sipas.quantile(d, "p03", [0.5]).to_frame()
>>> float(q["estimate"][0]), list(q.columns[:3])
(4.0, ['variable', 'value', 'quantile'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from sipas._validate import check_choice, check_df, check_level, message
from sipas.backends.base import needs_memory
from sipas.design.protocol import SurveyDesign
from sipas.engine.intervals import t_quantile
from sipas.errors import DesignError
from sipas.estimation.estimate import Estimate, build_estimate
from sipas.estimation.estimators import columns_of
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe, Missing, _numeric_matrices

__all__ = ["QuantileRule", "quantile", "weighted_quantile"]

QuantileRule = Literal["math", "hf7"]


def weighted_quantile(x: np.ndarray, w: np.ndarray, p: float, rule: QuantileRule = "math"
                      ) -> float:
    """Weighted quantile of ``x`` by R's ``qrule_math`` or ``qrule_hf7``.

    Parameters
    ----------
    x : numpy.ndarray
        Values (1-d; no NaN among the rows with positive weight).
    w : numpy.ndarray
        Weights, one per value; rows with weight <= 0 are ignored.
    p : float
        Probability in [0, 1].
    rule : {"math", "hf7"}
        ``math``: the smallest ``x`` with ``F(x) >= p`` (a data value; R's default).
        ``hf7``: linear interpolation between order statistics (Hyndman-Fan type 7 with
        weights).

    Returns
    -------
    float
        The quantile; NaN when no row has positive weight or ``p`` is NaN.

    Notes
    -----
    ``math``: ``F(x) = sum_{x_i <= x} w_i / sum w_i``; the first sorted value whose ``F``
    reaches ``p`` (exact ties with ``p`` keep that value). ``hf7``: interpolate the sorted
    values at ``p_k = W_{k-1}/W_{n-1}`` with ``W_k`` the cumulative weights. Sums accumulate in
    extended precision, as R's ``cumsum``/``sum`` do, so ties are decided as in R.
    R equivalent: ``survey:::qrule_math(x, w, p)``, ``survey:::qrule_hf7(x, w, p)``.

    Examples
    --------
    >>> weighted_quantile(np.array([3., 1., 2.]), np.ones(3), 0.5)
    2.0
    >>> weighted_quantile(np.array([1., 2., 3., 4.]), np.ones(4), 0.5, rule="hf7")
    2.5
    """
    keep = w > 0
    x, w = x[keep], w[keep]
    if len(x) == 0 or np.isnan(p):
        return np.nan
    order = np.argsort(x, kind="stable")
    x = x[order]
    cumw = np.cumsum(w[order].astype(np.longdouble)).astype(np.float64)
    if rule == "hf7":
        if len(x) == 1:
            return float(x[0])
        pk = np.concatenate([[0.0], cumw[:-1]]) / cumw[-2]
        return _approx(pk, x, p)
    total = float(np.sum(w.astype(np.longdouble)))
    below = np.flatnonzero(cumw <= p * total)
    pos = below[-1] if len(below) else 0
    nxt = pos if pos == len(x) - 1 else pos + 1
    return float(x[pos] if p - cumw[pos] / total == 0 else x[nxt])


def _approx(xp: np.ndarray, fp: np.ndarray, v: float) -> float:
    """R ``approx(method="linear", rule=2)`` at one point."""
    if v <= xp[0]:
        return float(fp[0])
    if v >= xp[-1]:
        return float(fp[-1])
    i = int(np.searchsorted(xp, v, side="right")) - 1
    j = i + 1
    if v == xp[j]:
        return float(fp[j])
    if v == xp[i]:
        return float(fp[i])
    return float(fp[i] + (fp[j] - fp[i]) * ((v - xp[i]) / (xp[j] - xp[i])))


def quantile(design: SurveyDesign, variable: str, quantiles: float | Sequence[float], *,
             rule: QuantileRule = "math", by: str | Sequence[str] | None = None,
             level: float = 0.95, df: float | None = None,
             missing: Missing = "omit") -> Estimate:
    """Weighted quantiles with Woodruff intervals, overall or by domains.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (in memory; not a Dask design).
    variable : str
        A numeric column.
    quantiles : float or list of float
        Probabilities in [0, 1].
    rule : {"math", "hf7"}
        Quantile definition (see :func:`weighted_quantile`).
    by : str or list of str, optional
        Domain columns; one group of rows per observed combination (sorted).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    missing : {"omit", "error"}
        Leave missing values out (R ``na.rm=TRUE``) or refuse them.

    Returns
    -------
    Estimate
        Columns as every estimate, plus ``quantile``; ``se`` is derived from the interval,
        ``(ci_high - ci_low) / (2 t)``, and the rows carry no covariance.

    Raises
    ------
    DesignError
        A probability outside [0, 1], an unknown ``rule``, a column not in the data or not
        numeric, a bad ``level``, ``df`` or ``missing``.
    EstimationError
        A Dask design (quantiles need the rows in memory); ``missing="error"`` with
        missing values.

    Notes
    -----
    Woodruff: the interval of ``F(q)``, the estimated share at or below the quantile, is
    ``F -+ t se(F)`` with the design SE of that share; it is mapped back through the
    quantile rule. A limit outside [0, 1] gives NaN. R equivalent:
    ``svyquantile(~x, design, quantiles, qrule=rule, interval.type="mean")``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> q = sipas.quantile(d, "p03", [0.25, 0.5], by="urban").to_frame()
    >>> q[["urban", "quantile", "estimate"]].values.tolist()
    [[1.0, 0.25, 3.0], [1.0, 0.5, 4.0], [2.0, 0.25, 3.0], [2.0, 0.5, 4.0]]
    """
    level, df = check_level(level), check_df(df)
    check_choice("rule", rule, ("math", "hf7"))
    probs = np.atleast_1d(np.asarray(quantiles, dtype="float64"))
    if probs.size == 0 or np.any((probs < 0) | (probs > 1)) or np.any(np.isnan(probs)):
        raise DesignError(message("quantiles", "probabilities in [0, 1]", probs.tolist()))
    names = columns_of(design, variable, "variable")
    if len(names) != 1:
        raise DesignError(message("variable", "one column (call quantile once per column)",
                                  names))
    name = names[0]
    needs_memory(design.backend, "quantiles")
    rows = design.backend.rows()
    w = rows.weights()
    values, valid = _numeric_matrices(rows.frame, [name], missing, w)
    x, valid = values[:, 0], valid[:, 0]
    domains = design.domains(by)
    codes = domains.codes(rows)
    n_dom, j = len(domains), len(probs)
    qhat = np.array([[weighted_quantile(x, w * valid * (codes == d), p, rule) for p in probs]
                     for d in range(n_dom)])
    row_q = qhat[codes] if n_dom > 1 else np.repeat(qhat, len(x), axis=0)
    num = (x[:, None] <= row_q) * valid[:, None]
    den = np.repeat(valid[:, None], j, axis=1).astype("float64")
    basis = fit(design, ArrayRecipe(num.astype("float64"), den), domains).basis
    share, share_se = basis.full, np.sqrt(np.maximum(basis.var(), 0))
    pos = w > 0
    row_df = np.repeat([df if df is not None else
                        design.domain_df(pos & valid & (codes == d)) for d in range(n_dom)], j)
    q = t_quantile(level, row_df)
    lo_p, hi_p = share - q * share_se, share + q * share_se
    lows, highs = [], []
    for idx in range(n_dom * j):
        d = idx // j
        wd = w * valid * (codes == d)
        lows.append(np.nan if np.isnan(lo_p[idx]) or lo_p[idx] < 0
                    else weighted_quantile(x, wd, lo_p[idx], rule))
        highs.append(np.nan if np.isnan(hi_p[idx]) or hi_p[idx] > 1
                     else weighted_quantile(x, wd, hi_p[idx], rule))
    lo, hi = np.array(lows), np.array(highs)
    n = np.array([np.sum(pos & (valid > 0) & (codes == d)) for d in range(n_dom)])
    in_dom = np.array([np.sum(pos & (codes == d)) for d in range(n_dom)])
    return build_estimate(domains.labels, [name] * j, est=qhat.ravel(), se=(hi - lo) / (2 * q),
                          ci=(lo, hi), df=row_df, statistic="quantile", level=level,
                          ci_method=f"woodruff ({rule})", basis=None, quantiles=list(probs),
                          n=np.repeat(n, j), n_missing=np.repeat(in_dom - n, j))
