"""Base weights, non-response adjustment and trimming."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_choice, message, plain
from sipas.backends.base import RowWeights, needs_memory
from sipas.design.protocol import Reweighting, SurveyDesign, WeightingStep
from sipas.errors import ConvergenceError, DesignError, WeightingError
from sipas.weighting.diagnostics import weight_stats

__all__ = ["base_weights", "nonresponse", "trim"]


def base_weights(frame: pd.DataFrame, probabilities: str | Sequence[str], *,
                 frame_size: float | dict[Any, float] | None = None,
                 strata: str | None = None, rtol: float = 1e-6) -> pd.Series:
    """Design weights ``1 / prod_k p_k`` from the selection probability of every stage.

    Parameters
    ----------
    frame : DataFrame
        One row per selected unit.
    probabilities : str or list of str
        Columns with the probability of selection at each stage (e.g. the commune's
        probability proportional to size, then the respondent's within the commune).
    frame_size : float or dict, optional
        The known size of the frame (or per stratum, with ``strata``). The weights must sum
        to it within ``rtol`` (exact for equal-probability stages); otherwise a
        :class:`WeightingError` says by how much they differ.
    strata : str, optional
        Stratum column for a per-stratum ``frame_size``.
    rtol : float
        Relative tolerance of the ``frame_size`` check: ``|sum w - N| <= rtol N``.

    Returns
    -------
    Series
        ``base_weight``, indexed like ``frame``.

    Raises
    ------
    WeightingError
        A probability outside (0, 1] or missing (naming the column and rows), or weights
        that do not add up to ``frame_size``.

    Notes
    -----
    ``w_i = 1 / prod_k p_ik``, the inverse of the unconditional selection probability. R
    equivalent: ``svydesign(probs=~p1+p2)`` (which multiplies the stage probabilities).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"p1": [0.5, 0.5, 0.25], "p2": [0.1, 0.1, 0.5]})
    >>> base_weights(f, ["p1", "p2"]).tolist()
    [20.0, 20.0, 8.0]
    """
    cols = as_name_list("probabilities", probabilities)
    missing = [c for c in cols if c not in frame.columns]
    if missing or not cols:
        raise DesignError(f"probability column(s) {missing or cols} not found in the data; "
                             "give one column per sampling stage.")
    prob = np.ones(len(frame))
    for c in cols:
        p = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64")
        bad = ~((p > 0) & (p <= 1))
        if bad.any():
            rows = np.flatnonzero(bad)[:10].tolist()
            raise WeightingError(f"selection probability column {c!r} must be in (0, 1]; rows "
                                 f"{rows} have {p[bad][:10].tolist()}.")
        prob *= p
    w = pd.Series(1.0 / prob, index=frame.index, name="base_weight")
    if frame_size is not None:
        _check_frame_size(frame, w, frame_size, strata, rtol)
    return w


def _check_frame_size(frame, w, frame_size, strata, rtol) -> None:
    if isinstance(frame_size, dict):
        if strata is None:
            raise WeightingError("a per-stratum frame_size needs strata= (the stratum column).")
        if strata not in frame.columns:
            raise DesignError(f"stratum column {strata!r} is not in the data.")
        sums = w.groupby(frame[strata].to_numpy()).sum()
        extra = sorted(set(sums.index) - set(frame_size), key=str)
        if extra:
            raise WeightingError(f"frame_size has no size for stratum(s) {extra[:8]} of "
                                 f"column {strata!r}; give every stratum its frame size.")
        checks = [(k, float(sums.get(k, 0.0)), v) for k, v in frame_size.items()]
    else:
        checks = [("(all)", float(w.sum()), frame_size)]
    for key, got, want in checks:
        try:
            want = float(want)
        except (TypeError, ValueError):
            want = np.nan
        if not (np.isfinite(want) and want > 0):
            raise WeightingError(message(f"frame_size of {key!r}", "a positive number", want))
        if abs(got - want) > rtol * want:
            raise WeightingError(f"base weights of stratum {key!r} sum to {got:,.6g} but the frame "
                                 f"has {want:,.6g} units: a difference of {got - want:+,.6g} "
                                 f"({100 * (got - want) / want:+.3g}%). Check the selection "
                                 "probabilities of every stage.")


def nonresponse(design: SurveyDesign, status: str, respondent: Sequence[Any], *,
                nonrespondent: Sequence[Any], ineligible: Sequence[Any] = (),
                classes: str | Sequence[str] | None = None,
                method: Literal["classes", "propensity"] = "classes",
                covariates: Sequence[str] = (), n_strata: int = 5) -> SurveyDesign:
    """Non-response adjustment: respondents carry the weight of the non-respondents.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The base-weighted design of all selected units (respondents and not).
    status : str
        Response-status column.
    respondent, nonrespondent, ineligible : lists of codes
        Every code in the column must be in exactly one list (an unknown code is an error,
        never a respondent). Ineligible units keep weight zero and are not compensated.
    classes : str or list of str, optional
        Weighting classes (``method="classes"``).
    method : {"classes", "propensity"}
        ``classes``: within each class, respondents' weights are multiplied by
        ``sum w(eligible) / sum w(respondents)``. ``propensity``: a weighted logistic model of
        response on ``covariates`` (statsmodels), then the same adjustment within
        ``n_strata`` classes of equal size by estimated propensity.
    covariates : list of str
        Categorical columns of the response model (``method="propensity"``; each becomes
        dummy variables).
    n_strata : int
        Number of propensity classes (``method="propensity"``), equal in size.

    Returns
    -------
    Design or ReplicateDesign
        Respondents carry the weight of their class; nonrespondents and ineligible units
        have weight zero; a ``nonresponse`` step is appended to the history (on a replicate
        design every replicate is adjusted).

    Raises
    ------
    WeightingError
        An unknown ``method``; the status column missing, empty in some rows, or with a
        code not listed (or listed twice); class or covariate columns missing or empty; a
        class with eligible units but no respondent; ``propensity`` without covariates, a
        bad ``n_strata``, or a model that fails to fit.

    Notes
    -----
    Non-respondents keep their rows with weight zero, so the design (strata, PSUs) is
    unchanged. The adjustment is treated as fixed in the variance. Within class ``c``:
    ``w_i <- w_i sum_{j in c, eligible} w_j / sum_{j in c, respondent} w_j``. R has no
    single function; it equals ``w * ave(w * eligible, class, FUN=sum) / ave(w * resp,
    class, FUN=sum)`` on the respondents.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> a = sipas.nonresponse(d, "response", [1], nonrespondent=[2, 3], classes="district")
    >>> round(float(a.weight_array.sum()) / float(d.weight_array.sum()), 12)
    1.0
    """
    check_choice("method", method, ("classes", "propensity"), WeightingError)
    covs = as_name_list("covariates", covariates)
    if method == "classes" and covs:
        raise WeightingError("covariates= are for method='propensity'; with weighting classes "
                             "give classes= (or choose method='propensity').")
    if method == "propensity" and classes is not None:
        raise WeightingError("classes= are for method='classes'; the propensity method forms "
                             "its classes from the covariates (n_strata=).")
    needs_memory(design.backend, "non-response adjustment")
    frame, w = design.frame, design.weight_array
    if status not in frame.columns:
        raise DesignError(f"response status column {status!r} is not in the data.")
    resp, eligible = _status_masks(frame[status], respondent, nonrespondent, ineligible, status)
    if method == "classes":
        cols = as_name_list("classes", classes)
        codes = _class_codes(frame, cols, w > 0)
    else:
        codes = _propensity_classes(frame, covs, resp, eligible, w, n_strata)
        cols = [f"propensity class (1..{n_strata})"]

    def adjust(wr: np.ndarray) -> np.ndarray:
        return _adjust(wr, codes, resp, eligible, frame, cols)

    w1 = adjust(w)
    options = {"status": status, "method": method, "classes": cols,
               "covariates": covs if method == "propensity" else []}
    step = WeightingStep("nonresponse", options,
                         {"respondents": int((resp & (w > 0)).sum()),
                          "nonrespondents": int((eligible & ~resp & (w > 0)).sum()),
                          "ineligible": int((~eligible & (w > 0)).sum()),
                          "max_factor": float(np.max(w1[resp & (w > 0)] / w[resp & (w > 0)])),
                          "weights": weight_stats(w1)})
    return design.reweight(Reweighting(step, RowWeights(w1), (), adjust))


def _status_masks(values: pd.Series, respondent, nonrespondent, ineligible, col):
    lists = {"respondent": list(respondent), "nonrespondent": list(nonrespondent),
             "ineligible": list(ineligible)}
    known = [c for v in lists.values() for c in v]
    if len(set(known)) != len(known):
        raise WeightingError(f"a response code appears in two of {lists}.")
    unknown = sorted({plain(v) for v in values.dropna().unique()} - set(known), key=str)
    if unknown or values.isna().any():
        shown = unknown[:8] + (["<empty>"] if values.isna().any() else [])
        raise WeightingError(f"response status column {col!r} has code(s) {shown} that are not "
                             "listed as respondent, nonrespondent or ineligible. Classify every "
                             "code; an unknown code is never counted as a respondent.")
    resp = values.isin(lists["respondent"]).to_numpy()
    eligible = ~values.isin(lists["ineligible"]).to_numpy()
    return resp, eligible


def _class_codes(frame: pd.DataFrame, cols: list[str], active: np.ndarray) -> np.ndarray:
    if not cols:
        return np.zeros(len(frame), dtype=np.int64)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DesignError(f"weighting class column(s) {missing} are not in the data.")
    data = frame[cols]
    bad = data.isna().any(axis=1).to_numpy() & active
    if bad.any():
        raise WeightingError(f"weighting class column(s) {cols} are empty in rows "
                             f"{np.flatnonzero(bad)[:10].tolist()}; give them a class.")
    return data.groupby(cols, sort=True, dropna=False).ngroup().to_numpy()


def _adjust(w, codes, resp, eligible, frame, cols) -> np.ndarray:
    active = w > 0
    k = int(codes.max()) + 1
    elig = np.bincount(codes, weights=np.where(active & eligible, w, 0.0), minlength=k)
    got = np.bincount(codes, weights=np.where(active & resp, w, 0.0), minlength=k)
    empty = np.flatnonzero((elig > 0) & (got == 0))
    if len(empty):
        first = np.flatnonzero(codes == empty[0])[0]
        label = {c: plain(frame[c].iloc[first]) for c in cols if c in frame.columns}
        raise WeightingError(f"weighting class {label or int(empty[0])} has eligible units but "
                             "no respondent, so its weight cannot be carried. Collapse it with "
                             "a neighbouring class.")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(got > 0, elig / got, 0.0)
    return np.where(active & resp, w * factor[codes], 0.0)


def _propensity_classes(frame, covariates, resp, eligible, w, n_strata) -> np.ndarray:
    import statsmodels.api as sm

    if not covariates:
        raise WeightingError("method='propensity' needs covariates=[...] for the response model.")
    if not (isinstance(n_strata, int) and n_strata >= 1):
        raise WeightingError(message("n_strata", "a positive integer", n_strata))
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise DesignError(f"covariate column(s) {missing} are not in the data.")
    use = eligible & (w > 0)
    data = frame.loc[use, covariates]
    if data.isna().any().any():
        raise WeightingError(f"covariates {covariates} have missing values among eligible units.")
    x = pd.get_dummies(data.astype("category"), drop_first=True, dtype=float)
    x = sm.add_constant(x, has_constant="add")
    model = sm.GLM(resp[use].astype(float), x, family=sm.families.Binomial(),
                   freq_weights=w[use] / w[use].mean())
    try:
        fitted = model.fit()
    except Exception as exc:  # statsmodels raises PerfectSeparationError and LinAlgError
        raise WeightingError(f"the response propensity model failed ({exc}); use fewer "
                             "covariates or weighting classes.") from exc
    score = np.zeros(len(frame))
    score[use] = fitted.predict(x)
    ranks = pd.Series(score[use]).rank(method="first").to_numpy()
    codes = np.zeros(len(frame), dtype=np.int64)
    codes[use] = np.minimum((ranks - 1) * n_strata // use.sum(), n_strata - 1).astype(np.int64)
    return codes


def trim(design: SurveyDesign, lower: float | None = None, upper: float | None = None, *,
         strict: bool = False) -> SurveyDesign:
    """Trim weights to ``[lower, upper]``, spreading the trimmed amount over the others.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The weighted design (on a replicate design every replicate is trimmed).
    lower, upper : float, optional
        Bounds on the weights.
    strict : bool
        Repeat until no weight is outside the bounds (the redistribution can push some
        back out); otherwise one pass, as R's default.

    Returns
    -------
    Design or ReplicateDesign
        Trimmed weights with the same sum; a ``trim`` step (with the number trimmed) is
        appended to the history.

    Raises
    ------
    WeightingError
        ``strict=True`` with bounds that cannot hold the mean weight, or a single pass that
        would leave a negative weight.
    ConvergenceError
        The strict passes do not settle (bounds barely wider than the mean weight).

    Notes
    -----
    Weights outside are set to the bound; the total trimmed is added in equal amounts to the
    untrimmed units, so the sum of weights is kept. Calibration projections of earlier steps
    stay in the variance. R equivalent: ``trimWeights(design, upper=, lower=, strict=)``.
    R's strict recursion approaches its limit geometrically and, in floating point, can
    cycle for ever; sipas stops once the total outside the bounds is below 1e-12 of the sum
    of weights and then clips, handing the rounding-level rest to units with room left.

    Examples
    --------
    >>> import pandas as pd, sipas
    >>> df = pd.DataFrame({"psu": [1, 2, 3, 4], "w": [1.0, 2, 3, 10]})
    >>> t = sipas.trim(sipas.Design(df, ids="psu", weights="w"), upper=6)
    >>> t.weight_array.round(4).tolist()
    [2.3333, 3.3333, 4.3333, 6.0]
    """
    lo, hi = _trim_bounds(lower, upper)

    def one(w: np.ndarray) -> tuple[np.ndarray, int]:
        return _trim_weights(w, lo, hi, strict)

    needs_memory(design.backend, "trimming")
    w1, n_trimmed = one(design.weight_array)
    step = WeightingStep("trim", {"lower": lower, "upper": upper, "strict": strict},
                         {"trimmed": n_trimmed, "weights": weight_stats(w1)})
    return design.reweight(Reweighting(step, RowWeights(w1), (), lambda w: one(w)[0]))


TRIM_MAX_PASSES = 10_000


def _trim_bounds(lower: Any, upper: Any) -> tuple[float, float]:
    out = []
    for name, value, default in (("lower", lower, -np.inf), ("upper", upper, np.inf)):
        if value is None:
            out.append(default)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = np.nan
        if np.isnan(number):
            raise WeightingError(message(name, "a number or None", value))
        out.append(number)
    if not out[0] < out[1]:
        raise WeightingError(message("lower/upper", "lower < upper", (lower, upper)))
    return out[0], out[1]


def _trim_weights(w: np.ndarray, lo: float, hi: float, strict: bool) -> tuple[np.ndarray, int]:
    """One pass of R's trimWeights, or (strict) passes until every weight is inside."""
    active = w > 0
    total, m = float(w[active].sum()), int(active.sum())
    if strict and not m * lo * (1 - 1e-12) <= total <= m * hi * (1 + 1e-12):
        raise WeightingError(f"no weights within [{lo:g}, {hi:g}] can keep the sum of the weights "
                             f"({total:,.6g} over {m} units, mean {total / max(m, 1):,.6g}). "
                             "Widen the bounds so that the mean weight lies inside them.")
    trimmed = np.zeros(len(w), dtype=bool)
    for _ in range(TRIM_MAX_PASSES):
        outside = active & ((w < lo) | (w > hi))
        off = np.sum(np.maximum(w[active] - hi, 0) + np.maximum(lo - w[active], 0))
        if not outside.any() or (strict and off <= 1e-12 * total):
            break
        new = np.where(active, np.clip(w, lo, hi), 0.0)
        inside = active & ~outside
        if not inside.any():
            raise WeightingError("every weight is outside the trimming bounds; widen them.")
        new[inside] += (w - new)[active].sum() / inside.sum()
        trimmed |= outside
        w = new
        if not strict:
            break
    else:
        raise ConvergenceError(f"strict trimming to [{lo:g}, {hi:g}] did not settle in "
                               f"{TRIM_MAX_PASSES} passes; widen the bounds.")
    if strict:
        left = active & ((w < lo) | (w > hi))
        if left.any():  # within rounding of the bounds: clip, keep the sum
            trimmed |= left
            w = _settle(w, active, lo, hi, total)
    if np.any(w[active] < 0):
        raise WeightingError(f"trimming to [{lo:g}, {hi:g}] leaves {int((w < 0).sum())} "
                             "negative weight(s): the amount added to raise small weights is "
                             "more than the others carry. Lower the bound or use strict=True.")
    return w, int(trimmed.sum())


def _settle(w: np.ndarray, active: np.ndarray, lo: float, hi: float, total: float) -> np.ndarray:
    """Clip the rounding-level overshoot left by the strict passes; keep the sum."""
    w = np.where(active, np.clip(w, lo, hi), 0.0)
    rest = total - w[active].sum()
    room = np.where(active, hi - w if rest > 0 else w - lo, 0.0)
    if not np.all(np.isfinite(room)):
        room = (active & (w > lo) & (w < hi)).astype("float64")
    if rest != 0 and room.sum() > 0:
        w = np.where(active, np.clip(w + rest * room / room.sum(), lo, hi), 0.0)
    return w
