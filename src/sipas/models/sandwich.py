"""The design-based covariance of model coefficients: sums of influence per sampling unit.

A model's coefficients solve weighted estimating equations ``sum_i w_i U_i(beta) = 0``. Their
linearised variable is ``A^-1 U_i`` with ``A`` the derivative of the equations (the bread), so
on a Taylor design the covariance is the design's multistage variance of the per-unit totals
of ``w_i U_i`` times ``A^-1`` on both sides (R ``svy.varcoef``: ``svyrecvar(estfun %*% Ainv)``).

What is computed: the totals ``T[u, j] = sum_{i in u} w_i U_ij`` per final sampling unit ``u``
(calibration-aware), then ``T A^-1``, whose multistage variance is the covariance. The totals
are computed by the design's own machinery (:func:`sipas.estimation.fit.fit` on an array
recipe), so calibration after raking, post-stratification or GREG enters exactly as for a
mean; calibration projections are linear, so the bread is applied after them. The scores
come in parts (:class:`ScoreColumns`): dense columns are summed as they are; a one-hot block
of a GLM's model matrix (``U_ij = r_i x_ij`` with at most one ``j`` of the block nonzero per
row) is one column ``r_i x_i,code(i)`` summed per (unit, code), a domain total, which gives
every column of the block in one pass instead of one pass per level. On a replicate design
the model is refitted with every replicate's weights, started from the full-sample fit (R
``svyglm.svyrep.design``), and the replicate variance taken.

Examples
--------
>>> import numpy as np, sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> U = np.ones((d.n, 1))
>>> taylor_basis(d, [ScoreColumns(U, np.arange(1))], np.eye(1), np.zeros(1)).k
1
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sipas.backends.base import row_domains
from sipas.design.protocol import SurveyDesign
from sipas.engine.basis import VarBasis
from sipas.errors import EstimationError
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe

__all__ = ["ScoreColumns", "replicate_basis", "taylor_basis"]


@dataclass(frozen=True, eq=False)
class ScoreColumns:
    """Some columns of the per-row scores ``U`` (without the weight).

    Attributes
    ----------
    values : numpy.ndarray
        (rows x J) the columns; with ``codes``, (rows x 1): the value of the row's column.
    positions : numpy.ndarray of int
        Position among the coefficients of each column (J of them, or one per code).
    codes : numpy.ndarray of int, optional
        Which column each row's value belongs to (``0 .. len(positions) - 1``; -1: none):
        column ``l`` is ``values`` where ``codes == l`` and zero elsewhere.
    """

    values: np.ndarray
    positions: np.ndarray
    codes: np.ndarray | None = None


def taylor_basis(design: SurveyDesign, scores: Sequence[ScoreColumns], bread: np.ndarray,
                 beta: np.ndarray) -> VarBasis:
    """The variance basis of coefficients from per-row scores (without the weight).

    Parameters
    ----------
    design : SurveyDesign
        A Taylor design (its final weights multiply the scores).
    scores : sequence of ScoreColumns
        The columns of ``U`` (rows x k), zero on rows left out, every coefficient in one part.
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
    totals: np.ndarray | None = None
    engine = None
    for part in scores:
        domains = (design.domains(None) if part.codes is None
                   else row_domains(part.codes, len(part.positions)))
        res = fit(design, ArrayRecipe(np.asarray(part.values, dtype="float64"), None), domains)
        t = res.basis.values
        t = t.toarray() if sparse.issparse(t) else np.asarray(t)
        if totals is None:
            totals = np.zeros((t.shape[0], len(beta)))
        totals[:, part.positions] = t
        engine = res.basis.engine
    if totals is None or engine is None:
        raise EstimationError("internal: a model without score columns")
    # calibration projections are linear, so the bread can be applied after them
    return VarBasis(totals @ bread, np.asarray(beta, dtype="float64"), engine)


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
