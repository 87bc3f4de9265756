"""A weighting plan written in a pipeline file (or a spec) applied without code.

Each step is a table with ``method`` and that method's options; margins are named by the
spec's ``[[margins]]`` entries, so targets live in one place::

    [[weighting.steps]]
    method = "nonresponse"
    status = "response"
    respondent = [1]
    nonrespondent = [2, 3]
    classes = ["district"]

    [[weighting.steps]]
    method = "rake"
    margins = ["sex", "age_group", "ethnicity", "district"]
    tol = 1e-10

    [[weighting.steps]]
    method = "trim"
    upper_ratio = 5.0          # or upper = 250.0 (absolute)

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> steps = [{"method": "poststratify", "margin": "district"}]
>>> w = apply_plan(sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1), steps, sd.spec)
>>> [h.name for h in w.history]
['poststratify']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sipas.design.protocol import SurveyDesign
from sipas.errors import SpecError
from sipas.spec import Spec
from sipas.weighting.adjust import nonresponse, trim
from sipas.weighting.calibrate import calibrate
from sipas.weighting.cells import poststratify, rake

__all__ = ["apply_plan", "validate_plan"]


STEP_KEYS: dict[str, set[str]] = {
    "nonresponse": {"status", "respondent", "nonrespondent", "ineligible", "classes", "model",
                    "covariates", "n_strata"},
    "poststratify": {"margin", "partial"},
    "rake": {"margins", "tol", "max_iter", "partial"},
    "calibrate": {"margins", "totals", "calfun", "bounds", "population_size", "tol",
                  "max_iter"},
    "trim": {"lower", "upper", "lower_ratio", "upper_ratio", "strict"},
}


def validate_plan(steps: Sequence[Mapping[str, Any]], spec: Spec | None,
                  where: str = "[weighting]") -> None:
    """Check every step's method, keys and margin names before any computation.

    Parameters
    ----------
    steps : list of mappings
        The plan: one table per step with ``method`` (``nonresponse``, ``poststratify``,
        ``rake``, ``calibrate``, ``trim``) and that method's keys.
    spec : Spec or None
        The spec whose ``[[margins]]`` the steps name (``None``: no margin is known).
    where : str
        How messages name the plan.

    Raises
    ------
    SpecError
        ``steps`` is not a list; a step without ``method`` or with an unknown one; a key the
        method does not take; a margin name the spec does not define; ``nonresponse``
        without ``status``, ``respondent`` or ``nonrespondent``.

    Examples
    --------
    >>> import sipas
    >>> spec = sipas.load_spec("demo")
    >>> validate_plan([{"method": "rake", "margins": ["sex", "district"]}], spec)
    >>> try:
    ...     validate_plan([{"method": "rake", "margins": ["gender"]}], spec)
    ... except sipas.SpecError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    [weighting] step 1 (rake): margin(s) ['gender'] are not defined in the spec's [[margins]] ...
    """
    if not isinstance(steps, Sequence):
        raise SpecError(f"{where}: steps must be an array of tables ([[weighting.steps]]).")
    known = {m.name for m in spec.margins} if spec else set()
    for i, step in enumerate(steps, start=1):
        here = f"{where} step {i}"
        if not isinstance(step, Mapping) or "method" not in step:
            raise SpecError(f"{here}: each step needs method = one of {sorted(STEP_KEYS)}.")
        method = step["method"]
        if method not in STEP_KEYS:
            raise SpecError(f"{here}: unknown method {method!r}; use one of {sorted(STEP_KEYS)}.")
        unknown = sorted(set(step) - STEP_KEYS[method] - {"method"})
        if unknown:
            raise SpecError(f"{here} ({method}): unknown key(s) {unknown}; allowed: "
                            f"{sorted(STEP_KEYS[method])}.")
        margins = step.get("margins", [])
        if not isinstance(margins, list) or not all(isinstance(m, str) for m in margins):
            raise SpecError(f"{here} ({method}): margins must be a list of margin names, e.g. "
                            f"margins = [\"sex\", \"district\"]; got {margins!r}.")
        names = margins + ([step["margin"]] if "margin" in step else [])
        missing = [n for n in names if n not in known]
        if missing:
            raise SpecError(f"{here} ({method}): margin(s) {missing} are not defined in the "
                            f"spec's [[margins]] (defined: {sorted(known)}).")
        if method == "nonresponse":
            for key in ("status", "respondent", "nonrespondent"):
                if key not in step:
                    raise SpecError(f"{here} (nonresponse): {key} is required.")


def apply_plan(design: SurveyDesign, steps: Sequence[Mapping[str, Any]],
               spec: Spec | None = None) -> SurveyDesign:
    """Apply the weighting steps in order; return the final design.

    Parameters
    ----------
    design : Design or ReplicateDesign
    steps : list of mappings
        The plan (see the module docstring).
    spec : Spec, optional
        Where the named margins come from.

    Returns
    -------
    Design or ReplicateDesign
        The design after the last step; ``history`` lists every step.

    Raises
    ------
    SpecError
        The plan is invalid (see :func:`validate_plan`), or ``calibrate`` names a margin of
        several variables.
    WeightingError
        A step cannot be applied (see :func:`sipas.nonresponse`, :func:`sipas.rake`, ...).

    Notes
    -----
    Keys are passed to the functions of the same name; ``nonresponse`` takes ``model`` for
    ``method``, ``calibrate`` takes ``calfun`` for ``method`` and ``margins`` for totals of
    single-variable margins, ``trim`` also takes ``lower_ratio``/``upper_ratio`` (times the
    mean positive weight before trimming).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> plan = [{"method": "nonresponse", "status": "response", "respondent": [1],
    ...          "nonrespondent": [2, 3], "classes": ["district"]},
    ...         {"method": "rake", "margins": ["sex", "district"]},
    ...         {"method": "trim", "upper_ratio": 3.0}]
    >>> w = apply_plan(sipas.Design.from_spec(sd), plan, sd.spec)
    >>> [h.name for h in w.history]
    ['nonresponse', 'rake', 'trim']
    """
    validate_plan(steps, spec)
    for step in steps:
        design = _apply(design, dict(step), spec)
    return design


def _apply(design: SurveyDesign, step: dict[str, Any], spec: Spec | None) -> SurveyDesign:
    method = step.pop("method")
    if method == "nonresponse":
        return nonresponse(design, step.pop("status"), step.pop("respondent"),
                           nonrespondent=step.pop("nonrespondent"),
                           method=step.pop("model", "classes"), **step)
    if method == "poststratify":
        margin = spec.margin(step.pop("margin"))
        return poststratify(design, list(margin.variables), _untuple(margin), **step)
    if method == "rake":
        margins = [spec.margin(n) for n in step.pop("margins")]
        return rake(design, margins, **step)
    if method == "calibrate":
        totals = dict(step.pop("totals", {}))
        for name in step.pop("margins", []):
            margin = spec.margin(name)
            if len(margin.variables) != 1:
                raise SpecError(f"calibrate: margin {name!r} has several variables; use "
                                "rake for joint margins.")
            totals[margin.variables[0]] = _untuple(margin)
        return calibrate(design, totals, method=step.pop("calfun", "linear"),
                         bounds=tuple(step["bounds"]) if "bounds" in step else None,
                         **{k: v for k, v in step.items() if k != "bounds"})
    mean = float(design.weight_array[design.weight_array > 0].mean())
    lower = step.get("lower", mean * step["lower_ratio"] if "lower_ratio" in step else None)
    upper = step.get("upper", mean * step["upper_ratio"] if "upper_ratio" in step else None)
    return trim(design, lower=lower, upper=upper, strict=step.get("strict", False))


def _untuple(margin: Any) -> dict[Any, float]:
    if len(margin.variables) == 1:
        return {k[0]: v for k, v in margin.targets.items()}
    return dict(margin.targets)
