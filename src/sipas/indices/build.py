"""One reduction of the item scores of a design, shared by items, factors and the overall
index, and the indices built from it as linear combinations of ratio estimates.

In memory the scores are computed once and every reduction reuses them; on a Dask design
every reduction runs the score recipes on the partitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, message, plain
from sipas.backends.base import Domains
from sipas.design.protocol import SurveyDesign
from sipas.engine.intervals import proportion_interval, wald_interval
from sipas.engine.rows import Rows
from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate, build_estimate
from sipas.estimation.fit import RatioFit, fit
from sipas.estimation.recipes import Recipe
from sipas.indices.scores import ItemRecipe, RespondentRecipe, ScoreRecipe

__all__ = ["IndexBuild", "IndexCI", "interval_method", "item_weights"]

IndexCI = Literal["logit", "wald"]


def interval_method(ci: str | None, measure: str) -> str:
    """Interval of an index: ``logit`` for indices in [0, 1] (shares and rescaled means: the
    interval stays in [0, 1] even with few PSUs), ``wald`` for means on the item scale."""
    if ci is None:
        return "wald" if measure == "mean" else "logit"
    check_choice("ci", ci, ("logit", "wald"))
    if ci == "logit" and measure == "mean":
        raise EstimationError("ci='logit' needs an index in [0, 1]; a mean on the item scale "
                              "uses ci='wald'.")
    return ci


def item_weights(weights: Sequence[float] | None, j: int) -> np.ndarray:
    """Item weights normalised to sum 1 (default equal).

    Examples
    --------
    >>> item_weights([1, 3], 2).tolist()
    [0.25, 0.75]
    """
    if weights is None:
        return np.full(j, 1.0 / j)
    a = np.asarray(weights, dtype="float64")
    if a.shape != (j,) or np.any(a < 0) or a.sum() <= 0:
        raise EstimationError(message("item_weights", f"{j} non-negative numbers with a positive "
                                      "sum", [plain(v) for v in a]))
    return a / a.sum()


@dataclass
class IndexBuild:
    """One reduction of the item scores of a design, shared by items, factors and overall.

    Every reduction scores the items again, a block of items (or a chunk of rows) at a time:
    scoring is cheap, and holding the scores of every item and row would take several times
    the memory of the data.
    """

    design: SurveyDesign
    recipe: ScoreRecipe
    by: Any
    level: float
    df: float | None
    domains: Domains = field(init=False)

    def __post_init__(self) -> None:
        self.domains = self.design.domains(self.by)

    @property
    def labels(self) -> pd.DataFrame:
        """The domain labels."""
        return self.domains.labels

    @property
    def n_domains(self) -> int:
        return len(self.domains)

    @property
    def names(self) -> list[str]:
        return list(self.recipe.items)

    def fit(self, rows: ItemRecipe | RespondentRecipe, binary: bool) -> RatioFit:
        """One reduction of the rows of ``rows``: estimates, basis, counts, moments."""
        return fit(self.design, rows, self.domains, second_moment=True,
                   binary=binary)

    def row_sums(self, rows: ItemRecipe | RespondentRecipe, fn: Any) -> Any:
        """Sum of ``fn(num, den, domain, w)`` over the rows (partitions for Dask)."""
        return self.design.backend.reduce(RowSums(rows, self.domains, fn))

    def combine(self, fit: RatioFit, rows: Any, load: np.ndarray, names: list[str],
                ci_method: str = "wald") -> Estimate:
        """Indices ``load' R`` (per domain) of the ratios in ``fit`` as an Estimate."""
        d, k = self.n_domains, len(names)
        combined = fit.basis.combine(np.kron(np.eye(d), load))
        var = combined.var()
        est, se = combined.full, np.sqrt(np.maximum(var, 0))
        row_df = np.full(d * k, self.df) if self.df is not None else \
            np.repeat(fit.domain_df(), k)
        multi = np.any((load > 0).sum(axis=0) > 1)
        n = self.row_sums(rows, _RespondentCounts(load > 0, d)).ravel() if multi else \
            (fit.n.reshape(d, -1) @ (load > 0)).ravel()
        rows_in = np.repeat(fit.rows, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            deff = var / self._srs_variance(fit, rows, load)
        if ci_method in ("logit", "beta", "wilson", "asin", "xlogit"):
            ci = proportion_interval(ci_method, est, se, row_df, self.level, rows_in)
        else:
            ci = wald_interval(est, se, row_df, self.level)
        return build_estimate(self.labels, names, est=est, se=se, ci=ci, df=row_df,
                              statistic="index", level=self.level, ci_method=ci_method,
                              basis=combined, n=n.astype(np.int64),
                              n_missing=(rows_in - n).astype(np.int64), deff=(deff, np.nan),
                              notes={"df": "given" if self.df is not None else "domain"})

    def factors(self, groups: Mapping[str, list[int]], weights: Mapping[str, np.ndarray],
                aggregate: str, ci: str = "wald") -> tuple[Estimate, RatioFit, Any, np.ndarray]:
        """Factor indices, and the fit, row recipe and loadings they are built from."""
        rows: ItemRecipe | RespondentRecipe
        if aggregate == "items":
            rows = ItemRecipe(self.recipe)
            load = np.zeros((len(self.names), len(groups)))
            for f, (name, cols) in enumerate(groups.items()):
                load[cols, f] = weights[name]
            fit = self.fit(rows, self.recipe.binary)
        else:
            rows = RespondentRecipe(self.recipe, tuple(tuple(c) for c in groups.values()),
                                    tuple(tuple(float(x) for x in weights[g]) for g in groups))
            load = np.eye(len(groups))
            fit = self.fit(rows, False)
        return self.combine(fit, rows, load, list(groups), ci), fit, rows, load

    def _srs_variance(self, fit: RatioFit, rows: Any, load: np.ndarray) -> np.ndarray:
        """Variance of ``load' R`` under simple random sampling of the same respondents.

        Item covariance ``n_jk/(n_j n_k) s_jk n_jk/(n_jk-1) (1 - n_jk/N_jk)`` with ``s_jk``
        the weighted covariance over respondents valid for both items; for one item it is
        R's ``svymean(deff=TRUE)`` denominator. The diagonal comes from the reduction's
        moments; cross terms, needed only for indices of several items, from one more pass.
        """
        s, d = fit.sums, self.n_domains
        if s.wnum2 is None:
            raise EstimationError("the SRS variance needs the sums of squares (reduce the rows "
                                  "with second_moment=True)")
        theta = fit.basis.full.reshape(d, -1)
        wnum, wval = s.total("wnum"), s.total("wval")
        wnum2, n = s.total("wnum2"), s.total("pden")
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = wnum2 - 2 * theta * wnum + theta**2 * wval
            diag = np.nan_to_num(ss / wval / (n - 1) * (1 - n / wval))
        out = np.einsum("jf,dj->df", load**2, diag)
        if np.any((load != 0).sum(axis=0) > 1):
            cov_num, wv, njk = self.row_sums(rows, _CrossSums(theta, d))
            nj = np.einsum("djj->dj", njk)
            with np.errstate(divide="ignore", invalid="ignore"):
                cov = cov_num / wv * njk / (njk - 1) * (1 - njk / wv) * njk / (
                    nj[:, :, None] * nj[:, None, :])
            cov = np.nan_to_num(cov)
            idx = np.arange(cov.shape[1])
            cov[:, idx, idx] = 0.0
            out = out + np.einsum("jf,djk,kf->df", load, cov, load)
        return out.ravel()


#: rows scored at a time for row sums (the scores of all items of a chunk stay small)
ROWS = 1 << 17


@dataclass(frozen=True, eq=False)
class RowSums:
    """A kernel: ``fn(num, den, domain, w)`` of a recipe's rows, added over chunks."""

    recipe: Recipe
    domains: Domains
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.recipe.columns, *self.domains.columns]))

    def __call__(self, rows: Rows) -> Any:
        w, frame = rows.weights(), rows.frame
        dom = self.domains.codes(rows)
        # the sums add over rows: a chunk of rows at a time keeps the scores of every item
        # small; a recipe that reads no column holds its arrays for all rows (one call)
        step = ROWS if self.recipe.columns else max(len(w), 1)
        parts = []
        for lo in range(0, max(len(w), 1), step):
            chunk = frame if step >= len(w) else frame.iloc[lo: lo + step]
            num, den, _valid = self.recipe(chunk, w[lo: lo + step])
            if den is None:
                raise EstimationError("row sums of an index need scores over valid answers "
                                      "(a recipe with denominators)")
            parts.append(self.fn(num, den, dom[lo: lo + step], w[lo: lo + step]))
            del num, den, _valid
        return self.combine(parts)

    def combine(self, parts: Sequence[Any]) -> Any:
        if isinstance(parts[0], tuple):
            return tuple(np.sum([p[i] for p in parts], axis=0) for i in range(len(parts[0])))
        return np.sum(parts, axis=0)


@dataclass(frozen=True)
class _RespondentCounts:
    """Positive-weight respondents with at least one valid item of each index, per domain."""

    used_items: np.ndarray
    n_domains: int

    def __call__(self, num, den, dom, w) -> np.ndarray:
        used = (den @ self.used_items) > 0
        pos = (w > 0) & (dom >= 0)
        d = np.where(pos, dom, 0)
        return np.column_stack([np.bincount(d, weights=(used[:, f] & pos).astype("float64"),
                                            minlength=self.n_domains)
                                for f in range(used.shape[1])])


@dataclass(frozen=True)
class _CrossSums:
    """Per domain: weighted cross products of centred scores, weighted and plain counts of
    pairs of valid items (additive over rows, so partitions can be summed)."""

    theta: np.ndarray
    n_domains: int

    def __call__(self, num, den, dom, w):
        # 0/1 scores come as booleans: products of booleans would be booleans, not counts
        num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
        d, j = self.n_domains, num.shape[1]
        out = [np.zeros((d, j, j)) for _ in range(3)]
        keep = (w > 0) & (dom >= 0)
        if keep.all() and np.all(dom[1:] >= dom[:-1]):
            # rows sorted by domain (survey files usually are): slices, no copies
            x, v, wr, dk = num, den, w, dom
        else:
            rows = np.flatnonzero(keep)
            rows = rows[np.argsort(dom[rows], kind="stable")]
            x, v, wr, dk = num[rows], den[rows], w[rows], dom[rows]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(dk, minlength=d))])
        for k in range(d):
            part = slice(bounds[k], bounds[k + 1])
            if bounds[k] == bounds[k + 1]:
                continue
            vk, wk = v[part], wr[part, None]
            c = (x[part] - self.theta[k] * vk) * vk
            out[0][k] = (c * wk).T @ c
            out[1][k] = (vk * wk).T @ vk
            out[2][k] = vk.T @ vk
        return tuple(out)
