"""The index of a group of items (a factor), overall or by domains, with its uncertainty.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> f = sipas.factor_index(d, ["q01", "q02", "q03", "q04"], satisfied=[4, 5]).to_frame()
>>> bool(0.5 < f["estimate"][0] < 1)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sipas._validate import (
    as_name_list,
    check_choice,
    check_df,
    check_level,
    deprecated_alias,
    require_columns,
)
from sipas.design.protocol import SurveyDesign
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import check_design
from sipas.indices.build import IndexBuild, IndexCI, interval_method
from sipas.indices.build import item_weights as item_weights_of
from sipas.indices.scores import Measure, ScoreRecipe, item_scores

__all__ = ["Aggregate", "factor_index"]

Aggregate = Literal["items", "respondents"]


def factor_index(design: SurveyDesign, items: Sequence[str], *,
                 measure: Measure = "top_box", satisfied: Sequence[float] = (4, 5),
                 missing_codes: Sequence[float] = (), aggregate: Aggregate = "items",
                 by: str | Sequence[str] | None = None,
                 item_weights: Sequence[float] | None = None,
                 scale: tuple[float, float] | None = None, name: str = "index",
                 level: float = 0.95, df: float | None = None, ci: IndexCI | None = None,
                 missing: Sequence[float] | None = None) -> Estimate:
    """Index of a group of items (a factor), overall or by domains, with its uncertainty.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design; it decides the variance method.
    items : list of str
        Item columns (numeric answer codes).
    measure : {"top_box", "mean", "pct_of_max", "pct_of_range"}
        Item index: share of valid answers in ``satisfied``; mean code; mean / max (the
        "3.74/5 = 74.8%" convention); (mean - min)/(max - min).
    satisfied : list
        Codes that count as satisfied (top box).
    missing_codes : list
        Codes that are not valid answers (don't know, not applicable, ...).
    aggregate : {"items", "respondents"}
        ``items``: weighted mean of the item indices, each over its own valid answers.
        ``respondents``: each respondent's mean score over their valid items first, then the
        weighted mean of those over respondents with at least one valid item.
    by : str or list of str, optional
        Domain columns; one row per observed combination (sorted).
    item_weights : list of float, optional
        Weights of the items (normalised to sum 1); default equal.
    scale : (min, max), optional
        Range of the answer scale (needed for ``pct_of_max`` and ``pct_of_range``).
    name : str
        Name of the index in the result (``variable`` column).
    level : float
        Confidence level of the intervals, in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantile; default the design df counted within each
        domain; ``math.inf`` for normal quantiles.
    ci : {"logit", "wald"}, optional
        Interval method: default ``logit`` for indices in [0, 1], ``wald`` for means.
    missing : list, optional
        Deprecated spelling of ``missing_codes``.

    Returns
    -------
    Estimate
        One row per domain (statistic ``index``); ``n`` counts respondents with at least
        one valid item.

    Raises
    ------
    EstimationError
        An item is not numeric; no satisfied codes for ``top_box``; ``pct_*``
        without ``scale`` or with answers outside it; ``item_weights`` not one
        non-negative number per item with a positive sum.
    DesignError
        ``design`` is not a design; an unknown ``measure`` or ``aggregate``; a bad
        ``level`` or ``df``; a ``by`` column not in the data or with missing values.

    Notes
    -----
    ``aggregate="items"``: ``I = sum_j a_j R_j`` with ``R_j = sum_i w v_ij s_ij / sum_i w
    v_ij``; its linearized influence is ``sum_j a_j v_ij (s_ij - R_j) / sum w v_j``, so the SE
    is that of a linear combination of ratio estimators (R: ``svycontrast`` of ``svyratio``
    results). ``deff`` compares with simple random sampling of the same respondents.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> sipas.factor_index(d, ["q19", "q20"], measure="pct_of_max", scale=(1, 5),
    ...                    by="urban").to_frame()["n"].tolist()
    [33, 223]
    """
    check_design(design)
    missing_codes = deprecated_alias("missing", missing, "missing_codes", missing_codes,
                                     default=())
    check_choice("aggregate", aggregate, ("items", "respondents"))
    level, df = check_level(level), check_df(df)
    names = as_name_list("items", list(items))
    require_columns(design.backend.columns, names, "item")
    item_scores(design.backend.empty(), names, measure, satisfied=satisfied,
                missing_codes=missing_codes, scale=scale)  # check the arguments once, up front
    recipe = ScoreRecipe(tuple(names), measure, satisfied, tuple(missing_codes), scale)
    groups = {name: list(range(len(names)))}
    weights = {name: item_weights_of(item_weights, len(names))}
    method = interval_method(ci, measure)
    return IndexBuild(design, recipe, by, level, df).factors(groups, weights, aggregate,
                                                            method)[0]

