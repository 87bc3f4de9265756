"""Generalised linear models on a survey design (R ``svyglm``).

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd)
>>> res = sipas.glm(d, "p03 ~ p01 + C(urban)")
>>> res.terms
('(Intercept)', 'p01', 'urban=2')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import check_choice, check_level
from sipas.design.protocol import SurveyDesign, is_design
from sipas.errors import DesignError, EstimationError
from sipas.models.family import FAMILIES, Family, FamilyName
from sipas.models.formula import ModelFrame, check_levels, model_frame
from sipas.models.irls import IrlsFit, irls
from sipas.models.result import ModelResult, build_model_result
from sipas.models.sandwich import replicate_basis, taylor_basis

__all__ = ["GlmState", "glm"]


@dataclass(frozen=True, eq=False)
class GlmState:
    """What tests and margins need of a fitted GLM (kept inside its result)."""

    design: SurveyDesign
    frame: ModelFrame
    family: Family
    fit: IrlsFit
    weights: np.ndarray


def glm(design: SurveyDesign, formula: str, family: FamilyName = "gaussian", *,
        subset: np.ndarray | pd.Series | None = None,
        reference: Mapping[str, Any] | None = None, level: float = 0.95) -> ModelResult:
    """Fit a generalised linear model with design-based standard errors (R ``svyglm``).

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (after any weighting; in memory).
    formula : str
        ``"response ~ terms"`` (formulaic): numeric terms, ``C(g)`` categoricals (treatment
        coding), interactions ``a:b`` and ``a*b``, transformations, ``offset(expr)``.
    family : {"gaussian", "binomial", "quasibinomial", "poisson", "quasipoisson"}
        Error family with its canonical link (identity, logit, log). The quasi families give
        the same coefficients and design-based SEs as their parents.
    subset : array of bool, optional
        A domain: the model is fitted to these rows, the variance uses the whole design
        (R ``svyglm(..., subset=)``, the same as ``design.subset(mask)``).
    reference : mapping, optional
        Reference level per categorical column, e.g. ``{"district": 3}`` (default: the
        first sorted level).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    ModelResult
        Coefficients, design-based covariance, t statistics, p-values and intervals on the
        residual df ``design df + 1 - #coefficients``.

    Raises
    ------
    DesignError
        Unknown column, malformed formula, unknown family.
    EstimationError
        Collinear or constant terms, a level with no respondents, a response outside the
        family's range, separation in a logistic model, no convergence.

    Notes
    -----
    The coefficients solve ``sum_i w_i x_i (y_i - mu_i) mu'_i / V(mu_i) = 0``. On a Taylor
    design their covariance is ``A^-1 V_design(sum w U) A^-1`` with ``A = X' W X`` (the
    sandwich of R ``svy.varcoef``), calibration-aware after weighting; on a replicate design
    the model is refitted with every replicate weight (R ``svyglm.svyrep.design``). Rows with
    a missing model variable are left out as a domain. R equivalent:
    ``summary(svyglm(formula, design, family=quasibinomial()))`` and ``confint(...)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd)
    >>> res = sipas.glm(d, "I(p01 == 1) ~ C(urban)", family="quasibinomial")
    >>> res.to_frame()[["term", "df"]].values.tolist()
    [['(Intercept)', 29.0], ['urban=2', 29.0]]
    """
    if not is_design(design):
        raise DesignError(f"design must be a sipas Design or ReplicateDesign; got "
                          f"{type(design).__name__}.")
    check_choice("family", family, tuple(FAMILIES))
    level = check_level(level)
    if subset is not None:
        design = design.subset(subset)
    fam = FAMILIES[family]
    mf = model_frame(_frame(design), formula, reference=reference)
    w = np.where(mf.used, design.weight_array, 0.0)
    state = fit_state(design, mf, fam, w, _scale(design.weight_array))
    n = int(np.count_nonzero(w > 0))
    df = float(design.domain_df(w > 0)) + 1 - len(mf.names)
    if design.replicated:
        basis = replicate_basis(design, lambda wr: irls(
            mf.X, mf.y, wr, mf.offset, fam, mf.names, start=state.fit.beta).beta,
            mf.used, state.fit.beta)
        variance = "replicate (refitted)"
    else:
        r = np.where(mf.used, state.fit.residual(mf.y, fam), 0.0)
        bread = state.fit.bread / _scale(design.weight_array)
        basis = taylor_basis(design, mf.X.score_columns(r), bread, state.fit.beta)
        variance = "Taylor (sandwich)"
    info = {"deviance": state.fit.deviance, "iterations": state.fit.iterations,
            "variance": variance}
    return build_model_result(model="glm", formula=formula, family=family, link=fam.link,
                              terms=mf.names, basis=basis, df_residual=df, level=level, n=n,
                              info=info, model_frame=state)


def fit_state(design: SurveyDesign, mf: ModelFrame, fam: Family, w: np.ndarray,
              scale: float) -> GlmState:
    """Check the model's data and fit it with the weights divided by ``scale``, the mean
    weight of the design's rows before rows with missing values are left out (R's rescaling,
    which sets the deviance a likelihood-ratio test uses)."""
    check_levels(mf, w)
    fam.check(mf.y[w > 0], mf.response)
    wn = w / scale
    fit = irls(mf.X, mf.y, wn, mf.offset, fam, mf.names)
    return GlmState(design, mf, fam, fit, wn)


def _scale(w: np.ndarray) -> float:
    pos = w[w > 0]
    if not len(pos):
        raise EstimationError("no row has a positive weight in this domain.")
    return float(pos.mean())


def _frame(design: SurveyDesign) -> pd.DataFrame:
    if not design.backend.in_memory:
        raise EstimationError("models need the data in memory: build the design on a pandas "
                              "frame (e.g. from dask_frame.compute()).")
    return design.frame
