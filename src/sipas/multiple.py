"""Multiple-response questions ("what should be improved? tick all that apply").

Each option is a column; a respondent answered the question when at least one option has a
valid answer. Three estimates come from the same design: the share of respondents who
ticked each option (the shares add to more than 1), the share of all ticks that went to each
option (they add to 1) and the mean number of options ticked; the options are ranked by the
share of respondents with confidence sets for the ranks that hold jointly.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> res = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1)
>>> res.options
('e1', 'e2', 'e3', 'e4', 'e5')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, check_level, generator, message, require_columns
from sipas.design.protocol import SurveyDesign
from sipas.engine.ranks import rank_sets
from sipas.errors import DesignError, EstimationError
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import check_design, mean, proportion, ratio
from sipas.spec import QuestionSet, Spec

__all__ = ["MultipleResponse", "multiple_response"]

#: the column that holds each respondent's number of ticks in the derived design
COUNT = "__sipas_ticks"


class MultipleResponse:
    """Shares of a multiple-response question with SEs, and ranks of its options.

    Built only by :func:`multiple_response`; it cannot change.

    Attributes
    ----------
    name : str
        The question set.
    options, labels : tuple of str
        Option columns and labels.
    respondents : Estimate
        Share of respondents (who answered the question) ticking each option.
    responses : Estimate
        Share of all ticks going to each option (ratio of totals).
    ticks : Estimate
        Mean number of options ticked per respondent.
    by : tuple of str
        Domain columns.
    level : float
        Confidence level of intervals and rank sets.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> res = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1)
    >>> round(float(res.responses.to_frame()["estimate"].sum()), 10)
    1.0
    """

    __slots__ = ("_ranks", "by", "labels", "level", "name", "options", "respondents",
                 "responses", "ticks")
    _ranks: pd.DataFrame
    by: tuple[str, ...]
    labels: tuple[str, ...]
    level: float
    name: str
    options: tuple[str, ...]
    respondents: Estimate
    responses: Estimate
    ticks: Estimate

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a MultipleResponse cannot be changed; estimate it again")

    def ranks(self) -> pd.DataFrame:
        """Options ranked by the share of respondents (rank 1 = most ticked) per domain:
        ``rank``, ``rank_low``, ``rank_high`` (simultaneous confidence sets)."""
        return self._ranks.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per (domain, option, measure): the ``by`` columns, ``option``, ``label``,
        ``measure`` (``respondents`` or ``responses``), ``estimate, se, ci_low, ci_high,
        df, n`` and the ranks (``rank, rank_low, rank_high``, the same for both measures).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> t = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1).to_frame()
        >>> sorted(set(t["measure"]))
        ['respondents', 'responses']
        """
        parts = []
        label = dict(zip(self.options, self.labels))
        ranks = self._ranks[["rank", "rank_low", "rank_high"]].reset_index(drop=True)
        for measure, est in (("respondents", self.respondents), ("responses", self.responses)):
            t = est.to_frame()
            out = t[list(self.by)].copy()
            out["option"] = list(self.options) * (len(t) // len(self.options))
            out["label"] = out["option"].map(label)
            out["measure"] = measure
            for c in ("estimate", "se", "ci_low", "ci_high", "df", "n"):
                out[c] = t[c].to_numpy()
            parts.append(pd.concat([out.reset_index(drop=True), ranks], axis=1))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        """The options, most ticked first, with both shares and rank sets.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> "feedback" in sipas.multiple_response(d, "needs", spec=sd.spec, rng=1).summary()
        True
        """
        t = self.to_frame()
        resp = t[t["measure"] == "respondents"].reset_index(drop=True)
        share = t[t["measure"] == "responses"]["estimate"].to_numpy()
        resp["of_responses"] = share
        ticks = self.ticks.to_frame()["estimate"]
        mean_ticks = f"{float(ticks.iloc[0]):.2f}" if len(ticks) == 1 else "see .ticks"
        lines = [f"Multiple-response question {self.name!r}: {len(self.options)} options; "
                 f"mean number ticked {mean_ticks}",
                 f"{'option':<30}{'% resp.':>9}{'se':>7}{'% ticks':>9}{'rank':>6}  set"]
        for _, r in resp.sort_values([*self.by, "rank"]).iterrows():
            dom = " ".join(f"{b}={r[b]}" for b in self.by)
            lines.append(f"{(dom + ' ' if dom else '') + str(r['label'])[:28]:<30}"
                         f"{100 * r['estimate']:>9.1f}{100 * r['se']:>7.1f}"
                         f"{100 * r['of_responses']:>9.1f}{r['rank']:>6}  "
                         f"[{r['rank_low']}, {r['rank_high']}]")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"MultipleResponse({self.name!r}, options={len(self.options)}, "
                f"by={list(self.by)})")

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(float_format=lambda v: f"{v:.4g}")


def multiple_response(design: SurveyDesign, question: str | QuestionSet | Sequence[str], *,
                      spec: Spec | None = None, selected: Sequence[float] | None = None,
                      missing_codes: Sequence[float] | None = None,
                      by: str | Sequence[str] | None = None, level: float = 0.95,
                      ci: str = "logit", simultaneous: bool = True, n_sim: int = 10_000,
                      rng: int | np.random.Generator | None = None) -> MultipleResponse:
    """Shares of respondents and of responses for a tick-all-that-apply question, and the
    ranks of its options with valid confidence sets.

    Parameters
    ----------
    design : Design or ReplicateDesign
        The survey design (in memory).
    question : str, QuestionSet or list of str
        A question set of ``spec`` by name, a :class:`~sipas.spec.QuestionSet`, or the option
        columns.
    spec : Spec, optional
        Gives the question set, option labels and missing codes.
    selected : list of float, optional
        Codes of a ticked option (default the set's, else ``[1]``).
    missing_codes : list of float, optional
        Codes that are no answer (default the spec's survey-wide codes, else none).
    by : str or list of str, optional
        Domain columns.
    level : float
        Confidence level.
    ci : str
        Interval method of the shares of respondents (see :func:`sipas.proportion`).
    simultaneous : bool
        Rank sets that hold for all options together (True) or one at a time.
    n_sim : int
        Draws for the critical value of the rank sets.
    rng : int or numpy.random.Generator, optional
        Seed of those draws.

    Returns
    -------
    MultipleResponse

    Raises
    ------
    DesignError
        An option column not in the data; fewer than two options; an unknown question set.
    EstimationError
        No respondent answered the question.

    Notes
    -----
    A respondent is in the base when at least one option has a valid answer; there an
    option left empty counts as not ticked. Share of respondents: ``p_j = sum w t_j / sum
    w`` over the base (:func:`sipas.proportion` of the option's indicator). Share of
    responses: ``s_j = sum w t_j / sum w T`` with ``T = sum_k t_k`` (:func:`sipas.ratio`,
    linearised as a ratio of totals); ``sum_j s_j = 1``. Ranks: Mogstad, Romano, Shaikh &
    Wilhelm (2024) sets from the joint covariance of the ``p_j`` (:mod:`sipas.engine.ranks`).
    R equivalent: ``svymean(~t1 + t2 + ..., subset(design, answered))`` and
    ``svyratio(~t1 + ..., ~T, design)``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> r = sipas.multiple_response(d, "needs", spec=sd.spec, rng=1).ranks()
    >>> r.columns.tolist()[-3:]
    ['rank', 'rank_low', 'rank_high']
    """
    check_design(design)
    level = check_level(level)
    qs = _question(question, spec)
    options = list(qs.options)
    if len(options) < 2:
        raise DesignError(message("question", "at least two option columns", options,
                                  "A question with one option is a yes/no item: use "
                                  "sipas.proportion."))
    require_columns(design.backend.columns, options, "option")
    sel = np.asarray(selected if selected is not None else qs.selected, dtype=float)
    if missing_codes is None:
        missing_codes = [c for v in spec.missing.values() for c in v] if spec else []
    codes = np.asarray(missing_codes, dtype=float)
    frame = design.frame
    vals = np.column_stack([_numeric(frame, o) for o in options])
    valid = ~np.isnan(vals) & ~np.isin(vals, codes)
    ticked = valid & np.isin(vals, sel)
    base = valid.any(axis=1)
    if not (base & (design.weight_array > 0)).any():
        raise EstimationError(f"no respondent answered any option of {options}; check the "
                              "columns and the missing codes.")
    cols = {o: np.where(base, ticked[:, j].astype(float), np.nan)
            for j, o in enumerate(options)}
    cols[COUNT] = np.where(base, ticked.sum(axis=1).astype(float), np.nan)
    d2 = design.with_columns(cols)
    respondents = proportion(d2, options, value=1, by=by, ci=ci, level=level)  # type: ignore[arg-type]
    responses = ratio(d2, options, COUNT, by=by, level=level)
    ticks = mean(d2, COUNT, by=by, level=level)
    ranks = _ranks(respondents, options, level, simultaneous, n_sim, rng)
    res = object.__new__(MultipleResponse)
    for key, value in (("name", qs.name), ("options", tuple(options)),
                       ("labels", _labels(qs, spec)), ("respondents", respondents),
                       ("responses", responses), ("ticks", ticks), ("_ranks", ranks),
                       ("by", tuple(as_name_list("by", by))), ("level", level)):
        object.__setattr__(res, key, value)
    return res


def _question(question: Any, spec: Spec | None) -> QuestionSet:
    if isinstance(question, QuestionSet):
        return question
    if isinstance(question, str):
        if spec is None or question not in [q.name for q in spec.question_sets]:
            if spec is not None:
                spec.question_set(question)  # raises, listing the sets
            raise DesignError(message("question", "a question set of spec= or a list of "
                                      "option columns", question))
        return spec.question_set(question)
    return QuestionSet(name="options", label={}, options=tuple(as_name_list("question",
                                                                             list(question))))


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    try:
        return frame[col].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise EstimationError(message(f"option column {col!r}", "numeric codes",
                                      str(frame[col].dtype), "Recode it to numbers.")) from exc


def _labels(qs: QuestionSet, spec: Spec | None) -> tuple[str, ...]:
    for lang in ("en", "vi"):
        if lang in qs.option_labels:
            return qs.option_labels[lang]
    out = []
    for o in qs.options:
        lab = spec.item(o).label if spec is not None and o in spec.item_names else {}
        out.append(lab.get("en") or lab.get("vi") or o)
    return tuple(out)


def _ranks(est: Estimate, options: list[str], level: float, simultaneous: bool, n_sim: int,
           rng: int | np.random.Generator | None) -> pd.DataFrame:
    t = est.to_frame()
    k = len(options)
    gen = generator(rng)
    out = t[list(est.by)].copy()
    out["option"] = options * (len(t) // k)
    out["estimate"] = t["estimate"].to_numpy()
    for c in ("rank", "rank_low", "rank_high"):
        out[c] = pd.array([pd.NA] * len(t), dtype="Int64")
    for start in range(0, len(t), k):
        idx = np.arange(start, start + k)
        e = t["estimate"].to_numpy(dtype=float)[idx]
        if not np.all(np.isfinite(e)) or est.basis is None:
            continue
        cov = est.basis.take(idx).cov()
        df = float(np.min(t["df"].to_numpy(dtype=float)[idx]))
        sets = rank_sets(e, cov, level=level, simultaneous=simultaneous,
                         df=df if df > 0 else np.inf, n_sim=n_sim, rng=gen)
        out.loc[idx, "rank"] = sets.rank
        out.loc[idx, "rank_low"] = sets.low
        out.loc[idx, "rank_high"] = sets.high
    return out.reset_index(drop=True)
