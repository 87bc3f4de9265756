"""Comparisons: differences between domains or survey waves, multiple testing, ranks.

* :func:`compare_domains` -- every domain against a reference (or all pairs) within one
  estimate; the covariance between domains of the same design is used.
* :func:`compare_waves` -- the same indicator in two independent samples (two waves).
* :func:`rank_domains` -- confidence sets for the rank of each domain
  (:mod:`sipas.engine.ranks`).

Verdicts and intervals agree. p-values are two-sided t tests; ``adjust`` controls the
family-wise error (``holm``, ``bonferroni``) or the false discovery rate (``fdr_bh``) across
the comparisons of a table, and ``ci_low``/``ci_high`` are the intervals at the level that
matches the adjustment (``ci_level``): a row is ``significant`` exactly when its interval
excludes 0. The plain intervals at the table's level are kept beside them, labelled
``ci_low_unadjusted``/``ci_high_unadjusted``.

A domain without an estimate (no respondents, no answer to the item) or without degrees of
freedom takes no part: its comparisons are reported with ``note`` ``"no data"`` or ``"not
estimable"`` and every other comparison is computed as if it were absent.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> est = sipas.proportion(d, "p01", value=1, by="urban", ci="wald")
>>> compare_domains(est).columns[:3].tolist()
['comparison', 'variable', 'value']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sipas._validate import check_choice, check_level, message
from sipas.engine.intervals import t_quantile
from sipas.engine.ranks import rank_sets
from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate

__all__ = ["compare_domains", "compare_waves", "rank_domains"]

Adjust = Literal["holm", "fdr_bh", "bonferroni", "none"]
ADJUSTS = ("holm", "fdr_bh", "bonferroni", "none")
RESULT_COLUMNS = ("comparison", "variable", "value", "difference", "se", "ci_low", "ci_high",
                  "ci_level", "ci_low_unadjusted", "ci_high_unadjusted", "df", "t", "p_value",
                  "p_adjusted", "significant", "note")


def _tests(diff: np.ndarray, se: np.ndarray, df: np.ndarray, level: float,
           adjust: str) -> dict[str, np.ndarray]:
    """t tests, adjusted p-values, and intervals at the level the adjustment implies."""
    from statsmodels.stats.multitest import multipletests

    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
    p = 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    p = np.where(np.isinf(df), 2 * stats.norm.sf(np.abs(t)), p)
    ok = ~np.isnan(p)
    padj = np.full_like(p, np.nan)
    if ok.any():
        padj[ok] = p[ok] if adjust == "none" else multipletests(p[ok], method=adjust)[1]
    alpha = 1 - level
    significant = np.where(ok, padj < alpha, False)
    ci_level = np.full(len(p), np.nan)
    ci_level[ok] = 1 - _matching_alpha(alpha, adjust, int(ok.sum()),
                                       int(significant[ok].sum()))
    q_adj = np.array([t_quantile(cl, d) if ok_i else np.nan
                      for cl, d, ok_i in zip(ci_level, df, ok)], dtype="float64")
    q = t_quantile(level, df)
    return {"difference": diff, "se": se, "ci_low": diff - q_adj * se,
            "ci_high": diff + q_adj * se, "ci_level": ci_level,
            "ci_low_unadjusted": diff - q * se, "ci_high_unadjusted": diff + q * se,
            "df": df, "t": t, "p_value": p, "p_adjusted": padj, "significant": significant}


def _matching_alpha(alpha: float, adjust: str, m: int, rejected: int) -> float:
    """The per-comparison error rate at which the plain t interval excludes 0 exactly for
    the rows the adjustment declares significant.

    Bonferroni: ``alpha/m``. Holm rejects the ``r`` smallest p-values and stops at one above
    ``alpha/(m - r)``, so intervals at ``alpha/(m - r)`` exclude 0 for exactly those rows
    (at ``alpha`` when all are rejected). Benjamini-Hochberg rejects the ``r`` smallest,
    all below ``r alpha/m`` and none of the others is: the false-coverage-statement rate
    intervals of Benjamini & Yekutieli (JASA 2005) at ``r alpha/m`` (``alpha/m`` when none
    is rejected).
    """
    if adjust == "bonferroni":
        return alpha / m
    if adjust == "holm":
        return alpha / (m - rejected) if rejected < m else alpha
    if adjust == "fdr_bh":
        return max(rejected, 1) * alpha / m
    return alpha


def _unusable(table: pd.DataFrame) -> pd.Series:
    """Why a row cannot be compared ("" when it can)."""
    est = table["estimate"].to_numpy(dtype="float64")
    se = table["se"].to_numpy(dtype="float64")
    df = table["df"].to_numpy(dtype="float64")
    why = np.where(np.isnan(est), "no data",
                   np.where(np.isnan(se) | ~(df > 0), "not estimable", ""))
    return pd.Series(why, index=table.index)


def compare_domains(estimate: Estimate, reference: str | None = None, *,
                    pairs: bool = False, adjust: Adjust = "holm",
                    level: float | None = None) -> pd.DataFrame:
    """Differences between the domains of an estimate, with multiple-comparison control.

    Parameters
    ----------
    estimate : Estimate
        An estimate with ``by`` domains (one or more variables).
    reference : str, optional
        The reference domain: ``"district=1"`` (as in ``Estimate.labels`` without the
        variable), ``"1"`` or ``"1.0"`` all name the domain whose value is 1. Every other
        domain is compared with it. Default: each domain against the mean of all domains.
    pairs : bool
        All pairwise differences instead.
    adjust : {"holm", "fdr_bh", "bonferroni", "none"}
        Correction across all comparisons of the table.
    level : float, optional
        Confidence level of the intervals; ``significant`` is ``p_adjusted < 1 - level``.
        Default: the level of ``estimate``.

    Returns
    -------
    DataFrame
        ``comparison, variable, value, difference, se, ci_low, ci_high, ci_level,
        ci_low_unadjusted, ci_high_unadjusted, df, t, p_value, p_adjusted, significant,
        note``; one row per comparison and variable, ``comparison`` named ``"2.0 - 1.0"``
        (domain values joined by ", " for several ``by`` columns). ``ci_low``/``ci_high``
        are at ``ci_level``, the level that matches ``adjust`` (module docstring), so
        ``significant`` is true exactly when they exclude 0.

    Raises
    ------
    EstimationError
        The estimate has no ``by`` domains or no covariance (quantiles), a single domain,
        or ``reference`` names no domain.
    DesignError
        An unknown ``adjust``.

    Notes
    -----
    ``var(a - b) = var(a) + var(b) - 2 cov(a, b)`` with the covariance of the design (R
    ``svyby(covmat=TRUE)`` + ``svycontrast``). The df of a comparison come from the domains
    it involves: the largest of their own df, or fewer when the Satterthwaite df of the
    comparison's variance over the strata, ``(sum_h V_h)^2 / sum_h V_h^2/(n_h - 1)``, is
    smaller (Taylor designs whose table holds the domains' own df). Satterthwaite alone
    let a district-against-the-mean comparison claim 6-7 df where its variance rests on
    its own 5, and Bonferroni's family-wise error rose to 11%; with the cap it is below 5%
    (``benchmarks/results/comparison_coverage.md``). ``t = difference / se``, two-sided p
    on ``df``; p-values adjusted with statsmodels ``multipletests`` (R ``p.adjust``).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> est = sipas.proportion(d, "p01", value=1, by="urban", ci="wald")
    >>> res = compare_domains(est, reference="urban=1")
    >>> res["comparison"].tolist(), round(float(res["difference"][0]), 3)
    (['2.0 - 1.0'], -0.269)
    >>> compare_domains(est, reference="1.0")["comparison"].tolist()
    ['2.0 - 1.0']
    """
    check_choice("adjust", adjust, ADJUSTS)
    if not estimate.by or estimate.basis is None:
        raise EstimationError("compare_domains needs an estimate with by= domains and a "
                              "covariance (mean, total, proportion, ratio or index).")
    table = estimate.to_frame()
    dom = table[list(estimate.by)].astype(str).agg(", ".join, axis=1).to_numpy()
    why = _unusable(table).to_numpy()
    basis = estimate.basis
    cov = basis.cov()
    est, df = table["estimate"].to_numpy(), table["df"].to_numpy(dtype=float)
    # the table's df are the domains' own (not a df= given by the user): a contrast may get
    # fewer, the Satterthwaite df of its own variance (Taylor designs)
    design_df = estimate.notes.get("df") == "domain" and basis.effective_df() is not None
    rows = []
    what = list(zip(table["variable"], table["value"]))
    for key in dict.fromkeys(what):
        idx = np.flatnonzero([w == key for w in what])
        for name, coef, note in _contrasts(idx, dom, why, reference, pairs, len(table)):
            if note:
                rows.append((name, *key, np.nan, np.nan, np.nan, note))
                continue
            used = np.flatnonzero(coef)
            dfc = float(df[used].max())
            if design_df:
                # Satterthwaite alone is liberal in the tails when one domain's variance
                # dominates (benchmarks/bench_comparison_coverage.py): never more df than
                # the best-measured domain involved has
                eff = basis.effective_df(coef[:, None])
                dfc = dfc if eff is None else min(dfc, float(eff[0]))
            c = coef[used]  # an unused NaN domain must not spoil the sums (NaN * 0 is NaN)
            rows.append((name, *key, c @ est[used],
                         np.sqrt(max(c @ cov[np.ix_(used, used)] @ c, 0.0)), dfc, ""))
    if not rows:
        raise EstimationError("no comparison to make: the estimate has a single domain.")
    names, variables, values, diff, se, dfs, notes = zip(*rows)
    out = pd.DataFrame({"comparison": list(names), "variable": list(variables),
                        "value": pd.Series(list(values), dtype=object)})
    res = _tests(np.array(diff, dtype=float), np.array(se, dtype=float),
                 np.array(dfs, dtype=float), level or estimate.level, adjust)
    out = pd.concat([out, pd.DataFrame(res)], axis=1)
    out["note"] = list(notes)
    return out[list(RESULT_COLUMNS)]


def _contrasts(idx: np.ndarray, dom: np.ndarray, why: np.ndarray, reference: str | None,
               pairs: bool, k: int) -> Iterator[tuple[str, np.ndarray, str]]:
    """(name, coefficients, note) of every comparison among the rows ``idx``; a comparison
    that involves an unusable domain has no coefficients and says why."""
    labels = dom[idx]
    ok = why[idx] == ""

    def diff(a: int, b: int) -> tuple[str, np.ndarray, str]:
        coef = np.zeros(k)
        note = why[idx[a]] or (f"reference: {why[idx[b]]}" if why[idx[b]] else "")
        if not note:
            coef[idx[a]], coef[idx[b]] = 1.0, -1.0
        return f"{labels[a]} - {labels[b]}", coef, note

    if pairs:
        for a, b in itertools.combinations(range(len(idx)), 2):
            yield diff(a, b)
        return
    if reference is not None:
        hits = [i for i, lab in enumerate(labels) if _same_label(lab, reference)]
        if not hits:
            raise EstimationError(message("reference", f"one of the domains {list(labels)}",
                                          reference))
        for a in range(len(idx)):
            if a != hits[0]:
                yield diff(a, hits[0])
        return
    for a in range(len(idx)):
        coef = np.zeros(k)
        if ok[a] and ok.sum() > 1:
            coef[idx[ok]] = -1.0 / ok.sum()
            coef[idx[a]] += 1.0
        note = why[idx[a]] or ("" if ok.sum() > 1 else "no other domain")
        yield f"{labels[a]} - mean of domains", coef, note


def _same_label(label: str, reference: str) -> bool:
    """``"district=1"``, ``"1"`` and ``"1.0"`` all name the domain labelled ``1.0``."""
    wanted = [reference, reference.split("=", 1)[-1].strip()]
    if label in wanted:
        return True
    for w in wanted:
        try:
            if float(label) == float(w):
                return True
        except ValueError:
            continue
    return False


def compare_waves(current: Estimate, previous: Estimate, *, adjust: Adjust = "holm",
                  level: float | None = None,
                  unmatched: Literal["refuse", "drop"] = "refuse") -> pd.DataFrame:
    """Change between two independent samples (survey waves), row by matching row.

    Rows are matched on the domain columns and ``variable``; ``var = v1 + v2`` (independent
    samples) with the Welch-Satterthwaite df ``(v1 + v2)^2 / (v1^2/df1 + v2^2/df2)``.

    Parameters
    ----------
    current : Estimate
        This wave's estimate.
    previous : Estimate or sipas.reform.ReformedWave
        The earlier wave's estimate, with the same ``by`` columns; or its published estimates
        re-expressed on the current units (:func:`sipas.reform.aggregate_to_new`).
    adjust : {"holm", "fdr_bh", "bonferroni", "none"}
        Correction across all the rows compared.
    level : float, optional
        Confidence level; default the level of ``current``.
    unmatched : {"refuse", "drop"}
        Domains found in one wave only (the units changed, as in the 2025 reform) are an error
        that lists them (default), or are left out.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`compare_domains`; ``comparison`` is ``"<domain>: current -
        previous"`` (``"all"`` without domains), followed by ``" (approximate)"`` where the
        previous wave's row rests on split units.

    Raises
    ------
    EstimationError
        The two estimates have different ``by`` columns, domains of one wave only (with
        ``unmatched="refuse"``), or no row matches.

    Notes
    -----
    ``difference = theta_1 - theta_2``, ``se = sqrt(se_1^2 + se_2^2)``; two-sided t test on
    the Welch-Satterthwaite df. R equivalent: ``svycontrast`` is for one design; for independent
    samples R users compute the same by hand.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> now = sipas.mean(d, "p03", by="urban")
    >>> before = sipas.mean(sipas.rake(d, sd.spec.margins), "p03", by="urban")
    >>> res = compare_waves(now, before)
    >>> res["comparison"].tolist(), res["significant"].tolist()
    (['1.0: current - previous', '2.0: current - previous'], [False, False])
    """
    check_choice("adjust", adjust, ADJUSTS)
    if level is not None:
        check_level(level)
    keys = [*current.by, "variable", "value"]
    if list(previous.by) != list(current.by):
        raise EstimationError(f"the two waves have different domains: {current.by} vs "
                              f"{previous.by}.")
    check_choice("unmatched", unmatched, ("refuse", "drop"))
    before = previous.to_frame()
    if "approximate" not in before:
        before["approximate"] = False
    if unmatched == "refuse":
        _refuse_unmatched(current.to_frame(), before, list(current.by))
    merged = current.to_frame()[[*keys, "estimate", "se", "df"]].merge(
        before[[*keys, "estimate", "se", "df", "approximate"]], on=keys,
        suffixes=("", "_prev"), how="inner", validate="one_to_one")
    if merged.empty:
        raise EstimationError("no row of the two waves matches (domains and variables).")
    why_now, why_before = _unusable(merged), _unusable(merged.rename(columns={
        "estimate": "x", "se": "y", "df": "z", "estimate_prev": "estimate",
        "se_prev": "se", "df_prev": "df"}))
    note = np.where(why_now != "", why_now,
                    np.where(why_before != "", "previous: " + why_before, ""))
    bad = note != ""
    diff = np.where(bad, np.nan, (merged["estimate"] - merged["estimate_prev"]).to_numpy())
    v1, v2 = merged["se"].to_numpy() ** 2, merged["se_prev"].to_numpy() ** 2
    se = np.where(bad, np.nan, np.sqrt(v1 + v2))
    d1, d2 = merged["df"].to_numpy(dtype=float), merged["df_prev"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Welch-Satterthwaite: two independent variances, each with its own df
        df = (v1 + v2) ** 2 / (v1**2 / d1 + v2**2 / d2)
    df = np.where(bad, np.nan, np.where(np.isnan(df), np.minimum(d1, d2), df))
    label = merged[list(current.by)].astype(str).agg(", ".join, axis=1) if current.by else \
        pd.Series(["all"] * len(merged))
    label = label + ": current - previous" + np.where(merged["approximate"].astype(bool),
                                                      " (approximate)", "")
    out = pd.DataFrame({"comparison": label.to_numpy(),
                        "variable": merged["variable"].to_numpy(),
                        "value": merged["value"].to_numpy()})
    res = _tests(diff, se, df, level or current.level, adjust)
    out = pd.concat([out, pd.DataFrame(res)], axis=1)
    out["note"] = note
    return out[list(RESULT_COLUMNS)]


def _refuse_unmatched(now: pd.DataFrame, before: pd.DataFrame, by: list[str]) -> None:
    """Domains of one wave only mean the units changed: say which, and what to do."""
    if not by:
        return
    a, b = (set(map(tuple, f[by].astype(str).to_numpy())) for f in (now, before))
    if a == b:
        return
    only_now = sorted(", ".join(k) for k in a - b)[:8]
    only_before = sorted(", ".join(k) for k in b - a)[:8]
    raise EstimationError(
        f"the two waves have different {by} domains: only in the current wave {only_now}, "
        f"only in the previous wave {only_before}. If the units changed (the reform of "
        "1 July 2025), re-express the previous wave on the new units first "
        "(sipas.reform.with_new_units from microdata, sipas.reform.aggregate_to_new from "
        "published tables); to compare only the domains found in both, pass unmatched='drop'.")


def rank_domains(estimate: Estimate, *, level: float = 0.95, simultaneous: bool = True,
                 n_sim: int = 10_000, rng: int | np.random.Generator | None = None,
                 descending: bool = True, top: int | None = None) -> pd.DataFrame:
    """Rank of each domain with a confidence set that holds at its stated level.

    Parameters
    ----------
    estimate : Estimate
        One variable by domains, with a covariance (mean, proportion, ratio, index).
    level : float
        Confidence level of the rank sets.
    simultaneous : bool
        Sets that hold for all domains together (True: what a published ranking of all
        provinces needs) or for each domain on its own (False: narrower).
    n_sim : int
        Draws used to find the critical value, at least 1,000.
    rng : int or numpy.random.Generator, optional
        Seed of the draws (give one for reproducible sets).
    descending : bool
        Rank 1 is the highest estimate (True) or the lowest.
    top : int, optional
        The ``k`` of "in the top k / bottom k with confidence ``level``" (default: a third
        of the ranked domains, at least 1).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``estimate``, ``rank`` (ties share the best rank), ``rank_low``,
        ``rank_high``, ``in_top`` and ``in_bottom`` (the whole rank set lies in the top or
        bottom ``top``: with simultaneous sets these statements hold for all domains at
        once) and ``note``. Ranks are nullable integers: a domain without an
        estimate (``note`` ``"no data"``) or without df (``"not estimable"``) gets no rank
        and the others are ranked among themselves.

    Raises
    ------
    EstimationError
        The estimate has several variables or no covariance; ``n_sim`` is not an integer
        >= 1,000; ``top`` is not a positive integer.

    Notes
    -----
    Mogstad, Romano, Shaikh & Wilhelm (Review of Economic Studies, 2024): the set of the
    rank of domain ``j`` is ``[1 + #{k: theta_k - theta_j > c se_jk}, p - #{k: theta_j -
    theta_k > c se_jk}]`` with the full covariance and ``c`` the ``level`` quantile of the
    largest standardised pairwise deviation; see :mod:`sipas.engine.ranks`. The draws are
    multivariate t with the smallest domain df, so domains whose variances rest on few PSUs
    widen the sets (a conservative choice: one df for all pairs). With
    ``simultaneous=True`` the domains with ``rank_low <= k`` contain all of the true top
    ``k`` with probability ``level``, and those with ``rank_high <= k`` are in the top
    ``k`` with that confidence; the columns ``in_top`` and ``in_bottom`` mark the domains
    whose whole set lies in the top or bottom third.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> est = sipas.mean(d, "q23", by="district")
    >>> ranks = rank_domains(est, rng=1)
    >>> # district 1 has the highest mean, but with 4 communes per district (about 3 df
    >>> # per difference) no district can be placed with 95% confidence
    >>> ranks.loc[0, ["rank", "rank_low", "rank_high"]].tolist()
    [1, 1, 10]
    """
    table = estimate.to_frame()
    if estimate.basis is None or len(set(zip(table["variable"], table["value"]))) != 1:
        raise EstimationError("rank_domains needs an estimate of one variable with a "
                              "covariance (e.g. one index by province).")
    check_level(level)
    if isinstance(n_sim, bool) or not (isinstance(n_sim, int) and n_sim >= 1000):
        raise EstimationError(message("n_sim", "an integer >= 1000", n_sim))
    if top is not None and (isinstance(top, bool) or not (isinstance(top, int) and top >= 1)):
        raise EstimationError(message("top", "a positive integer (the k of the top k)", top))
    why = _unusable(table).to_numpy()
    ok = np.flatnonzero(why == "")
    est = table["estimate"].to_numpy(dtype=float)
    basis = estimate.basis.take(ok)
    cov = basis.cov()
    df = float(np.min(table["df"].to_numpy(dtype=float)[ok], initial=np.inf))
    out = table[list(estimate.by)].reset_index(drop=True)
    out["estimate"] = est
    for col in ("rank", "rank_low", "rank_high"):
        out[col] = pd.array([pd.NA] * len(table), dtype="Int64")
    out["in_top"] = pd.array([pd.NA] * len(table), dtype="boolean")
    out["in_bottom"] = pd.array([pd.NA] * len(table), dtype="boolean")
    if len(ok):
        sets = rank_sets(est[ok], cov, level=level, simultaneous=simultaneous, df=df,
                         n_sim=n_sim, rng=rng, descending=descending)
        k = max(1, len(ok) // 3) if top is None else top
        out.loc[ok, "rank"] = sets.rank
        out.loc[ok, "rank_low"] = sets.low
        out.loc[ok, "rank_high"] = sets.high
        out.loc[ok, "in_top"] = sets.high <= k
        out.loc[ok, "in_bottom"] = sets.low > len(ok) - k
    out["note"] = why
    return out


