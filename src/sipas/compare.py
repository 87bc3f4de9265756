"""Comparisons: differences between domains or survey waves, multiple testing, ranks.

* :func:`compare_domains` -- every domain against a reference (or all pairs) within one
  estimate; the covariance between domains of the same design is used.
* :func:`compare_waves` -- the same indicator in two independent samples (two waves).
* :func:`rank_domains` -- the distribution of each domain's rank by simulation from the
  estimates' joint sampling distribution.

p-values are two-sided t tests on the design df; ``adjust`` controls the family-wise error
(``holm``) or the false discovery rate (``fdr_bh``) across the comparisons (statsmodels).

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
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata

from sipas._validate import check_choice, check_level, message
from sipas.engine.intervals import t_quantile
from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate

__all__ = ["compare_domains", "compare_waves", "rank_domains"]

Adjust = Literal["holm", "fdr_bh", "bonferroni", "none"]
RESULT_COLUMNS = ("comparison", "variable", "value", "difference", "se", "ci_low", "ci_high",
                  "df", "t", "p_value", "p_adjusted", "significant")


def _tests(diff: np.ndarray, se: np.ndarray, df: np.ndarray, level: float,
           adjust: str) -> dict[str, np.ndarray]:
    from statsmodels.stats.multitest import multipletests

    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
    p = 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    p = np.where(np.isinf(df), 2 * stats.norm.sf(np.abs(t)), p)
    ok = ~np.isnan(p)
    padj = np.full_like(p, np.nan)
    if ok.any():
        padj[ok] = p[ok] if adjust == "none" else multipletests(p[ok], method=adjust)[1]
    q = t_quantile(level, df)
    return {"difference": diff, "se": se, "ci_low": diff - q * se, "ci_high": diff + q * se,
            "df": df, "t": t, "p_value": p, "p_adjusted": padj,
            "significant": padj < (1 - level)}


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
        ``comparison, variable, difference, se, ci_low, ci_high, df, t, p_value,
        p_adjusted, significant``; one row per comparison and variable, ``comparison``
        named ``"2.0 - 1.0"`` (domain values joined by ", " for several ``by`` columns).

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
    ``svyby(covmat=TRUE)`` + ``svycontrast``); df is the smaller of the two domains' df.
    ``t = difference / se``, two-sided p on ``df``; p-values adjusted with statsmodels
    ``multipletests`` (R ``p.adjust``).

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
    check_choice("adjust", adjust, ("holm", "fdr_bh", "bonferroni", "none"))
    if not estimate.by or estimate.basis is None:
        raise EstimationError("compare_domains needs an estimate with by= domains and a "
                              "covariance (mean, total, proportion, ratio or index).")
    table = estimate.to_frame()
    dom = table[list(estimate.by)].astype(str).agg(", ".join, axis=1).to_numpy()
    cov = estimate.basis.cov()
    est, df = table["estimate"].to_numpy(), table["df"].to_numpy(dtype=float)
    rows = []
    what = list(zip(table["variable"], table["value"]))
    for key in dict.fromkeys(what):
        idx = np.flatnonzero([w == key for w in what])
        for name, coef in _contrasts(idx, dom, reference, pairs, len(table)):
            used = np.flatnonzero(coef)
            rows.append((name, *key, coef @ est, np.sqrt(max(coef @ cov @ coef, 0.0)),
                         df[used].min()))
    if not rows:
        raise EstimationError("no comparison to make: the estimate has a single domain.")
    names, variables, values, diff, se, dfs = zip(*rows)
    out = pd.DataFrame({"comparison": list(names), "variable": list(variables),
                        "value": pd.Series(list(values), dtype=object)})
    diff, se, dfs = np.array(diff), np.array(se), np.array(dfs)
    res = _tests(diff.astype(float), se.astype(float), dfs.astype(float),
                 level or estimate.level, adjust)
    return pd.concat([out, pd.DataFrame(res)], axis=1)[list(RESULT_COLUMNS)]


def _contrasts(idx: np.ndarray, dom: np.ndarray, reference: str | None, pairs: bool, k: int):
    labels = dom[idx]
    if pairs:
        for a, b in itertools.combinations(range(len(idx)), 2):
            coef = np.zeros(k)
            coef[idx[a]], coef[idx[b]] = 1.0, -1.0
            yield f"{labels[a]} - {labels[b]}", coef
        return
    if reference is not None:
        hits = [i for i, lab in enumerate(labels) if _same_label(lab, reference)]
        if not hits:
            raise EstimationError(message("reference", f"one of the domains {list(labels)}",
                                          reference))
        for a in range(len(idx)):
            if a != hits[0]:
                coef = np.zeros(k)
                coef[idx[a]], coef[idx[hits[0]]] = 1.0, -1.0
                yield f"{labels[a]} - {labels[hits[0]]}", coef
        return
    for a in range(len(idx)):
        coef = np.zeros(k)
        coef[idx] = -1.0 / len(idx)
        coef[idx[a]] += 1.0
        yield f"{labels[a]} - mean of domains", coef


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
    samples), df the smaller of the two.

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
    ``min(df_1, df_2)``. R equivalent: ``svycontrast`` is for one design; for independent
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
    check_choice("adjust", adjust, ("holm", "fdr_bh", "bonferroni", "none"))
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
    diff = (merged["estimate"] - merged["estimate_prev"]).to_numpy()
    se = np.sqrt(merged["se"] ** 2 + merged["se_prev"] ** 2).to_numpy()
    df = np.minimum(merged["df"], merged["df_prev"]).to_numpy(dtype=float)
    label = merged[list(current.by)].astype(str).agg(", ".join, axis=1) if current.by else \
        pd.Series(["all"] * len(merged))
    label = label + ": current - previous" + np.where(merged["approximate"].astype(bool),
                                                      " (approximate)", "")
    out = pd.DataFrame({"comparison": label.to_numpy(),
                        "variable": merged["variable"].to_numpy(),
                        "value": merged["value"].to_numpy()})
    res = _tests(diff, se, df, level or current.level, adjust)
    return pd.concat([out, pd.DataFrame(res)], axis=1)[list(RESULT_COLUMNS)]


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


def rank_domains(estimate: Estimate, *, n_sim: int = 10_000,
                 rng: int | np.random.Generator | None = None, descending: bool = True,
                 level: float = 0.95) -> pd.DataFrame:
    """Rank of each domain and its uncertainty, by simulation.

    Draws ``n_sim`` vectors from the normal distribution with the estimates' mean and
    covariance, ranks the domains in each draw (1 = highest when ``descending``), and
    reports the point rank, the mean rank, a ``level`` rank interval and the probability
    of being first and last.

    Parameters
    ----------
    estimate : Estimate
        One variable by domains, with a covariance (mean, proportion, ratio, index).
    n_sim : int
        Number of draws, at least 100.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the draws (give one for reproducible intervals).
    descending : bool
        Rank 1 is the highest estimate (True) or the lowest.
    level : float
        Coverage of the rank interval.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``estimate``, ``rank`` (of the point estimates), ``mean_rank``,
        ``rank_low``, ``rank_high``, ``p_first``, ``p_last``.

    Raises
    ------
    EstimationError
        The estimate has several variables or no covariance; ``n_sim`` is not an integer
        >= 100.

    Notes
    -----
    Draws ``theta* ~ N(theta_hat, V)`` with ``V`` the design covariance of the domains; the
    rank interval is the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles of each domain's
    simulated ranks.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> est = sipas.mean(d, "q23", by="district")
    >>> ranks = rank_domains(est, n_sim=1000, rng=1)
    >>> ranks.loc[0, ["rank", "rank_low", "rank_high"]].tolist()  # district 1
    [1, 1, 2]
    """
    table = estimate.to_frame()
    if estimate.basis is None or len(set(zip(table["variable"], table["value"]))) != 1:
        raise EstimationError("rank_domains needs an estimate of one variable with a "
                              "covariance (e.g. one index by province).")
    check_level(level)
    if not (isinstance(n_sim, int) and n_sim >= 100):
        raise EstimationError(message("n_sim", "an integer >= 100", n_sim))
    gen = np.random.default_rng(rng)
    est = estimate.to_frame()["estimate"].to_numpy()
    cov = np.nan_to_num(estimate.basis.cov())
    draws = gen.multivariate_normal(est, cov, size=n_sim, method="eigh")
    sign = -1.0 if descending else 1.0
    ranks = rankdata(sign * draws, method="min", axis=1).astype(int)
    point = rankdata(sign * est, method="min").astype(int)  # ties share the best rank
    alpha = (1 - level) / 2
    out = estimate.to_frame()[[*estimate.by]].copy().reset_index(drop=True)
    out["estimate"] = est
    out["rank"] = point
    out["mean_rank"] = ranks.mean(axis=0)
    out["rank_low"] = np.quantile(ranks, alpha, axis=0, method="inverted_cdf").astype(int)
    out["rank_high"] = np.quantile(ranks, 1 - alpha, axis=0, method="inverted_cdf").astype(int)
    out["p_first"] = (ranks == 1).mean(axis=0)
    out["p_last"] = (ranks == len(est)).mean(axis=0)
    return out
