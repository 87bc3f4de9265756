"""Scoring a PAR scheme: survey indices to points, totals, ranks and their uncertainty.

Examples
--------
>>> import pandas as pd
>>> from sipas.par import load_scheme, score
>>> s = load_scheme("example")
>>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
...        "factor:feedback", "overall"]
>>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
>>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
...                           "points": [20.0, 15.0, 10.0]})
>>> round(float(score(s, appraisal=appraisal, survey=survey).totals["total"][0]), 6)
78.2
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from sipas._validate import generator, message
from sipas.engine.basis import VarBasis
from sipas.engine.intervals import t_quantile
from sipas.engine.ranks import rank_sets
from sipas.errors import ScoringError
from sipas.par.scheme import Scheme, SubCriterion

__all__ = ["ParResult", "score", "survey_table"]


@dataclass(frozen=True, eq=False)
class ParResult:
    """Points per province: ``points`` (per sub-criterion), ``areas``, ``totals`` (with SE,
    CI, rank, rank interval and group) and ``rank_probabilities`` (province x rank).

    Attributes
    ----------
    scheme : Scheme
        The scheme scored.
    points : DataFrame
        One row per province and sub-criterion: ``province, area, criterion, code,
        label_vi, label_en, source, index, max_points, value, points``.
    areas : DataFrame
        One row per province and area: ``max_points, points, appraisal_points,
        survey_points``.
    totals : DataFrame
        One row per province: ``appraisal, officials_survey, citizen_survey, survey, total,
        se, ci_low, ci_high, rank, group`` (and the simulation columns, see :func:`score`).
    rank_probabilities : DataFrame or None
        With ``n_sim``: probability of each rank (columns ``rank_1``...) per province.
    values, appraisal : mapping
        The survey values and appraisal points used, per province.

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas.par import load_scheme, score
    >>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
    ...        "factor:feedback", "overall"]
    >>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
    ...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
    >>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
    ...                           "points": [20.0, 15.0, 10.0]})
    >>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey)
    >>> res.points[["code", "points"]].round(2).values.tolist()[:2]
    [['A1.1.1', 20.0], ['A1.2.1', 5.6]]
    """

    scheme: Scheme
    points: pd.DataFrame
    areas: pd.DataFrame
    totals: pd.DataFrame
    rank_probabilities: pd.DataFrame | None
    values: Mapping[str, Mapping[str, float]] = field(repr=False)
    appraisal: Mapping[str, Mapping[str, float]] = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`totals` (one row per province).

        Returns
        -------
        pandas.DataFrame
            ``province, appraisal, officials_survey, citizen_survey, survey, total, se,
            ci_low, ci_high, rank, group`` (plus ``sim_se, rank_low, rank_high``
            after a simulation).

        Examples
        --------
        >>> import pandas as pd
        >>> from sipas.par import load_scheme, score
        >>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
        ...        "factor:feedback", "overall"]
        >>> survey = pd.DataFrame({"province": "X", "index": idx, "se": 0.02,
        ...                        "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76]})
        >>> appraisal = pd.DataFrame({"province": ["X"] * 3, "code": ["A1.1.1", "A2.1.1", "A3.1.1"],
        ...                           "points": [20.0, 15.0, 10.0]})
        >>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey)
        >>> row = res.to_frame().iloc[0]
        >>> round(float(row["total"]), 2), int(row["rank"]), row["group"]
        (78.2, 1, 'C')
        """
        return self.totals.copy()


def survey_table(result: Any, *, province: str | None = None,
                 by: str | None = None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Long table (province, index, estimate, se) and per-province covariance from an
    :class:`~sipas.indices.IndexResult` (by province, or overall with ``province=``).

    Parameters
    ----------
    result : IndexResult
        Satisfaction indices (:func:`sipas.satisfaction_index`), by a province column or
        without domains.
    province : str, optional
        The province a result without domains belongs to (ignored with domains).
    by : str, optional
        The domain column that names the province (default the first ``by`` column).

    Returns
    -------
    (pandas.DataFrame, dict)
        The table ``province, index, estimate, se`` (``index`` ``factor:<name>`` or
        ``overall``; provinces as text), and per province the covariance matrix of its rows
        from the design, for :func:`score` (``survey=(table, covs)``).

    Raises
    ------
    ScoringError
        A result without domains and no ``province``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> table, covs = survey_table(sipas.satisfaction_index(d, sd.spec), province="Cao Bằng")
    >>> table["index"].tolist()[-2:], covs["Cao Bằng"].shape
    (['factor:feedback', 'overall'], (6, 6))
    """
    ests = [e for e in (result.factor_estimate, result.overall_estimate) if e is not None]
    frames, bases = [], []
    for est in ests:
        t = est.to_frame()
        prefix = "overall" if est is result.overall_estimate else "factor:"
        frame = pd.DataFrame({"index": [prefix if prefix == "overall" else prefix + v
                                        for v in t["variable"]],
                              "estimate": t["estimate"], "se": t["se"]})
        if est.by:
            key = by or est.by[0]
            frame["province"] = t[key].astype(str).to_numpy()
        else:
            if province is None:
                raise ScoringError("an IndexResult without domains needs province= (whose "
                                   "survey it is).")
            frame["province"] = province
        frames.append(frame)
        bases.append(est.basis)
    table = pd.concat(frames, ignore_index=True)
    cov = VarBasis.concat(bases).cov()
    covs = {}
    for prov, idx in table.groupby("province").indices.items():
        rows = np.asarray(idx)
        covs[str(prov)] = cov[np.ix_(rows, rows)]
    return table[["province", "index", "estimate", "se"]], covs


def _read_table(value: Any, what: str) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value.copy()
    path = Path(value)
    if not path.is_file():
        raise ScoringError(f"{what} file {str(path)!r} does not exist.")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path)
        return pd.read_csv(path, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScoringError(f"{what} file {str(path)!r} must be UTF-8 text; got byte "
                           f"{exc.object[exc.start:exc.start + 1]!r} at byte {exc.start}. "
                           "Save it as 'CSV UTF-8' (Excel) or convert it, e.g. iconv -f CP1258 "
                           "-t UTF-8.") from None
    except Exception as exc:  # pandas/openpyxl raise many types
        text = " ".join(str(exc).split())[:240]
        raise ScoringError(f"cannot read {what} file {str(path)!r} ({type(exc).__name__}: "
                           f"{text}). Save it as CSV (UTF-8) or .xlsx.") from exc


def _appraisal(table: pd.DataFrame, scheme: Scheme) -> dict[str, dict[str, float]]:
    subs = {s.code: s for s in scheme.subcriteria if s.source == "appraisal"}
    if "province" not in table.columns:
        raise ScoringError("the appraisal table needs a 'province' column.")
    if {"code", "points"} <= set(table.columns):
        long = table[["province", "code", "points"]]
    else:
        cols = [c for c in table.columns if c != "province"]
        long = table.melt(id_vars="province", value_vars=cols, var_name="code",
                          value_name="points")
    out: dict[str, dict[str, float]] = {}
    for row in long.itertuples(index=False):
        prov, code = str(row.province), str(row.code)
        pts = _float(row.points, f"appraisal points of {code!r} for {prov!r}")
        if code in out.get(prov, {}):
            raise ScoringError(f"appraisal table: province {prov!r} has points for {code!r} "
                               "twice. Keep one row per province and sub-criterion.")
        if code not in subs:
            raise ScoringError(f"appraisal code {code!r} (province {prov!r}) is not an "
                               f"appraisal sub-criterion of scheme {scheme.name!r}.")
        if not 0 <= pts <= subs[code].max + 1e-9:
            raise ScoringError(f"appraisal points of {code!r} for {prov!r} must be in "
                               f"[0, {subs[code].max:g}]; got {pts!r}.")
        out.setdefault(prov, {})[code] = pts
    for prov, got in out.items():
        missing = sorted(set(subs) - set(got))
        if missing:
            raise ScoringError(f"appraisal table: province {prov!r} has no points for "
                               f"{missing[:8]}.")
    return out


def _float(value: Any, name: str) -> float:
    """A number from a table cell; text such as '20,5' is an error, never guessed."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        comma = isinstance(value, str) and "," in value
        raise ScoringError(message(name, "a number", value,
                                   "Write numbers with a decimal point (20.5, not 20,5)."
                                   if comma else "Fix the cell.")) from None


def _check_survey_table(table: pd.DataFrame, src: str) -> pd.DataFrame:
    """Estimates numeric, standard errors finite and >= 0, one row per province and index."""
    table = table.assign(province=table["province"].astype(str))
    where = src.replace("_", " ")
    for col in ("estimate", "se"):
        table[col] = [_float(v, f"{where} {col} of {i!r} for {p!r}")
                      for p, i, v in zip(table["province"], table["index"], table[col])]
    se, est = table["se"].to_numpy(), table["estimate"].to_numpy()
    bad = (~np.isfinite(se) | (se < 0)) & ~np.isnan(est)  # no estimate: refused where used
    if bad.any():
        r = table[bad].iloc[0]
        raise ScoringError(f"{where} table: " + message(
            f"se of {r['index']!r} for {r['province']!r}", "a finite number >= 0", float(r["se"]),
            f"{int(bad.sum())} row(s) have a missing or negative standard error; give every "
            "index its SE (0 if it is known exactly), or the totals' SE would be NaN."))
    dup = table.duplicated(["province", "index"], keep=False)
    if dup.any():
        pairs = sorted({(p, i) for p, i in zip(table["province"][dup], table["index"][dup])})
        raise ScoringError(f"{where} table: (province, index) pair(s) {pairs[:5]} appear more "
                           "than once. Keep one row per province and index.")
    return table


def _survey_values(survey: Any, officials: Any) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    covs: dict[str, np.ndarray] = {}
    frames = []
    for src, value in (("citizen_survey", survey), ("officials_survey", officials)):
        if value is None:
            continue
        if hasattr(value, "factor_estimate"):
            table, cov = survey_table(value)
            covs.update({f"{src}|{k}": v for k, v in cov.items()})
        elif isinstance(value, tuple):
            table, cov = value
            covs.update({f"{src}|{k}": v for k, v in cov.items()})
        else:
            table = _read_table(value, src.replace("_", " "))
        need = {"province", "index", "estimate", "se"}
        if not need <= set(table.columns):
            raise ScoringError(f"{src} table needs columns {sorted(need)}; got "
                               f"{list(table.columns)}.")
        frames.append(_check_survey_table(table, src).assign(source=src))
    if not frames:
        raise ScoringError("score() needs survey= (citizen survey indices).")
    return pd.concat(frames, ignore_index=True), covs


def score(scheme: Scheme, *, appraisal: Any, survey: Any, officials: Any = None,
          level: float = 0.95, n_sim: int = 0,
          rng: int | np.random.Generator | None = None) -> ParResult:
    """Points per sub-criterion, area and province; totals, ranks and their uncertainty.

    Parameters
    ----------
    scheme : Scheme
        The PAR scheme (:func:`~sipas.par.load_scheme`).
    appraisal : DataFrame or path (CSV/Excel)
        Appraisal points per province: long (province, code, points) or wide (province
        and one column per appraisal sub-criterion code).
    survey : IndexResult, DataFrame or path
        Citizen-survey indices per province: an ``IndexResult`` by province, or a table
        (province, index, estimate, se) with ``index`` as ``factor:<name>``, ``item:<name>``
        or ``overall`` and estimates in [0, 1] (or on the 1-5 scale where the scheme
        transforms them); or the ``(table, covariances)`` pair of :func:`survey_table`.
    officials : same as survey, optional
        Officials' survey results.
    level : float
        Confidence level of the totals' intervals (normal quantile) and coverage of the
        simulated rank intervals.
    n_sim : int
        Draws of the survey indices from their sampling distribution (normal with the
        estimated covariance) for rank intervals and rank probabilities; 0 for none.
    rng : int or Generator
        Randomness of the simulation (reproducible with a seed).

    Returns
    -------
    ParResult
        ``points``, ``areas``, ``totals`` and, with ``n_sim``, ``rank_probabilities``.
        With ``n_sim`` the totals gain ``sim_se`` (SD of the simulated totals) and
        ``rank_low``, ``rank_high``: simultaneous ``level`` confidence sets of the ranks of
        all provinces (:func:`sipas.engine.ranks.rank_sets`), and ``rank_probabilities``
        gives the share of draws in which each province takes each rank (a description of
        the uncertainty, not a confidence statement).

    Raises
    ------
    ScoringError
        Tables that do not fit the scheme or each other: different provinces, codes or
        indices the scheme does not know or needs, values outside [0, 1] after the
        transform, points outside [0, max], text in number cells, missing or negative
        standard errors, duplicate rows, a file that cannot be read; ``level`` outside
        (0, 1) or ``n_sim`` below 100.

    Notes
    -----
    The appraisal part is fixed; the survey points of a province have variance
    ``g' V g`` with ``g`` the points per unit of each index (linear rules) and ``V`` the
    covariance of the province's indices (estimated from the same sample when an
    ``IndexResult`` is given; independent otherwise). Ranks use the competition rule
    (ties share the best rank). ``se``, ``ci_low`` and ``ci_high`` are NaN when any survey
    sub-criterion uses ``rule = "bands"`` (points are a step function of the value, so the
    delta method does not apply); the simulation still gives ``sim_se`` and rank
    intervals. ``ci = total -+ z se``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas.par import load_scheme
    >>> idx = ["factor:access", "factor:procedures", "factor:officials", "factor:results",
    ...        "factor:feedback", "overall"]
    >>> survey = pd.DataFrame({"province": ["X"] * 6 + ["Y"] * 6, "index": idx * 2,
    ...                        "se": 0.02, "estimate": [0.8, 0.7, 0.9, 0.8, 0.6, 0.76] * 2})
    >>> appraisal = pd.DataFrame({"province": ["X"] * 3 + ["Y"] * 3,
    ...                           "code": ["A1.1.1", "A2.1.1", "A3.1.1"] * 2,
    ...                           "points": [20.0, 15.0, 10.0, 22.0, 15.0, 10.0]})
    >>> res = score(load_scheme("example"), appraisal=appraisal, survey=survey, n_sim=500,
    ...             rng=1)
    >>> res.totals[["province", "rank", "group"]].values.tolist()
    [['X', 2, 'C'], ['Y', 1, 'B']]
    >>> bool(res.totals["se"].isna().all())  # the example scheme has a bands rule
    True
    >>> list(res.totals.columns[-3:])
    ['sim_se', 'rank_low', 'rank_high']
    """
    if (isinstance(level, bool) or not isinstance(level, (int, float))
            or not 0 < level < 1):
        raise ScoringError(message("level", "a number in (0, 1)", level,
                                   "Use 0.95 for a 95% interval."))
    table, covs = _survey_values(survey, officials)
    app = _appraisal(_read_table(appraisal, "appraisal"), scheme)
    provinces = sorted(app)
    _check_provinces(provinces, sorted(set(table["province"])))
    values = _lookup(table, provinces)
    points = _points(scheme, provinces, values, app)
    se = _survey_se(scheme, provinces, table, covs)
    totals = _totals(scheme, points, se, level)
    probs = None
    if n_sim:
        totals, probs = _simulate(scheme, provinces, values, app, table, covs, totals, n_sim,
                                  rng, level)
    areas = _areas(scheme, points)
    return ParResult(scheme, points, areas, totals, probs, values, app)


def _check_provinces(appraised: list[str], surveyed: list[str]) -> None:
    """The same provinces in both tables; names that differ only invisibly are named."""
    missing = sorted(set(appraised) - set(surveyed))
    extra = sorted(set(surveyed) - set(appraised))
    if not (missing or extra):
        return
    keys = {_name_key(p): p for p in extra}
    alike = [(p, keys[_name_key(p)]) for p in missing if _name_key(p) in keys]
    hint = (f" Name(s) {alike[:5]} differ only in spaces, letter case or the Unicode form of "
            "their diacritics (NFC vs NFD): normalise both tables, e.g. "
            "unicodedata.normalize('NFC', name).strip()." if alike else "")
    raise ScoringError(f"provinces differ between appraisal and survey tables: missing from "
                       f"the survey {missing[:8]}; missing from the appraisal {extra[:8]}. "
                       f"Use the same province names in both.{hint}")


def _name_key(name: str) -> str:
    """A province name without the differences a reader cannot see."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def _lookup(table: pd.DataFrame, provinces: list[str]) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, float]] = {p: {} for p in provinces}
    for prov, source, index, est in zip(table["province"], table["source"], table["index"],
                                        table["estimate"]):
        values[prov][f"{source}|{index}"] = float(est)
    return values


def _value(values: Mapping[str, float], sub: SubCriterion, prov: str) -> float:
    key = f"{sub.source}|{sub.index}"
    if key not in values:
        raise ScoringError(f"{sub.source.replace('_', ' ')} index {sub.index!r} (sub-criterion "
                           f"{sub.code}) is missing for province {prov!r}.")
    v = sub.transformed(values[key])
    if not -1e-12 <= v <= 1 + 1e-12:
        raise ScoringError(message(f"index {sub.index!r} of {prov!r} (after transform "
                                   f"{sub.transform!r})", "in [0, 1]", v,
                                   "Give shares as proportions (0.82, not 82)."))
    return values[key]


def _points(scheme, provinces, values, app) -> pd.DataFrame:
    rows = []
    for prov in provinces:
        for sub in scheme.subcriteria:
            if sub.source == "appraisal":
                value, pts = np.nan, app[prov][sub.code]
            else:
                value = _value(values[prov], sub, prov)
                pts = min(sub.convert(value), sub.max)
            rows.append({"province": prov, "area": sub.area, "criterion": sub.criterion,
                         "code": sub.code, "label_vi": sub.label.get("vi", sub.code),
                         "label_en": sub.label.get("en", sub.code), "source": sub.source,
                         "index": sub.index, "max_points": sub.max, "index_value": value,
                         "points": pts})
    return pd.DataFrame(rows)


def _survey_se(scheme, provinces, table, covs) -> dict[str, float]:
    se = {}
    for prov in provinces:
        rows = table[table["province"] == prov].reset_index(drop=True)
        keys = (rows["source"] + "|" + rows["index"]).tolist()
        g = np.zeros(len(keys))
        for sub in scheme.subcriteria:
            if sub.source != "appraisal":
                g[keys.index(f"{sub.source}|{sub.index}")] += sub.slope()
        cov = _province_cov(rows, covs, prov)
        se[prov] = float(np.sqrt(max(g @ cov @ g, 0.0))) if np.all(np.isfinite(g)) else np.nan
    return se


def _province_cov(rows: pd.DataFrame, covs: Mapping[str, np.ndarray], prov: str) -> np.ndarray:
    cov = np.diag(rows["se"].to_numpy(dtype=float) ** 2)
    for src in ("citizen_survey", "officials_survey"):
        block = covs.get(f"{src}|{prov}")
        idx = np.flatnonzero(rows["source"].to_numpy() == src)
        if block is not None and block.shape == (len(idx), len(idx)):
            cov[np.ix_(idx, idx)] = block
    return cov


def _totals(scheme: Scheme, points: pd.DataFrame, se: Mapping[str, float],
            level: float) -> pd.DataFrame:
    wide = points.pivot_table(index="province", columns="source", values="points",
                              aggfunc="sum").reindex(columns=list(scheme.max_by_source()),
                                                     fill_value=0.0).fillna(0.0)
    out = pd.DataFrame({"province": wide.index.astype(str)})
    out["appraisal"] = wide["appraisal"].to_numpy()
    out["officials_survey"] = wide["officials_survey"].to_numpy()
    out["citizen_survey"] = wide["citizen_survey"].to_numpy()
    out["survey"] = out["officials_survey"] + out["citizen_survey"]
    out["total"] = out["appraisal"] + out["survey"]
    out["se"] = [se[p] for p in out["province"]]
    q = float(t_quantile(level, np.inf))
    out["ci_low"], out["ci_high"] = out["total"] - q * out["se"], out["total"] + q * out["se"]
    out["rank"] = rankdata(-out["total"].to_numpy(), method="min").astype(int)
    out["group"] = [scheme.group(t) for t in out["total"]]
    return out


def _draw_values(table, covs, provinces, n_sim, gen) -> dict[str, tuple[list[str], np.ndarray]]:
    draws = {}
    for prov in provinces:
        rows = table[table["province"] == prov].reset_index(drop=True)
        keys = (rows["source"] + "|" + rows["index"]).tolist()
        cov = _province_cov(rows, covs, prov)
        mean = rows["estimate"].to_numpy(dtype=float)
        draws[prov] = (keys, gen.multivariate_normal(mean, np.nan_to_num(cov), size=n_sim,
                                                     method="eigh"))
    return draws


def _simulate(scheme, provinces, values, app, table, covs, totals, n_sim, rng, level):
    if not (isinstance(n_sim, int) and n_sim >= 100):
        raise ScoringError(message("n_sim", "0 or an integer >= 100", n_sim))
    gen = generator(rng, ScoringError)
    draws = _draw_values(table, covs, provinces, n_sim, gen)
    sims = np.zeros((n_sim, len(provinces)))
    for j, prov in enumerate(provinces):
        keys, d = draws[prov]
        tot = np.full(n_sim, sum(app[prov].values()))
        for sub in scheme.subcriteria:
            if sub.source == "appraisal":
                continue
            tot += sub.convert_array(d[:, keys.index(f"{sub.source}|{sub.index}")])
        sims[:, j] = tot
    ranks = np.vstack([rankdata(-row, method="min") for row in sims]).astype(int)
    order = {p: j for j, p in enumerate(provinces)}
    idx = [order[p] for p in totals["province"]]
    totals = totals.copy()
    totals["sim_se"] = sims.std(axis=0, ddof=1)[idx]
    # provinces are independent samples; a bands rule has no delta-method se, so the
    # simulated one stands in
    se = np.where(np.isfinite(totals["se"]), totals["se"], totals["sim_se"])
    sets = rank_sets(totals["total"].to_numpy(dtype=float), np.diag(se**2), level=level,
                     simultaneous=True, n_sim=max(n_sim, 1000), rng=gen)
    totals["rank_low"], totals["rank_high"] = sets.low, sets.high
    n = len(provinces)
    probs = pd.DataFrame([(ranks[:, j] == r).mean() for j in range(n) for r in range(1, n + 1)])
    probs = pd.DataFrame(probs.to_numpy().reshape(n, n), index=provinces,
                         columns=[f"rank_{r}" for r in range(1, n + 1)])
    return totals, probs


def _areas(scheme: Scheme, points: pd.DataFrame) -> pd.DataFrame:
    rows = []
    labels: dict[Hashable, Mapping[str, str]] = {a.code: a.label for a in scheme.areas}
    for (prov, area), grp in points.groupby(["province", "area"], sort=False):
        rows.append({"province": prov, "area": area,
                     "label_vi": labels[area].get("vi", area),
                     "label_en": labels[area].get("en", area),
                     "max_points": grp["max_points"].sum(), "points": grp["points"].sum(),
                     "appraisal_points": grp.loc[grp.source == "appraisal", "points"].sum(),
                     "survey_points": grp.loc[grp.source != "appraisal", "points"].sum()})
    return pd.DataFrame(rows)
