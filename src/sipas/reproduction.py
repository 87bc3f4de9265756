"""Reproduce published figures from microdata, and show which definition explains them.

A published table has one row per figure: ``indicator`` (an item, a factor or ``overall``),
``domain`` (``all`` or ``column=value``), ``value``, ``unit`` (``percent``, ``percent_of_max``,
``mean``, or ``points`` for PAR INDEX points, which are checked for consistency but not
computed from the microdata), ``source`` and optionally ``year`` and ``note``. For each
figure sipas computes the value under the spec's definition and under the usual alternatives
(weighted or not; share of valid answers or of all respondents; top box or mean-based; item
or respondent aggregation). A figure is

* ``reproduced`` when the computed value rounds to the published one at the published
  precision (the decimals as written: "74.5" has one);
* ``within sampling error`` when it does not, but the published value lies in the computed
  interval (the difference is also given in standard errors);
* ``not consistent`` otherwise; ``no data`` when the microdata do not hold the indicator or
  domain.

Definitions are judged on all the figures of a table together: the best definition is the
one that reproduces the most figures (then the fewest not consistent); when several fit
equally, all are named instead of picking one. :func:`check_consistency` examines the
published table itself (an overall index that is not the mean of its factors, shares of a
question that do not add up to 100).

A figure computed from the same microdata as the published one must round to it; falling
inside a 95% interval only says that a different sample could have given it. On the bundled
demo the published Cao Bằng figures were *planted* by the synthetic generator, so their
reproduction checks the computation, not a method: see :func:`check_consistency` for a
check on published figures that owes nothing to the generator.

Examples
--------
>>> import sipas
>>> from sipas.reproduction import published_figures, reproduce
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> table = published_figures("cao-bang-2020")
>>> rep = reproduce(table, d, sd.spec)
>>> rep.table.loc[rep.table.indicator == "p01", "status"].item()  # 69.3 is not 70
'within sampling error'
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas._readonly import CopiedFrames
from sipas.design.protocol import SurveyDesign
from sipas.errors import ReadError, SpecError
from sipas.indices.factor import factor_index
from sipas.spec import Spec

__all__ = ["STATUSES", "Reproduction", "check_consistency", "published_figures", "reproduce"]

STATUSES = ("reproduced", "within sampling error", "not consistent", "no data")

UNITS = ("percent", "percent_of_max", "mean", "points")
REQUIRED = ("indicator", "domain", "value", "unit", "source")


def published_figures(name_or_path: str | Path) -> pd.DataFrame:
    """Read a table of published figures (CSV), or a bundled one by name.

    Bundled: ``"cao-bang-2020"`` (the seed article's figures and the national SIPAS series
    of sipas-method.md).

    Parameters
    ----------
    name_or_path : str or Path
        A CSV file (UTF-8), or the name of a bundled table (a name without a suffix).

    Returns
    -------
    pandas.DataFrame
        One row per figure: ``indicator, domain, value, unit, source`` and optional
        ``year``, ``note``.

    Raises
    ------
    ReadError
        The file does not exist, is not UTF-8, or cannot be parsed as CSV.
    SpecError
        Required columns are missing, a ``unit`` is not ``percent``, ``percent_of_max``,
        ``mean`` or ``points``, or a ``value`` is not a number.

    Examples
    --------
    >>> table = published_figures("cao-bang-2020")
    >>> table.loc[0, ["indicator", "domain", "unit"]].tolist(), float(table["value"][0])
    (['p01', 'all', 'percent'], 70.0)
    """
    path = Path(name_or_path)
    if not path.suffix:
        bundled = resources.files("sipas.datasets") / "data" / f"published_{name_or_path}.csv"
        path = Path(str(bundled))
    if not path.is_file():
        raise ReadError(f"published figures file {str(path)!r} does not exist.")
    try:
        table = pd.read_csv(path, encoding="utf-8-sig", dtype={"value": str})
    except UnicodeDecodeError as exc:
        raise ReadError(f"published figures file {str(path)!r} must be UTF-8 text; got byte "
                        f"{exc.object[exc.start:exc.start + 1]!r} at byte {exc.start}. Save it "
                        "as 'CSV UTF-8' (Excel) or convert it, e.g. iconv -f CP1258 -t UTF-8."
                        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        text = " ".join(str(exc).split())[:240]
        raise ReadError(f"Cannot parse published figures file {str(path)!r} as CSV "
                        f"({type(exc).__name__}: {text}). Check the delimiter (commas) and "
                        "quoting.") from exc
    check_published(table, str(path))
    if "decimals" not in table.columns:
        table["decimals"] = [_decimals(v) for v in table["value"]]
    table["value"] = pd.to_numeric(table["value"])
    return table


def _decimals(value: Any) -> int:
    """Decimals of a published value as written ("74.5" -> 1, "70" -> 0, 70.0 -> 0)."""
    text = str(value).strip()
    if isinstance(value, float):
        text = repr(value)
        if text.endswith(".0"):
            return 0
    if "e" in text.lower() or "." not in text:
        return 0
    return len(text.split(".", 1)[1])


def check_published(table: pd.DataFrame, where: str = "published table") -> None:
    """Columns and units of a published-figures table."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise SpecError(f"{where}: column(s) {missing} are missing; a published table needs "
                        f"{list(REQUIRED)}.")
    bad = sorted(set(table["unit"]) - set(UNITS))
    if bad:
        raise SpecError(f"{where}: unit(s) {bad} are not known; use one of {list(UNITS)}.")
    values = pd.to_numeric(table["value"], errors="coerce")
    if values.isna().any():
        rows = (np.flatnonzero(values.isna().to_numpy()) + 2).tolist()
        raise SpecError(f"{where}: value is not a number on line(s) {rows}.")


@dataclass(frozen=True)
class Reproduction(CopiedFrames):
    """Published versus computed figures.

    Attributes
    ----------
    table : DataFrame
        One row per published figure under the table's best definition: the computed
        value, its SE and interval, the difference (also in SEs) and the ``status``.
    candidates : DataFrame
        Every definition tried for every figure, each with its status.
    definitions : DataFrame
        Per definition, how many figures it reproduces, finds within sampling error, and
        finds not consistent (best first).

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> rep = reproduce(published_figures("cao-bang-2020").head(2), d, sd.spec)
    >>> rep.table["status"].tolist(), len(rep.candidates) > 2
    (['within sampling error', 'within sampling error'], True)
    """

    table: pd.DataFrame
    candidates: pd.DataFrame
    definitions: pd.DataFrame
    #: the tables are copies of what was given, and read as copies
    _frames = frozenset({"table", "candidates", "definitions"})

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table` (one row per published figure).

        Returns
        -------
        pandas.DataFrame
            The figure's ``indicator, domain, year, value, unit, source, published,
            decimals``, then ``computed, se, ci_low, ci_high, difference,
            difference_in_se, definition, status, note``.

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = reproduce(published_figures("cao-bang-2020").head(1), d, sd.spec)
        >>> row = rep.to_frame().iloc[0]
        >>> float(row["published"]), row["status"], round(float(row["computed"]), 1)
        (70.0, 'within sampling error', 69.3)
        """
        return self.table.copy()

    def summary(self) -> str:
        """The verdicts in a few lines: counts per status and the best definition(s).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> print(reproduce(published_figures("cao-bang-2020").head(2), d, sd.spec).summary())
        2 figures: 0 reproduced, 2 within sampling error, 0 not consistent, 0 no data
        best definition: weighted, share of valid answers (0 of 2 reproduced)
        """
        counts = self.table["status"].value_counts()
        lines = [f"{len(self.table)} figures: " + ", ".join(
            f"{int(counts.get(st, 0))} {st}" for st in STATUSES)]
        if len(self.definitions):
            top = self.definitions.iloc[0]
            best = self.definitions[
                (self.definitions["reproduced"] == top["reproduced"])
                & (self.definitions["not_consistent"] == top["not_consistent"])]
            names = " | ".join(best["definition"])
            lines.append(("best definition: " if len(best) == 1 else
                          "several definitions fit equally: ") + names +
                         f" ({int(top['reproduced'])} of {int(top['figures'])} reproduced)")
        return "\n".join(lines)


def reproduce(published: pd.DataFrame, design: SurveyDesign, spec: Spec, *,
              level: float = 0.95) -> Reproduction:
    """Compute each published figure and judge which definition reproduces the table.

    Parameters
    ----------
    published : DataFrame
        See :func:`published_figures`; a ``decimals`` column gives the published precision
        (inferred from the values when absent).
    design : Design or ReplicateDesign
        The final (weighted) design of the survey (unweighted alternatives need a
        :class:`~sipas.Design`).
    spec : Spec
        The questionnaire spec: items, factors, scales and the published index definition.
    level : float
        Confidence level of the intervals behind ``within sampling error``.

    Returns
    -------
    Reproduction
        ``table`` (one row per figure under the table's best definition), ``candidates``
        (every definition tried) and ``definitions`` (the definitions ranked on the whole
        table).

    Raises
    ------
    SpecError
        ``published`` lacks required columns, has an unknown unit or a non-numeric value.

    Notes
    -----
    Each candidate is :func:`sipas.factor_index` of the indicator's items in the figure's
    domain under one definition (weighted or not; top box, mean or mean / max; share of
    valid answers or of all respondents; item or respondent aggregation); ``percent`` and
    ``percent_of_max`` figures are compared on the 0-100 scale. ``reproduced``:
    ``|computed - published| <= 0.5 * 10^-decimals``; ``within sampling error``: the
    published value lies in the ``level`` interval. The best definition reproduces the
    most figures of the table, then has the fewest not consistent; the spec's definition
    wins a tie with another, and the table names every definition in a remaining tie.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> rep = reproduce(published_figures("cao-bang-2020").head(4), d, sd.spec)
    >>> rep.table[["indicator", "unit", "status"]].values.tolist()[2:]
    [['p03', 'mean', 'within sampling error'], ['p03', 'percent_of_max', 'within sampling error']]
    """
    check_published(published)
    published = published.reset_index(drop=True)
    if "decimals" not in published.columns:
        published = published.assign(decimals=[_decimals(v) for v in published["value"]])
    found: dict[int, list[dict[str, Any]]] = {}
    cands = []
    for pos, (_, fig) in enumerate(published.iterrows()):
        got = _candidates(fig, design, spec, level)
        if got is not None:
            found[pos] = got
            cands += [{"figure": pos, **_ident(fig), **c} for c in got]
    candidates = pd.DataFrame(cands)
    definitions = _rank_definitions(candidates)
    best = _best(definitions, candidates)
    rows = []
    for pos, (_, fig) in enumerate(published.iterrows()):
        if pos not in found:
            rows.append({**_ident(fig), "status": "no data",
                         "note": "the indicator or domain is not in these microdata"})
            continue
        pick = next((c for c in found[pos] if c["family"] in best), found[pos][0])
        rows.append({**_ident(fig), **{k: pick[k] for k in (
            "computed", "se", "ci_low", "ci_high", "difference", "difference_in_se",
            "definition", "status")}, "note": "" if len(best) == 1 else
            "several definitions fit equally: " + " | ".join(best)})
    return Reproduction(pd.DataFrame(rows), candidates, definitions)


def _rank_definitions(candidates: pd.DataFrame) -> pd.DataFrame:
    """Definitions (weighting, denominator, aggregation; the measure follows each figure's
    unit, the spec's first) ranked on all the figures of the table."""
    if candidates.empty:
        return pd.DataFrame(columns=["definition", "figures", "reproduced",
                                     "within_sampling_error", "not_consistent"])
    first = candidates.drop_duplicates(["figure", "family"])
    counts = pd.crosstab(first["family"], first["status"])
    out = pd.DataFrame({"definition": counts.index,
                        "figures": counts.sum(axis=1).to_numpy()})
    for st, col in (("reproduced", "reproduced"), ("within sampling error",
                                                   "within_sampling_error"),
                    ("not consistent", "not_consistent")):
        out[col] = counts[st].to_numpy() if st in counts.columns else 0
    # the spec's definition is each figure's first candidate: it wins ties
    out["spec"] = out["definition"].isin(set(candidates.groupby("figure")["family"].first()))
    out = out.sort_values(["reproduced", "not_consistent", "spec"],
                          ascending=[False, True, False], kind="stable")
    return out.drop(columns="spec").reset_index(drop=True)


def _best(definitions: pd.DataFrame, candidates: pd.DataFrame) -> list[str]:
    if definitions.empty:
        return []
    top = definitions.iloc[0]
    tied = definitions[(definitions["reproduced"] == top["reproduced"])
                       & (definitions["not_consistent"] == top["not_consistent"])]
    spec_defs = set(candidates.groupby("figure")["family"].first())
    if any(d in spec_defs for d in tied["definition"]):
        return [d for d in tied["definition"] if d in spec_defs][:1]
    return list(tied["definition"])


def _ident(fig: pd.Series) -> dict[str, Any]:
    keys = ("indicator", "domain", "year", "value", "unit", "source", "decimals")
    return {k: fig[k] for k in keys if k in fig.index} | {"published": float(fig["value"])}


def _domain_design(design: SurveyDesign, domain: str) -> SurveyDesign | None:
    if str(domain).strip().lower() in ("all", "", "nan"):
        return design
    col, _, value = str(domain).partition("=")
    col = col.strip()
    if col not in design.frame.columns:
        return None
    values = design.frame[col]
    target: Any = value.strip()
    if pd.api.types.is_numeric_dtype(values):
        try:
            target = float(target)
        except ValueError:
            return None
    mask = (values == target).to_numpy()
    return design.subset(mask) if (mask & (design.weight_array > 0)).any() else None


def _candidates(fig: pd.Series, design: SurveyDesign, spec: Spec, level: float):
    indicator, unit = str(fig["indicator"]), fig["unit"]
    target = _domain_design(design, fig["domain"])
    if target is None:
        return None
    if indicator in spec.item_names:
        items, aggs = [indicator], ["items"]
    elif indicator in [f.name for f in spec.factors]:
        items, aggs = list(spec.factor(indicator).items), ["items", "respondents"]
    elif indicator == "overall" and spec.overall_item:
        items, aggs = [spec.overall_item], ["items"]
    else:
        return None
    scale = spec.scale_of(items[0])
    measures = {"percent": ["top_box", "pct_of_max"], "percent_of_max": ["pct_of_max"],
                "mean": ["mean"]}.get(unit)
    if measures is None:  # PAR points are not computed from survey microdata
        return None
    if len(scale.codes) == 2:  # a yes/no item has no meaningful mean
        measures = [m for m in measures if m == "top_box"]
        if not measures:
            return None
    spec_measure = spec.index.measure if len(scale.codes) > 2 else "top_box"
    if spec_measure in measures:
        measures = [spec_measure] + [m for m in measures if m != spec_measure]
    designs = [("weighted", target)]
    if not target.replicated:
        designs.append(("unweighted", target.unweighted()))
    out = []
    for wname, dsg in designs:
        for measure in measures:
            for agg in aggs:
                denoms = ("valid answers", "all respondents") if measure == "top_box" else \
                    ("valid answers",)
                for denom in denoms:
                    out.append(_one(fig, dsg, items, measure, agg, denom, scale, wname, level))
    return out


def _one(fig, design, items, measure, agg, denom, scale, wname, level) -> dict[str, Any]:
    cols = items
    if denom == "all respondents":
        # a missing answer counts as "not satisfied": the share among all respondents
        frame = design.frame
        design = design.with_columns({f"{c}__all": frame[c].fillna(-1.0) for c in items})
        cols = [f"{c}__all" for c in items]
    est = factor_index(design, cols, measure=measure, satisfied=list(scale.satisfied),
                       aggregate=agg, scale=None if measure == "top_box" else
                       (scale.min, scale.max), level=level).to_frame().iloc[0]
    factor = 100.0 if fig["unit"] in ("percent", "percent_of_max") else 1.0
    value, se, lo, hi = (float(est[c]) * factor for c in ("estimate", "se", "ci_low",
                                                          "ci_high"))
    published = float(fig["value"])
    parts = [wname, measure, f"share of {denom}"] + ([f"aggregate {agg}"] if len(items) > 1
                                                      else [])
    half_unit = 0.5 * 10.0 ** -int(fig.get("decimals", _decimals(fig["value"])))
    diff = published - value
    if abs(diff) <= half_unit * (1 + 1e-9):
        status = "reproduced"
    elif lo <= published <= hi:
        status = "within sampling error"
    else:
        status = "not consistent"
    family = ", ".join(parts[:1] + parts[2:])
    return {"definition": ", ".join(parts), "family": family, "computed": value, "se": se,
            "ci_low": lo,
            "ci_high": hi, "difference": diff,
            "difference_in_se": diff / se if se > 0 else np.nan, "status": status,
            "n": int(est["n"])}


def check_consistency(published: pd.DataFrame) -> pd.DataFrame:
    """Findings about a published table itself, independent of any microdata.

    Three checks, each allowing for the published rounding:

    * rows with a ``part_of`` column naming another indicator of the same domain, year and
      unit are its parts: the whole should be the mean of its parts;
    * the same in unit ``points`` (PAR INDEX): the total should be the sum of its parts;
    * rows of one indicator, domain and year in unit ``percent`` with a ``category`` column
      are the shares of the answers: they should add up to 100.

    Parameters
    ----------
    published : pandas.DataFrame
        See :func:`published_figures`; ``part_of`` and ``category`` are optional columns.

    Returns
    -------
    pandas.DataFrame
        One row per check made: ``check, indicator, domain, year, published, expected,
        difference, tolerance, consistent``. A row with ``consistent`` False is a finding
        (the whole is a weighted mean, or a figure was mistyped: ask the publisher).

    Examples
    --------
    >>> out = check_consistency(published_figures("cao-bang-2020"))
    >>> out.loc[out["year"] == 2023, ["published", "expected", "consistent"]].values.tolist()
    [[82.66, 82.888, False]]
    """
    check_published(published)
    table = published.reset_index(drop=True)
    if "decimals" not in table.columns:
        table = table.assign(decimals=[_decimals(v) for v in table["value"]])
    half = 0.5 * 10.0 ** -table["decimals"].astype(float)
    year = table["year"] if "year" in table.columns else pd.Series([pd.NA] * len(table))
    rows = []
    if "part_of" in table.columns:
        parts = table[table["part_of"].notna() & (table["part_of"].astype(str) != "")]
        for (whole, dom, yr, unit), grp in parts.groupby(
                [parts["part_of"], parts["domain"], year[parts.index].fillna(-1),
                 parts["unit"]], sort=False):
            match = table[(table["indicator"] == whole) & (table["domain"] == dom)
                          & (year.fillna(-1) == yr) & (table["unit"] == unit)]
            if match.empty:
                continue
            value = float(match["value"].iloc[0])
            if unit == "points":
                rows.append(("total = sum of its parts", whole, dom, yr, value,
                             float(grp["value"].sum()),
                             float(half[match.index[0]] + half[grp.index].sum())))
                continue
            expected = float(grp["value"].mean())
            tol = float(half[match.index[0]] + half[grp.index].mean())
            rows.append(("whole = mean of its parts", whole, dom, yr, value, expected, tol))
    if "category" in table.columns:
        shares = table[table["category"].notna() & (table["unit"] == "percent")]
        for (ind, dom, yr), grp in shares.groupby(
                [shares["indicator"], shares["domain"], year[shares.index].fillna(-1)],
                sort=False):
            total = float(grp["value"].sum())
            rows.append(("shares add up to 100", ind, dom, yr, total, 100.0,
                         float(half[grp.index].sum())))
    out = pd.DataFrame(rows, columns=["check", "indicator", "domain", "year", "published",
                                      "expected", "tolerance"])
    out["year"] = out["year"].replace(-1, pd.NA)
    out["expected"] = out["expected"].round(10)
    out.insert(6, "difference", (out["published"] - out["expected"]).round(10))
    out["consistent"] = out["difference"].abs() <= out["tolerance"] * (1 + 1e-9)
    return out
