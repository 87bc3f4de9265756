"""The design-based covariance of model coefficients: sums of influence per sampling unit.

A model's coefficients solve weighted estimating equations ``sum_i w_i U_i(beta) = 0``. Their
linearised variable is ``A^-1 U_i`` with ``A`` the derivative of the equations (the bread), so
on a Taylor design the covariance is the design's multistage variance of the per-unit totals
of ``w_i U_i`` times ``A^-1`` on both sides (R ``svy.varcoef``: ``svyrecvar(estfun %*% Ainv)``).
The totals are computed by the design's own machinery (:func:`sipas.estimation.fit.fit` on an
array recipe), so calibration after raking, post-stratification or GREG enters exactly as for
a mean. On a replicate design the model is refitted with every replicate's weights, started
from the full-sample fit (R ``svyglm.svyrep.design``), and the replicate variance taken.

Examples
--------
>>> import numpy as np, sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> U = np.ones((d.n, 1))
>>> taylor_basis(d, U, np.eye(1), np.zeros(1)).k
1
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sipas.design.protocol import SurveyDesign
from sipas.engine.basis import VarBasis
from sipas.errors import EstimationError
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe

__all__ = ["replicate_basis", "taylor_basis"]


def taylor_basis(design: SurveyDesign, scores: np.ndarray, bread: np.ndarray,
                 beta: np.ndarray) -> VarBasis:
    """The variance basis of coefficients from per-row scores (without the weight).

    Parameters
    ----------
    design : SurveyDesign
        A Taylor design (its final weights multiply the scores).
    scores : numpy.ndarray
        (rows x k) ``U_i``; zero on rows left out.
    bread : numpy.ndarray
        (k x k) ``A^-1`` for the design's weights.
    beta : numpy.ndarray
        The k estimates.

    Returns
    -------
    VarBasis
        Influence totals per final unit (calibration-aware) and the design's engine.
    """
    if not design.backend.in_memory:
        raise EstimationError("models need the data in memory: compute the Dask design first "
                              "(sipas.Design(frame.compute(), ...)).")
    # calibration projections are linear, so the bread can be applied after them
    res = fit(design, ArrayRecipe(np.asarray(scores, dtype="float64"), None),
              design.domains(None))
    totals = res.basis.values
    infl = np.asarray(totals @ bread)
    return VarBasis(infl, np.asarray(beta, dtype="float64"), res.basis.engine)


def replicate_basis(design: SurveyDesign, refit: Callable[[np.ndarray], np.ndarray],
                    used: np.ndarray, beta: np.ndarray) -> VarBasis:
    """The variance basis of coefficients refitted under every replicate weight.

    Parameters
    ----------
    design : SurveyDesign
        A replicate design.
    refit : callable
        Replicate analysis weights per row -> coefficients.
    used : numpy.ndarray of bool
        Rows the model uses (others get weight zero).
    beta : numpy.ndarray
        Full-sample coefficients (the centre with ``mse=True``).

    Returns
    -------
    VarBasis
        (R x k) replicate coefficients and the design's replicate engine.
    """
    if not design.backend.in_memory:
        raise EstimationError("models need the data in memory: compute the Dask design first.")
    reps = design.replicate_weights()  # type: ignore[attr-defined]
    out = np.empty((reps.shape[1], len(beta)))
    for r in range(reps.shape[1]):
        wr = np.where(used, reps[:, r], 0.0)
        out[r] = refit(wr / wr.sum())
    return VarBasis(out, np.asarray(beta, dtype="float64"), design.engine)  # type: ignore[attr-defined]
