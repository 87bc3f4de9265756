"""Fitting ratios on a design: one reduction of the rows, then estimates, variance and counts.

Every estimator of sipas is a ratio ``sum w num / sum w den`` per (domain, variable), or a
linear combination of such ratios. :func:`fit` runs one :class:`FitKernel` over the design's
rows (the back end decides how: all rows at once, or partition by partition); the kernel
sums what the estimates, their variance and their counts need: sums per (sampling unit,
domain, variable), per calibration level, per replicate weight, as the design's
:meth:`~sipas.design.protocol.SurveyDesign.reduction` asks. The design then turns the sums
into its variance basis.

Examples
--------
>>> import sipas
>>> from sipas.estimation.recipes import NumericRecipe
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> result = fit(d, NumericRecipe(("p03",)), d.domains(None))
>>> round(float(result.basis.full[0]), 2)
3.77
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from sipas.backends.base import Domains
from sipas.design.protocol import InfluenceRows, Reduction, SurveyDesign
from sipas.engine import keysums
from sipas.engine.basis import VarBasis
from sipas.engine.calibration import projection_sums
from sipas.engine.domainrows import add_moments, cells, empty_moments
from sipas.engine.rows import Rows
from sipas.engine.sums import Reduced, UnitSums, join_sums, unit_sums
from sipas.errors import EstimationError
from sipas.estimation.recipes import Recipe

__all__ = ["BLOCK", "FitKernel", "InfluenceKernel", "RatioFit", "fit"]

#: variables reduced together; the rows' working arrays are (n x BLOCK), which bounds memory
BLOCK = 4
#: rows turned into influence values at a time (their temporaries stay in cache)
ROWS = 1 << 13


@dataclass(frozen=True, eq=False)
class FitKernel:
    """The sums of a ratio recipe over a chunk of rows (see the module docstring).

    Attributes
    ----------
    recipe : Recipe
        Turns a frame and its weights into ``(num, den, valid)``.
    domains : Domains
        The domains of the rows.
    plan : Reduction
        What the design's variance needs summed.
    second_moment : bool
        Also sum ``w num^2`` (design effects).
    binary : bool
        ``num`` holds only 0 and 1.
    kept : list
        The blocks of an element design's rows that fit a byte per value (0/1 indicators,
        answer codes), kept from this reduction for the second pass (:meth:`influence`)
        instead of read again.
    """

    recipe: Recipe
    domains: Domains
    plan: Reduction
    second_moment: bool = False
    binary: bool = False
    kept: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = field(
        default_factory=list, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the recipe and the domains read."""
        return tuple(dict.fromkeys([*self.recipe.columns, *self.domains.columns]))

    def __call__(self, rows: Rows) -> Reduced:
        w = rows.weights()
        dom = self.domains.codes(rows)
        d = len(self.domains)
        plan = self.plan
        units = None if plan.stage is None else rows.units(plan.stage)
        parts: list[Reduced] = []
        blocks = self.recipe.split(BLOCK)
        # a recipe that splits does so variable by variable: pieces of one are its variables
        n_vars = len(self.recipe.split(1)) if len(blocks) > 1 else 0
        wide: UnitSums | None = None
        # checked once for all blocks: every final unit one row (an element design)
        one_row = plan.defer and not rows.partial and units is not None and \
            keysums.one_row_each(units, plan.n_units)
        at = 0
        for block in blocks:
            num, den, valid = block(rows.frame, w)
            sums = unit_sums(num, den, dom, d, w, units, plan.n_units, valid=valid,
                             second_moment=self.second_moment, binary=self.binary,
                             compress=True if rows.partial else None,
                             out=None if wide is None else (wide, at),
                             defer=None if one_row else False)
            if wide is None and len(blocks) > 1 and not sums.dense:
                # compressed keys can be as many as the rows: fill one set of arrays
                wide = sums.widen(n_vars)
                sums = wide
            at += num.shape[1]
            small = _small_codes(num) if one_row else None
            if small is not None and (den is None or den.dtype == bool):
                self.kept.append((small, den, valid))
            groups = tuple(projection_sums(rows, plan.groups, _float(num),
                                           None if den is None else _float(den), dom, d, w)
                           ) if plan.groups else ()
            reps = None
            if plan.replicates is not None:
                reps = _replicate_sums(plan.replicates, num, den, dom, d)
            parts.append(Reduced(sums, groups, reps))
            del num, den, valid
        return _join(parts, d, wide)

    def combine(self, parts: Sequence[Reduced]) -> Reduced:
        """Add the chunks' sums."""
        return Reduced.add(parts)

    def influence(self, ratio: np.ndarray, scale: np.ndarray, support: bool,
                  moments: tuple[np.ndarray, int, np.ndarray] | None = None
                  ) -> InfluenceKernel:
        """The rows read again for their influence values (see
        :class:`~sipas.design.protocol.RowInfluence`)."""
        kept = list(self.kept)
        self.kept.clear()
        return InfluenceKernel(self.recipe, self.domains, ratio, scale, support, kept,
                               moments)


@dataclass(frozen=True, eq=False)
class InfluenceKernel:
    """Per final unit of one row, ``(w num - ratio w den) scale`` for every variable (ratio
    and scale of the row's domain, zero outside every domain), and with ``support`` whether
    the row is a positive-weight respondent; (units x J) in unit order.

    Attributes
    ----------
    recipe : Recipe
        The ratios' numerators and denominators.
    domains : Domains
        The domains of the rows.
    ratio, scale : numpy.ndarray
        (D x J) estimates and ``1 / denominator`` (zero where there is none).
    support : bool
        Also say which values come from positive-weight respondents.
    kept : list
        The recipe's blocks from the first pass, when it kept them all (else read again).
    moments : (numpy.ndarray, int, numpy.ndarray) or None
        The group of each unit, the number of groups and each unit's scale: the values'
        sums per (group, domain) are made with them (0/1 indicators only).
    """

    recipe: Recipe
    domains: Domains
    ratio: np.ndarray
    scale: np.ndarray
    support: bool
    kept: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = field(
        default_factory=list, repr=False)
    moments: tuple[np.ndarray, int, np.ndarray] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the recipe and the domains read."""
        return tuple(dict.fromkeys([*self.recipe.columns, *self.domains.columns]))

    def __call__(self, rows: Rows) -> InfluenceRows:
        w = rows.weights()
        dom = self.domains.codes(rows)
        inside = dom >= 0
        if not inside.all():
            dom, w = np.where(inside, dom, 0), np.where(inside, w, 0.0)
        unit = rows.units(-1)
        order = None if np.array_equal(unit, np.arange(len(unit))) else unit
        n = len(w)
        out = np.empty((n, self.ratio.shape[1]))
        valid_out = np.empty(out.shape, dtype=bool) if self.support else None
        positive = w > 0
        # booleans (a byte per value) are gathered for all variables and written a chunk of
        # whole rows at a time; other blocks column by column as they come
        flags: list[tuple[slice, np.ndarray, np.ndarray | None, np.ndarray]] = []
        at = 0
        blocks = self.recipe.split(BLOCK)
        kept = self.kept if len(self.kept) == len(blocks) else []
        for i, block in enumerate(blocks):
            num, den, valid = kept[i] if kept else block(rows.frame, w)
            cols = slice(at, at + num.shape[1])
            at = cols.stop
            if order is None and num.dtype in (np.bool_, np.int8) and (
                    den is None or den.dtype == bool):
                flags.append((cols, num, den, valid))
                continue
            _columns(out, cols, order, w, dom, num, den, self.ratio, self.scale)
            if valid_out is not None:
                valid_out[order if order is not None else slice(None), cols] = \
                    positive[:, None] & (valid != 0)
            del num, den, valid
        kept.clear()
        made = None
        if flags and len(flags) == len(blocks):
            # row-major, as ``out``: a chunk of rows is then one contiguous piece of each
            num = np.ascontiguousarray(np.concatenate([f[1] for f in flags], axis=1))
            den = None if flags[0][2] is None else np.ascontiguousarray(
                np.concatenate([f[2] for f in flags], axis=1))
            if self.moments is not None:
                group, n_groups, unit_scale = self.moments
                made = empty_moments(n_groups * len(self.ratio), out.shape[1])
                sink = (cells(group, dom, len(self.ratio)), unit_scale, *made)
            _whole_rows(out, w, dom, num, den, self.ratio, self.scale,
                        None if made is None else sink)
        else:
            for cols, num, den, _ in flags:
                _columns(out, cols, order, w, dom, num, den, self.ratio, self.scale)
        if valid_out is not None:
            for cols, _, _, valid in flags:
                valid_out[:, cols] = positive[:, None] & (valid != 0)
        return out, valid_out, made

    def combine(self, parts: Sequence[InfluenceRows]) -> InfluenceRows:
        """The one chunk's values: units of one row each are only read in memory."""
        if len(parts) != 1:
            raise EstimationError("internal: per-unit influence values come from one chunk")
        return parts[0]


# The influence of a row is ``(w num - ratio w den) scale``: ``_columns`` does it in the order
# of the per-unit sums (the same numbers as that layout), ``_whole_rows`` as
# ``w (scale num - scale ratio den)`` (equal to rounding, a pass fewer).

def _whole_rows(out: np.ndarray, w: np.ndarray, dom: np.ndarray, num: np.ndarray,
                den: np.ndarray | None, ratio: np.ndarray, scale: np.ndarray,
                sink: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None) -> None:
    """Indicators or small whole numbers (a byte per value), every variable at once, written
    in place a chunk of whole rows at a time: ``w (scale num - scale ratio den)``; ``sink`` =
    (cell and scale of every unit, sums, squares) also sums the chunk while it is in cache
    (:func:`~sipas.engine.domainrows.add_moments`)."""
    minus = -(scale * ratio)
    for lo in range(0, len(w), ROWS):
        part = slice(lo, lo + ROWS)
        d, wp, values = dom[part], w[part, None], out[part]
        # rows sorted by domain mostly give chunks of one domain: one row of coefficients
        one = d[0] == d[-1] and bool((d == d[0]).all())
        a, b = (scale[d[:1]], minus[d[:1]]) if one else (scale[d], minus[d])
        np.multiply(num[part], a, out=values)
        if den is not None:
            values += den[part] * b
        values *= wp
        if sink is not None:
            add_moments(sink[2], sink[3], values, sink[0][part], sink[1][part])


def _columns(out: np.ndarray, cols: slice, order: np.ndarray | None, w: np.ndarray,
             dom: np.ndarray, num: np.ndarray, den: np.ndarray | None, ratio: np.ndarray,
             scale: np.ndarray) -> None:
    """A block of variables column by column (contiguous), then into the rows of ``out``
    (unit ``order[i]`` for row ``i``; ``None``: in order) a chunk at a time."""
    n = len(w)
    values = np.empty((n, num.shape[1]), order="F")
    part, by_row = np.empty(n), np.empty(n)
    for c in range(num.shape[1]):
        col = values[:, c]
        np.multiply(w, num[:, c], out=col)
        if den is not None:
            np.multiply(w, den[:, c], out=part)
            part *= np.take(ratio[:, cols.start + c], dom, out=by_row)
            col -= part
        col *= np.take(scale[:, cols.start + c], dom, out=by_row)
    for lo in range(0, n, 4 * ROWS):
        rows = slice(lo, lo + 4 * ROWS)
        out[rows if order is None else order[rows], cols] = values[rows]


def _small_codes(num: np.ndarray) -> np.ndarray | None:
    """``num`` in a byte per value when that is exact: 0/1 indicators, or whole numbers
    within -127..127 (answer codes of a Likert item), else None."""
    if num.dtype == bool:
        return num
    if num.dtype.kind != "f" or not len(num):
        return None
    if np.abs(num).max() > 127 or not np.array_equal(num, np.round(num)):
        return None
    return num.astype(np.int8, order="F")


def _float(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.float64 else np.asarray(a, dtype="float64")


def _replicate_sums(rep: np.ndarray, num: np.ndarray, den: np.ndarray | None, dom: np.ndarray,
                    d: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(R x D x J) sums of the numerators and denominators under each replicate weight."""
    rows = sparse.csr_matrix(rep.T)

    def per_domain(values: np.ndarray) -> np.ndarray:
        n, j = values.shape
        inside = np.flatnonzero(dom >= 0)
        cols = (dom[inside][:, None] * j + np.arange(j)[None, :]).ravel()
        mat = sparse.csr_matrix((_float(values)[inside].ravel(), (np.repeat(inside, j), cols)),
                                shape=(n, d * j))
        return np.asarray((rows @ mat).todense()).reshape(rep.shape[1], d, j)

    return per_domain(num), None if den is None else per_domain(den)


def _join(parts: list[Reduced], d: int, units: UnitSums | None = None) -> Reduced:
    """The sums of blocks of variables side by side (variables in order); ``units``: the
    unit sums already filled in place."""
    if len(parts) == 1:
        return _flat(parts[0])
    if units is None:
        units = join_sums([p.units for p in parts])
    groups = tuple(_join_pairs([p.projections[g] for p in parts], np.hstack)
                   for g in range(len(parts[0].projections)))
    reps = None
    if parts[0].replicates is not None:
        reps = _join_pairs([_replicates(p) for p in parts],
                           lambda arrays: np.concatenate(arrays, axis=2))
    return _flat(Reduced(units, groups, reps))


def _replicates(part: Reduced) -> tuple[np.ndarray, np.ndarray | None]:
    if part.replicates is None:
        raise ValueError("cannot join reductions with and without replicate sums")
    return part.replicates


def _join_pairs(pairs: Sequence[tuple[np.ndarray, np.ndarray | None]],
                stack: Callable[[list[np.ndarray]], np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """(numerator, denominator or None) sums of blocks of variables side by side."""
    dens = [d for _, d in pairs if d is not None]
    if dens and len(dens) != len(pairs):
        raise ValueError("cannot join ratio sums to sums without denominators")
    return stack([n for n, _ in pairs]), stack(dens) if dens else None


def _flat(r: Reduced) -> Reduced:
    """Replicate sums as (R x D*J), domain-major like every other result."""
    if r.replicates is None or r.replicates[0].ndim == 2:
        return r
    num, den = r.replicates
    k = num.shape[1] * num.shape[2]
    return Reduced(r.units, r.projections,
                   (num.reshape(num.shape[0], k), None if den is None else
                    den.reshape(den.shape[0], k)))


@dataclass(frozen=True, eq=False)
class RatioFit:
    """Estimates of a recipe on a design, their variance basis and the counts behind them,
    all from one reduction of the rows.

    Attributes
    ----------
    design : SurveyDesign
        The design.
    domains : Domains
        The domains of the estimates.
    sums : UnitSums
        The unit sums.
    basis : VarBasis
        Estimates (``basis.full``, domain-major) and their variance basis.
    denom : numpy.ndarray or None
        The weighted denominators (None for totals).
    """

    design: SurveyDesign
    domains: Domains
    sums: UnitSums
    basis: VarBasis
    denom: np.ndarray | None

    @property
    def n(self) -> np.ndarray:
        """Positive-weight respondents with a valid value, per (domain, variable)."""
        return self.sums.total("pden").ravel()

    @property
    def rows(self) -> np.ndarray:
        """Positive-weight rows per domain."""
        return self.sums.total("prow")

    def domain_df(self) -> np.ndarray:
        """Degrees of freedom of each domain (counted within it)."""
        return self.design.domain_dfs(self.sums, self.domains)

    def deff(self, var: np.ndarray, statistic: str) -> tuple[np.ndarray, np.ndarray]:
        """Design effects against SRS without and with replacement (R ``deff=TRUE`` and
        ``deff="replace"``): ``v_srs = s^2 (N - n)/(N n)`` (or ``s^2/n``) for a mean, times
        ``N^2`` for a total, ``s^2`` the weighted element variance (n - 1 divisor)."""
        s = self.sums
        if s.wnum2 is None:
            raise EstimationError("design effects need the sums of squares (reduce the rows "
                                  "with second_moment=True)")
        wnum, wval = s.total("wnum").ravel(), s.total("wval").ravel()
        wnum2, n = s.total("wnum2").ravel(), self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = (wnum2 - wnum**2 / wval) / wval * n / (n - 1)
            v_rep, v_wor = s2 / n, s2 * (wval - n) / (wval * n)
            if statistic == "total":
                v_rep, v_wor = v_rep * wval**2, v_wor * wval**2
            return var / v_wor, var / v_rep


def fit(design: SurveyDesign, recipe: Recipe, domains: Domains, *,
        second_moment: bool = False, binary: bool = False) -> RatioFit:
    """Reduce the rows once and build the estimates and their variance basis.

    Parameters
    ----------
    design : SurveyDesign
        A design (either kind, either back end).
    recipe : Recipe
        The ratios' numerators and denominators.
    domains : Domains
        Their domains (``design.domains(by)``).
    second_moment : bool
        Also sum ``w num^2`` (design effects).
    binary : bool
        ``num`` holds only 0 and 1.

    Returns
    -------
    RatioFit
    """
    kernel = FitKernel(recipe, domains, design.reduction(), second_moment, binary)
    sums = design.backend.reduce(kernel)
    u = sums.units
    num = u.total("wnum")
    den = None if u.wden is None else u.total("wden")
    with np.errstate(divide="ignore", invalid="ignore"):
        est = num if den is None else np.where(den > 0, num / den, np.nan)
    denom = None if den is None else den.ravel()
    basis = design.variance_basis(sums, est.ravel(), denom, kernel.influence)
    return RatioFit(design, domains, u, basis, denom)


def estimates(design: SurveyDesign, recipe: Recipe, by: Any = None) -> VarBasis:
    """The estimates of ``recipe`` (domain-major) and their variance basis.

    Examples
    --------
    >>> import sipas
    >>> from sipas.estimation.recipes import NumericRecipe
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> estimates(d, NumericRecipe(("p03",)), "urban").k
    2
    """
    return fit(design, recipe, design.domains(by)).basis
