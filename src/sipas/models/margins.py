"""Predictive margins (adjusted means) of a model by a factor (R ``svypredmeans``, Stata
``margins``).

For each level ``g`` of the factor everyone is given level ``g``, the model predicts each
row's mean, and the margin is the weighted mean of the predictions: what the mean response
would be if everybody were in group ``g``, the other variables as they are. Its variance adds
the part from the coefficients (``G' V G``, ``G`` the derivative of the margin with respect to
the coefficients) and the design variance of the mean of the predictions, as R does (no
covariance between the two parts).

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> res = sipas.glm(d, "p03 ~ p01")
>>> margins(res, "urban").to_frame()[["urban", "estimate"]].shape
(2, 2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate, build_estimate
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe
from sipas.models.formula import canonical_term
from sipas.models.glm import glm
from sipas.models.result import ModelResult

__all__ = ["margins"]


def margins(result: ModelResult, by: str) -> Estimate:
    """Predictive margins of a GLM by the levels of a factor (R ``svypredmeans``).

    Parameters
    ----------
    result : ModelResult
        A model from :func:`sipas.glm` (the adjustment model).
    by : str
        The factor. If the model does not contain it, the model is refitted with ``C(by)``
        added, as R ``svypredmeans(adjustmodel, ~by)`` does.

    Returns
    -------
    Estimate
        One row per level (sorted), ``statistic="margin"``, on the response scale, with
        ``df`` the design df of the model's rows. ``notes["var_model"]`` and
        ``notes["var_design"]`` hold the two parts of each variance.

    Raises
    ------
    EstimationError
        ``by`` is not a column of the data, or the result is not a GLM.

    Notes
    -----
    ``m_g = sum_i w_i mu_i(g) / sum_i w_i``; ``var(m_g) = G_g' V G_g + V_design(m_g)`` with
    ``G_g = sum_i w_i mu'(eta_i(g)) x_i(g) / sum_i w_i``. R equivalent:
    ``svypredmeans(svyglm(y ~ x, design), ~g)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> res = sipas.glm(d, "p03 ~ p01 + C(urban)")
    >>> margins(res, "urban").to_frame()["urban"].tolist()
    [1.0, 2.0]
    """
    state = result._model_frame
    if result.model != "glm" or state is None:
        raise EstimationError("margins need a GLM from sipas.glm.")
    design, mf = state.design, state.frame
    if by not in design.frame.columns:
        raise EstimationError(f"by column {by!r} not found in the data.")
    if by not in mf.data.columns:
        formula = f"{result.formula} + C({by})"
        result = glm(design, formula, result.family, level=result.level)  # type: ignore[arg-type]
        state = result._model_frame
        mf = state.frame
    if not any(by in canonical_term(t).split(":") for t in mf.terms):
        raise EstimationError(f"{by!r} enters the model only through a transformation; "
                              "margins need it as a term (e.g. C(by)).")
    w = np.where(mf.used, design.weight_array, 0.0)
    col = mf.data[by]
    levels = sorted(pd.unique(col[w > 0].dropna()), key=lambda v: (isinstance(v, str), v))
    beta = result.coef.to_numpy()
    fam = state.family
    fits = np.zeros((len(w), len(levels)))
    grad = np.zeros((len(beta), len(levels)))
    for j, level in enumerate(levels):
        data = mf.data.copy()
        data[by] = pd.Categorical([level] * len(data), categories=col.cat.categories) \
            if isinstance(col.dtype, pd.CategoricalDtype) else level
        x = mf.matrix(data)
        eta = x.dot(beta) + mf.offset
        fits[:, j] = np.where(mf.used, fam.linkinv(eta), 0.0)
        grad[:, j] = x.tdot(w * fam.mu_eta(eta)) / w.sum()
    valid = np.repeat(mf.used[:, None], len(levels), axis=1)
    part = fit(design, ArrayRecipe(fits, valid.astype("float64"), valid), design.domains(None))
    est = part.basis.full
    var_design = np.diag(part.basis.cov())
    var_model = np.diag(grad.T @ result.vcov().to_numpy() @ grad)
    se = np.sqrt(var_model + var_design)
    df = np.full(len(levels), float(design.domain_df(w > 0)))
    q = stats.t.ppf(0.5 + result.level / 2, df)
    response = mf.response
    return build_estimate(pd.DataFrame({by: levels}), [response], est=est, se=se,
                          ci=(est - q * se, est + q * se), df=df, statistic="margin",
                          level=result.level, ci_method="wald", basis=None,
                          notes={"var_model": var_model, "var_design": var_design,
                                 "formula": result.formula})
