"""Linear combinations of estimates: differences, averages, any contrast, with their SE.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> by = sipas.mean(d, "p03", by="urban")
>>> sipas.contrast(by, {(1.0, "p03"): 1, (2.0, "p03"): -1}).to_frame()["variable"][0]
'contrast'
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import check_df, check_level, message
from sipas.engine.intervals import wald_interval
from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate, build_estimate

__all__ = ["contrast"]


def contrast(estimate: Estimate,
             weights: Mapping[tuple[Any, ...] | str, float] | np.ndarray | Sequence[float],
             *, name: str = "contrast", level: float | None = None,
             df: float | None = None) -> Estimate:
    """Linear combination ``sum_i c_i theta_i`` of the rows of an estimate, with its SE.

    Parameters
    ----------
    estimate : Estimate
        The estimates to combine (mean, total, proportion, ratio, index or contrast rows of
        one design; quantiles carry no covariance).
    weights : mapping, array or matrix
        A mapping row key -> coefficient (keys are ``Estimate.keys``, tuples such as
        ``(1.0, "p03")``; rows left out get 0), or an array with one coefficient per row,
        or a (rows x q) matrix for q contrasts at once. Text labels (``Estimate.labels``)
        are accepted for one release, with a DeprecationWarning.
    name : str
        Name of the result row (``variable`` column); ``name_1``... for several.
    level : float, optional
        Confidence level of the interval; default the level of ``estimate``.
    df : float, optional
        Default: the smallest df of the rows involved.

    Returns
    -------
    Estimate
        One row per contrast; statistic ``contrast``, Wald-t interval; ``n`` and
        ``n_missing`` are NA and ``deff`` NaN. It keeps a covariance, so contrasts of
        contrasts work.

    Raises
    ------
    EstimationError
        ``estimate`` has no covariance; a label in ``weights`` is not a row; the number of
        coefficients differs from the number of rows; a coefficient is not finite.
    DesignError
        ``level`` or ``df`` is invalid.

    Notes
    -----
    ``var(c' theta) = c' V c`` with the full covariance ``V`` of the rows. A row with a zero
    coefficient does not enter, even when it is NaN (an empty domain).
    R equivalent: ``svycontrast(svyby(..., covmat=TRUE), contrasts)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> by = sipas.mean(d, "p03", by="urban")
    >>> diff = sipas.contrast(by, [1, -1], name="urban - rural")
    >>> diff.to_frame()["variable"][0]
    'urban - rural'
    """
    if estimate.basis is None:
        raise EstimationError(f"{estimate.statistic} estimates have no covariance; contrasts "
                              "need means, totals, proportions, ratios or indices.")
    level = estimate.level if level is None else check_level(level)
    df = check_df(df)
    k = len(estimate)
    if isinstance(weights, Mapping):
        mat = _coefficients(estimate, weights)
    else:
        mat = np.asarray(weights, dtype="float64")
        mat = mat[:, None] if mat.ndim == 1 else mat
    if mat.shape[0] != k:
        raise EstimationError(message("weights", f"{k} coefficients (one per row)", mat.shape[0]))
    if not np.all(np.isfinite(mat)):
        raise EstimationError(message("weights", "finite numbers", mat.ravel().tolist()))
    basis = estimate.basis.combine(mat)
    involved = np.abs(mat).sum(axis=1) > 0
    row_df = float(estimate.to_frame()["df"].to_numpy()[involved].min()) if df is None else df
    names = [name] if mat.shape[1] == 1 else [f"{name}_{i + 1}" for i in range(mat.shape[1])]
    dfs = np.full(len(names), row_df)
    est = basis.full
    se = np.sqrt(np.maximum(basis.var(), 0))
    return build_estimate(pd.DataFrame(index=range(1)), names, est=est, se=se,
                          ci=wald_interval(est, se, dfs, level), df=dfs, statistic="contrast",
                          level=level, ci_method="wald", basis=basis)


def _coefficients(estimate: Estimate, weights: Mapping[Any, float]) -> np.ndarray:
    """One coefficient per row from a mapping keyed by row keys (or, deprecated, labels)."""
    keys, labels = estimate.keys, estimate.labels
    flat = {k[0]: i for i, k in enumerate(keys)} if keys and len(keys[0]) == 1 else {}
    position = {k: i for i, k in enumerate(keys)}
    mat = np.zeros((len(keys), 1))
    unknown, by_label = [], []
    for key, coef in weights.items():
        if isinstance(key, tuple) and key in position:
            mat[position[key], 0] = coef
        elif not isinstance(key, tuple) and key in flat:
            mat[flat[key], 0] = coef
        elif isinstance(key, str) and key in labels:
            mat[labels.index(key), 0] = coef
            by_label.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise EstimationError(f"contrast names unknown row(s) {unknown}; rows are {keys}.")
    if by_label:
        warnings.warn("contrast weights keyed by text labels are deprecated; key them by "
                      f"Estimate.keys (for example {keys[0]!r}).", DeprecationWarning,
                      stacklevel=3)
    return mat


