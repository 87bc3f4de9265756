"""Tests of association in a two-way table on a complex sample (R ``svychisq``).

Pearson's X^2 computed on the weighted table is not chi-squared under a complex design. The
Rao–Scott corrections divide it by the design effects of the table; the Wald tests use the
design-based covariance of the cell totals directly. Both take the covariance of the cells
from :func:`~sipas.tables.cells.cell_fit`, so they work on every design sipas has (Taylor,
after calibration, replicate weights, Dask).

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> r = sipas.chisq_test(d, "urban", "p01")
>>> r.reference, 0 <= r.p_value <= 1
('F', True)
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import linalg, stats

from sipas._validate import check_choice, plain
from sipas.design.protocol import SurveyDesign
from sipas.errors import EstimationError
from sipas.tables.cells import TableLayout, cell_fit, table_layout
from sipas.tables.quadform import Method, fsum_sf
from sipas.tables.result import TestResult

__all__ = ["Statistic", "chisq_test"]

Statistic = Literal["F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint"]
STATISTICS = ("F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint")


def chisq_test(design: SurveyDesign, row: str, col: str, *,
               statistic: Statistic = "F") -> TestResult:
    """Test of independence of two categorical variables on a complex sample.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (any kind; weighting steps enter the variance).
    row, col : str
        The two categorical columns (numeric codes or text). Rows missing either are left
        out of the table (R ``na.rm=TRUE``) and stay in the design.
    statistic : {"F", "Chisq", "Wald", "adjWald", "lincom", "saddlepoint"}
        ``F`` (default): second-order Rao–Scott, Pearson's X^2 divided by the mean design
        effect, on F with ``d`` and ``d * nu`` df (Satterthwaite ``d``). ``Chisq``:
        first-order Rao–Scott, X^2 over the mean design effect on chi-squared with
        ``(r-1)(c-1)`` df. ``Wald``: the Wald statistic of the interaction cells divided by
        its df, on F with ``(r-1)(c-1)`` and ``nu`` df; ``adjWald``: Wald's F adjusted for
        the design df (``nu - (r-1)(c-1) + 1`` denominator df). ``saddlepoint`` and
        ``lincom``: X^2 against its asymptotic distribution, a weighted sum of chi-squares,
        by a saddlepoint approximation or exactly (numerical integration).

    Returns
    -------
    TestResult
        ``statistic``, ``df_num``, ``df`` (denominator), ``p_value``; ``details`` holds
        Pearson's X^2 (``pearson``), the eigenvalues of the design-effect matrix
        (``deffs``), their mean (``mean_deff``), the design df ``nu`` and the table size.

    Raises
    ------
    DesignError
        An unknown column; ``row == col``; a variable with fewer than two values; an unknown
        ``statistic``.
    EstimationError
        A row or column of the table has no respondents (no weight among the rows with both
        answers): the message names the level; recode or drop it.

    Notes
    -----
    With cell shares ``p`` (r x c, from the weighted table), their design-based covariance
    ``V`` and ``C`` the interaction contrasts orthogonalised to the main effects,
    ``Delta = (C' D^-1 C / N)^-1 C' D^-1 V D^-1 C`` (``D = diag(p)``), ``X^2 = N sum
    (p_ij - p_i. p_.j)^2 / (p_i. p_.j)``, ``F = X^2 / tr(Delta)``,
    ``d = tr(Delta)^2 / tr(Delta^2)`` (Rao and Scott 1984). ``nu`` is the design df (PSUs
    minus strata; replicate designs: rank of the replicate weights minus one). ``N`` is the
    number of rows with positive weight, including rows with a missing answer, as R (only
    X^2 and the saddlepoint p-value depend on it). Wald: ``Y = N_ij - N_i. N_.j / N`` from
    the estimated totals, ``W = Y' V_Y^-1 Y`` over the cells of rows and columns 2..r, 2..c.

    For ``Chisq`` the statistic reported is the corrected ``X^2 / mean(deffs)`` (R prints
    the uncorrected X^2 and puts the correction in the p-value only); ``details["pearson"]``
    is R's number.
    R equivalent: ``svychisq(~row + col, design, statistic=...)``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> r = sipas.chisq_test(d, "urban", "p01", statistic="Chisq")
    >>> r.df_num
    1.0
    """
    check_choice("statistic", statistic, STATISTICS)
    layout = table_layout(design, row, col)
    nu = float(design.df)
    if statistic in ("Wald", "adjWald"):
        return _wald(design, layout, statistic, nu)
    res, _order = cell_fit(design, layout, "cell")
    p = res.basis.full
    _refuse_empty(layout, p)
    n_rows = float(res.rows[0])
    k_df = (layout.shape[0] - 1) * (layout.shape[1] - 1)
    delta, (numr, denom) = _deff_matrix(layout, p, res.basis.cov(), n_rows)
    # Delta = denom^-1 numr with both symmetric, denom positive definite: its eigenvalues
    # are those of the symmetric-definite pencil, real and found stably
    deffs = np.sort(linalg.eigh(numr, denom, eigvals_only=True))[::-1]
    trace = float(np.trace(delta))
    d0 = trace**2 / float(np.sum(delta * delta.T))
    pearson = _pearson(layout, p, n_rows)
    details = {"pearson": pearson, "deffs": deffs.tolist(), "mean_deff": trace / k_df,
               "nu": nu, "n": n_rows, "shape": layout.shape}
    name = f"{row} x {col}"
    if statistic == "F":
        f = pearson / trace
        return TestResult(f"Rao-Scott F test (second order) of {name}", "F", f,
                          df_num=d0, df=d0 * nu, p_value=float(stats.f.sf(f, d0, d0 * nu)),
                          details=details)
    if statistic == "Chisq":
        x = pearson / (trace / k_df)
        return TestResult(f"Rao-Scott chi-squared test (first order) of {name}", "chisq", x,
                          df_num=k_df, p_value=float(stats.chi2.sf(x, k_df)),
                          details=details)
    method: Method = "saddlepoint" if statistic == "saddlepoint" else "integration"
    replicated = bool(design.replicated)
    # R: F-type reference with d * nu denominator df on linearization designs, but the
    # chi-squared sum on replicate designs
    ddf = math.inf if replicated else d0 * nu
    pv = fsum_sf(pearson, deffs, ddf, method)
    label = "saddlepoint approximation" if method == "saddlepoint" else "exact distribution"
    return TestResult(f"Pearson X-squared of {name}, {label}", "quadratic form", pearson,
                      df_num=k_df, df=ddf, p_value=pv, details=details)


def _refuse_empty(layout: TableLayout, p: np.ndarray) -> None:
    r, c = layout.shape
    table = p.reshape(r, c)
    for axis, name, lv in ((1, layout.row, layout.row_levels),
                           (0, layout.col, layout.col_levels)):
        sums = table.sum(axis=axis)
        empty = [plain(lv[i]) for i in np.flatnonzero(~(sums > 0))]
        if empty:
            other = layout.col if name == layout.row else layout.row
            raise EstimationError(
                f"level(s) {empty} of {name!r} have no respondents with an answer to "
                f"{other!r} (zero weight), so the table has an empty "
                f"{'row' if name == layout.row else 'column'}. Recode or drop the level "
                "(e.g. a subset without it) before testing.")


def _contrasts(layout: TableLayout) -> np.ndarray:
    """Interaction contrasts of the cells (row-major) orthogonal to the main effects.

    On the complete r x c grid the residual of the interaction dummies of levels 2.. on the
    main effects (R ``qr.resid(qr(X1), X12)``) is the doubly centred dummies
    ``(1[i = a] - 1/r)(1[j = b] - 1/c)``, so no decomposition is needed.
    """
    r, c = layout.shape
    rows = (np.eye(r) - 1.0 / r)[:, 1:]
    cols = (np.eye(c) - 1.0 / c)[:, 1:]
    return np.kron(rows, cols)


def _deff_matrix(layout: TableLayout, p: np.ndarray, v: np.ndarray, n: float
                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Rao–Scott ``Delta``: design covariance of the interaction over its SRS covariance;
    also the two symmetric matrices it is the ratio of (numerator, denominator)."""
    cm = _contrasts(layout)
    with np.errstate(divide="ignore"):
        inv = np.where(p > 0, 1 / p, 0.0)
    scaled = cm * inv[:, None]
    denom = cm.T @ scaled / n
    numr = scaled.T @ v @ scaled
    numr = (numr + numr.T) / 2
    return np.linalg.solve(denom, numr), (numr, denom)


def _pearson(layout: TableLayout, p: np.ndarray, n: float) -> float:
    r, c = layout.shape
    table = p.reshape(r, c) * n
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    return float(np.sum((table - expected) ** 2 / expected))


def _wald(design: SurveyDesign, layout: TableLayout, statistic: str, nu: float) -> TestResult:
    res, _order = cell_fit(design, layout, "total")
    t = res.basis.full
    r, c = layout.shape
    table = t.reshape(r, c)
    _refuse_empty(layout, t)
    tr, tc, tt = table.sum(axis=1), table.sum(axis=0), table.sum()
    y = (table - np.outer(tr, tc) / tt).ravel()
    # Jacobian of Y_ij = T_ij - T_i. T_.j / T with respect to every cell total T_kl
    ri = np.repeat(np.arange(r), c)
    ci = np.tile(np.arange(c), r)
    jac = (np.eye(r * c)
           - (ri[:, None] == ri[None, :]) * tc[ci][:, None] / tt
           - (ci[:, None] == ci[None, :]) * tr[ri][:, None] / tt
           + np.outer(tr[ri] * tc[ci], np.ones(r * c)) / tt**2)
    use = np.flatnonzero((ri > 0) & (ci > 0))
    vy = res.basis.combine(jac[use].T).cov()
    wald = float(y[use] @ np.linalg.solve(vy, y[use]))
    k_df = (r - 1) * (c - 1)
    details = {"wald": wald, "nu": nu, "shape": layout.shape}
    name = f"{layout.row} x {layout.col}"
    if statistic == "Wald":
        f, ddf, what = wald / k_df, nu, "Wald F test"
    else:
        ddf = nu - k_df + 1
        f, what = wald * ddf / (k_df * nu), "adjusted Wald F test"
    return TestResult(f"Design-based {what} of association {name}", "F", f, df_num=k_df,
                      df=ddf, p_value=float(stats.f.sf(f, k_df, ddf)), details=details)
