"""Key-driver analysis: which factor moves overall satisfaction most, and how sure we are.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> res = sipas.drivers(d, "q23", ["access", "officials"], spec=sd.spec, replicates=20, rng=1)
>>> res.drivers
('access', 'officials')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, check_level, message, require_columns
from sipas.design.design import Design
from sipas.design.protocol import SurveyDesign
from sipas.design.replicate import ReplicateDesign
from sipas.design.resampling import replicate
from sipas.drivers.importance import (
    MAX_LMG,
    correlations,
    covariances,
    lmg,
    moment_columns,
    relative_weights,
    standardised,
)
from sipas.drivers.result import DriverResult, build_driver_result
from sipas.engine.intervals import proportion_interval, wald_interval
from sipas.errors import DesignError, EstimationError
from sipas.estimation.estimators import check_design
from sipas.estimation.fit import fit
from sipas.estimation.recipes import ArrayRecipe
from sipas.indices.build import IndexBuild, interval_method
from sipas.indices.scores import ItemRecipe, Measure, ScoreRecipe, item_scores
from sipas.spec import Spec

__all__ = ["Importance", "drivers"]

Importance = Literal["lmg", "relative_weights"]


def drivers(design: SurveyDesign, outcome: str,
            drivers: Sequence[str] | Mapping[str, Sequence[str]], *,
            spec: Spec | None = None, importance: Importance = "lmg",
            replicates: int = 100, rng: int | np.random.Generator | None = None,
            level: float = 0.95, measure: Measure | None = None,
            satisfied: Sequence[float] | None = None,
            missing_codes: Sequence[float] | None = None,
            scale: tuple[float, float] | None = None,
            split: Literal["mean", "median"] = "mean") -> DriverResult:
    """Key drivers of an outcome: coefficients, relative importance, impact and the
    importance-performance matrix, with design-based intervals from replicates.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (in memory). A linearisation design is turned into a Rao-Wu
        bootstrap design with ``replicates`` replicates; a replicate design is used as is.
    outcome : str
        The overall question (a column of answer codes, e.g. ``spec.overall_item``).
    drivers : list of str, or mapping
        Driver columns, factor names of ``spec`` (a factor's score is a respondent's mean
        over its valid items), or a mapping ``{name: [items]}`` of groups of items.
    spec : Spec, optional
        Gives factor names, missing codes, the satisfied codes and scale range of the
        outcome's scale, the index measure, and labels.
    importance : {"lmg", "relative_weights"}
        Shapley/LMG shares of R² (exact over all 2^p submodels, up to 15 drivers) or
        Johnson's relative weights (any number of drivers).
    replicates : int
        Bootstrap replicates made for a linearisation design (ignored for a replicate design).
    rng : int or numpy.random.Generator, optional
        Seed of the bootstrap.
    level : float
        Confidence level of the intervals.
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}, optional
        Performance measure (the factor index); default the spec's, else ``top_box``.
    satisfied, missing_codes, scale : optional
        Satisfied codes, missing codes and ``(min, max)`` of the answer scale; default from
        ``spec`` (else ``(4, 5)``, none, ``(1, 5)``).
    split : {"mean", "median"}
        Where the importance-performance matrix is cut into quadrants.

    Returns
    -------
    DriverResult

    Raises
    ------
    DesignError
        An outcome or driver column not in the data; an unknown ``importance`` or ``split``.
    EstimationError
        A constant driver or outcome, collinear drivers, no more respondents than drivers,
        LMG with more than 15 drivers.

    Notes
    -----
    Rows with the outcome or a driver missing are left out (a domain: the variance uses
    the whole design). The weighted regression of the outcome on the drivers gives the
    coefficients ``b_j`` (R ``svyglm``), standardised ``b_j sd_j / sd_y``; the impact of +1
    point of driver ``j`` on a 0-100 scale is ``b_j (range_j / range_y)`` points of the
    outcome on its 0-100 scale (the ACSI convention, per point instead of per 5 points).
    LMG shares are ``phi_j = sum_S |S|! (p - |S| - 1)! / p! (R²(S + j) - R²(S))``
    (Lindeman, Merenda & Gold 1980; Grömping 2006), relative weights follow Johnson (2000);
    both add up to R². Every statistic is a function of the weighted covariance of outcome
    and drivers, so each replicate needs only its weighted totals of ``1, z, z z'``; the
    intervals are ``estimate +- t(df) se`` with the replicate SE and the design df.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.drivers(d, sd.spec.overall_item, [f.name for f in sd.spec.factors],
    ...                     spec=sd.spec, replicates=20, rng=1)
    >>> t = res.to_frame()
    >>> imp = t[t["measure"] == "importance"]["estimate"]
    >>> bool(abs(imp.sum() - res.r2) < 1e-12)
    True
    """
    check_design(design)
    check_choice("importance", importance, ("lmg", "relative_weights"))
    check_choice("split", split, ("mean", "median"))
    level = check_level(level)
    if not design.backend.in_memory:
        raise EstimationError("drivers need the data in memory: build the design on a pandas "
                              "frame (e.g. from dask_frame.compute()).")
    opts = _options(spec, outcome, measure, satisfied, missing_codes, scale)
    groups = _groups(drivers, spec)
    cols = [outcome, *dict.fromkeys(c for items in groups.values() for c in items)]
    require_columns(design.backend.columns, cols, "drivers")
    frame = design.frame
    codes = np.asarray(opts["missing_codes"], dtype=float)
    y = _numeric(frame, outcome, codes)
    x = np.column_stack([_group_score(frame, items, codes) for items in groups.values()])
    names = tuple(groups)
    if importance == "lmg" and len(names) > MAX_LMG:
        raise EstimationError(message("drivers", f"at most {MAX_LMG} names for importance='lmg'"
                                      " (2^p submodels)", f"{len(names)} drivers",
                                      "Use importance='relative_weights'."))
    w = design.weight_array
    used = (w > 0) & ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    z = np.column_stack([y, x])[used]
    wu = w[used]
    centre, spread = _spread(z, wu, (outcome, *names))
    zs = np.zeros((len(w), z.shape[1]))
    zs[used] = (z - centre) / spread
    m = moment_columns(zs)  # rows left out are zero in every column but the first
    m[:, 0] = used
    _check_collinear(correlations(covariances(w @ m, z.shape[1]))[0], names)
    if not design.replicated and getattr(design, "calibrated", False):
        raise DesignError("drivers take their intervals from replicates, and a weighted "
                          "design cannot be bootstrapped after the fact: build "
                          "sipas.replicate(unweighted_design, 'bootstrap', replicates=100), "
                          "apply the same weighting steps to it, and pass that design.")
    if isinstance(design, ReplicateDesign):
        rep = design
    elif isinstance(design, Design):
        rep = replicate(design, "bootstrap", replicates=replicates, rng=rng)
    else:
        raise DesignError(message("drivers", "a sipas.Design or sipas.ReplicateDesign",
                                  type(design).__name__,
                                  "Build one with sipas.Design(frame, ids=..., weights=...)."))
    basis = fit(rep, ArrayRecipe(m, None), rep.domains(None)).basis
    ranges = _ranges(spec, groups, opts["scale"])
    full = _statistics(np.asarray(basis.full)[None], importance, spread, ranges)
    reps = _statistics(np.asarray(basis.values), importance, spread, ranges)
    performance = _performance(design, groups, opts, level)
    df = float(design.domain_df(used))
    return build_driver_result(
        outcome=outcome, drivers=names, labels=_labels(spec, groups), full=full, reps=reps,
        engine=rep.engine, df=df, level=level, n=int(used.sum()), importance=importance,
        performance=performance, split=split, replicates=int(rep.n_replicates),
        measure=opts["measure"])


def _options(spec: Spec | None, outcome: str, measure: Any, satisfied: Any, missing: Any,
             scale: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"measure": "top_box", "satisfied": (4, 5), "missing_codes": (),
                           "scale": (1.0, 5.0)}
    if spec is not None:
        out["measure"] = spec.index.measure
        out["missing_codes"] = tuple(c for v in spec.missing.values() for c in v)
        if outcome in spec.item_names:
            sc = spec.scale_of(outcome)
            out["satisfied"] = sc.satisfied
            out["scale"] = (float(min(sc.codes)), float(max(sc.codes)))
            out["missing_codes"] = tuple(c for v in spec.missing_codes(outcome).values()
                                         for c in v)
    for key, value in (("measure", measure), ("satisfied", satisfied),
                       ("missing_codes", missing), ("scale", scale)):
        if value is not None:
            out[key] = tuple(value) if key != "measure" else value
    lo, hi = (float(v) for v in out["scale"])
    if not hi > lo:
        raise DesignError(message("scale", "(min, max) with min < max", out["scale"]))
    out["scale"] = (lo, hi)
    return out


def _groups(drivers: Any, spec: Spec | None) -> dict[str, tuple[str, ...]]:
    if isinstance(drivers, str):
        drivers = [drivers]
    if isinstance(drivers, Mapping):
        out = {str(k): tuple([v] if isinstance(v, str) else v) for k, v in drivers.items()}
    else:
        factors = {f.name: f.items for f in spec.factors} if spec is not None else {}
        out = {str(d): tuple(factors.get(d, (d,))) for d in drivers}
    if not out or any(not v for v in out.values()):
        raise DesignError(message("drivers", "at least one driver, each with at least one "
                                  "column", drivers))
    return out


def _numeric(frame: pd.DataFrame, col: str, codes: np.ndarray) -> np.ndarray:
    try:
        v = frame[col].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise EstimationError(message(f"column {col!r}", "numeric answer codes",
                                      str(frame[col].dtype), "Recode it to numbers.")) from exc
    return np.where(np.isin(v, codes), np.nan, v) if len(codes) else v


def _group_score(frame: pd.DataFrame, items: Sequence[str], codes: np.ndarray) -> np.ndarray:
    """A respondent's mean over the valid answers to ``items`` (NaN with none)."""
    total = np.zeros(len(frame))
    count = np.zeros(len(frame))
    for c in items:
        v = _numeric(frame, c, codes)
        ok = ~np.isnan(v)
        total += np.where(ok, v, 0.0)
        count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _spread(z: np.ndarray, w: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Weighted means and SDs of outcome and drivers; refuses too few rows, a constant."""
    p = len(names) - 1
    if len(z) <= p + 1:
        raise EstimationError(f"drivers: {len(z)} respondents answer {names[0]!r} and every "
                              f"driver, but a model with {p} drivers needs more than {p + 1}. "
                              "Use fewer drivers or a larger domain.")
    centre = w @ z / w.sum()
    var = w @ (z - centre) ** 2 / w.sum()
    for name, v, c in zip(names, var, centre):
        if not v > 1e-12 * max(1.0, c * c):
            raise EstimationError(f"driver or outcome {name!r} is constant ({c:g}) among the "
                                  "respondents used; leave it out of the model.")
    return centre, np.sqrt(var)


def _check_collinear(corr: np.ndarray, names: tuple[str, ...]) -> None:
    if len(names) < 2:
        return
    vals, vecs = np.linalg.eigh(corr[1:, 1:])
    if vals[0] < 1e-10:
        # the drivers with weight in the null direction are the ones that repeat each other
        involved = [names[j] for j in np.flatnonzero(np.abs(vecs[:, 0]) > 1e-3)]
        raise EstimationError(f"drivers {involved} are collinear: one of them is (almost) a "
                              "linear combination of the others. Leave one out or merge the "
                              "drivers that repeat each other.")


def _ranges(spec: Spec | None, groups: Mapping[str, Sequence[str]],
            scale: tuple[float, float]) -> np.ndarray:
    """Driver range / outcome range: turns a slope into points per point on 0-100."""
    out = []
    for items in groups.values():
        lo, hi = scale
        if spec is not None and items[0] in spec.item_names:
            codes = spec.scale_of(items[0]).codes
            lo, hi = float(min(codes)), float(max(codes))
        out.append((hi - lo) / (scale[1] - scale[0]))
    return np.asarray(out)


def _statistics(totals: np.ndarray, importance: str, spread: np.ndarray,
                ranges: np.ndarray) -> dict[str, np.ndarray]:
    """Per replicate (rows): every statistic of the result, from the moment totals."""
    q = len(spread)
    cov = covariances(totals, q)
    corr = correlations(cov)
    b, beta, r2 = standardised(cov)
    share = lmg(corr) if importance == "lmg" else relative_weights(corr)
    coef = b * spread[0] / spread[1:]
    return {"coefficient": coef, "standardised": beta, "importance": share,
            "share": share / r2[:, None], "impact": coef * ranges, "r2": r2[:, None]}


def _performance(design: SurveyDesign, groups: Mapping[str, Sequence[str]],
                 opts: Mapping[str, Any], level: float) -> pd.DataFrame:
    """Every driver's index (the estimate and SE of :func:`sipas.factor_index`, items
    aggregated) from one reduction of the rows; no design effects, which nobody reads here."""
    items = list(dict.fromkeys(c for v in groups.values() for c in v))
    recipe = ScoreRecipe(tuple(items), opts["measure"], tuple(opts["satisfied"]),
                         tuple(opts["missing_codes"]), opts["scale"])
    item_scores(design.backend.empty(), items, opts["measure"], satisfied=opts["satisfied"],
                missing_codes=opts["missing_codes"], scale=opts["scale"])  # checks, up front
    load = np.zeros((len(items), len(groups)))
    for f, cols in enumerate(groups.values()):
        load[[items.index(c) for c in cols], f] = 1.0 / len(cols)
    build = IndexBuild(design, recipe, None, level, None)
    res = build.fit(ItemRecipe(recipe), recipe.binary)
    combined = res.basis.combine(load)
    est = np.asarray(combined.full, dtype=float)
    se = np.sqrt(np.maximum(combined.var(), 0))
    df = np.repeat(res.domain_df(), len(groups)).astype(float)
    method = interval_method(None, opts["measure"])
    if method == "logit":
        low, high = proportion_interval(method, est, se, df, level,
                                        np.repeat(res.rows, len(groups)))
    else:
        low, high = wald_interval(est, se, df, level)
    return pd.DataFrame({"estimate": est, "se": se, "ci_low": low, "ci_high": high, "df": df})


def _labels(spec: Spec | None, groups: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    out = []
    for name in groups:
        label: Mapping[str, str] = {}
        if spec is not None:
            if name in {f.name for f in spec.factors}:
                label = spec.factor(name).label
            elif name in spec.item_names:
                label = spec.item(name).label
        out.append(label.get("en") or label.get("vi") or name)
    return tuple(out)
