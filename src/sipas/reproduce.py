"""Reproduce published figures from microdata, and show which definition explains them.

A published table has one row per figure: ``indicator`` (an item, a factor or ``overall``),
``domain`` (``all`` or ``column=value``), ``value``, ``unit`` (``percent``, ``percent_of_max``
or ``mean``), ``source`` and optionally ``year`` and ``note``. For each figure sipas computes
the value under the spec's definition and under the usual alternatives (weighted or not;
share of valid answers or of all respondents; top box or mean-based; item or respondent
aggregation), reports the difference and whether the published value lies in the 95% CI,
and names the definition that reproduces it best.

Examples
--------
>>> import sipas
>>> from sipas.reproduce import published_figures, reproduce
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> table = published_figures("cao-bang-2020")
>>> rep = reproduce(table, d, sd.spec)
>>> rep.table.loc[rep.table.indicator == "p01", "in_ci"].item()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas.design.protocol import SurveyDesign
from sipas.errors import ReadError, SpecError
from sipas.indices.factor import factor_index
from sipas.spec import Spec

__all__ = ["Reproduction", "published_figures", "reproduce"]

UNITS = ("percent", "percent_of_max", "mean")
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
        Required columns are missing, a ``unit`` is not ``percent``, ``percent_of_max`` or
        ``mean``, or a ``value`` is not a number.

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
        table = pd.read_csv(path, encoding="utf-8-sig")
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
    return table


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
class Reproduction:
    """Published versus computed figures.

    Attributes
    ----------
    table : DataFrame
        One row per published figure: the computed value under the spec's definition with
        its CI, the difference, ``in_ci``, the best-matching definition and its value, and a
        ``status`` (``reproduced``, ``not reproduced``, ``no data``).
    candidates : DataFrame
        Every definition tried for every figure.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> rep = reproduce(published_figures("cao-bang-2020").head(2), d, sd.spec)
    >>> rep.table["status"].tolist(), len(rep.candidates) > 2
    (['reproduced', 'reproduced'], True)
    """

    table: pd.DataFrame
    candidates: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table` (one row per published figure).

        Returns
        -------
        pandas.DataFrame
            The figure's ``indicator, domain, year, value, unit, source, published``, then
            ``computed, ci_low, ci_high, difference, in_ci, definition, best_definition,
            best_value, best_difference, best_in_ci, status`` (``note`` for ``no data``).

        Examples
        --------
        >>> import sipas
        >>> sd = sipas.datasets.load_demo()
        >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
        >>> rep = reproduce(published_figures("cao-bang-2020").head(1), d, sd.spec)
        >>> row = rep.to_frame().iloc[0]
        >>> float(row["published"]), row["status"]
        (70.0, 'reproduced')
        """
        return self.table.copy()


def reproduce(published: pd.DataFrame, design: SurveyDesign, spec: Spec, *,
              level: float = 0.95) -> Reproduction:
    """Compute each published figure and find the definition that reproduces it.

    Parameters
    ----------
    published : DataFrame
        See :func:`published_figures`.
    design : Design or ReplicateDesign
        The final (weighted) design of the survey (unweighted alternatives need a
        :class:`~sipas.Design`).
    spec : Spec
        The questionnaire spec: items, factors, scales and the published index definition.
    level : float
        Confidence level of the intervals used for ``in_ci``.

    Returns
    -------
    Reproduction
        ``table`` (one row per figure, ``status`` ``reproduced`` when the published value
        lies in the CI of the spec's definition or of the best alternative) and
        ``candidates`` (every definition tried).

    Raises
    ------
    SpecError
        ``published`` lacks required columns, has an unknown unit or a non-numeric value.

    Notes
    -----
    Each candidate is :func:`sipas.factor_index` of the indicator's items in the figure's
    domain under one definition (weighted or not; top box, mean or mean / max; share of
    valid answers or of all respondents; item or respondent aggregation); ``percent`` and
    ``percent_of_max`` figures are compared on the 0-100 scale. A figure whose indicator or
    domain is not in the data gets status ``no data``.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
    >>> rep = reproduce(published_figures("cao-bang-2020").head(4), d, sd.spec)
    >>> rep.table[["indicator", "unit", "status"]].values.tolist()[2:]
    [['p03', 'mean', 'reproduced'], ['p03', 'percent_of_max', 'reproduced']]
    """
    check_published(published)
    rows, cands = [], []
    for i, fig in published.reset_index(drop=True).iterrows():
        found = _candidates(fig, design, spec, level)
        if found is None:
            rows.append({**_ident(fig), "status": "no data",
                         "note": "the indicator or domain is not in these microdata"})
            continue
        for c in found:
            cands.append({"figure": i, **_ident(fig), **c})
        default, best = found[0], min(found, key=lambda c: abs(c["difference"]))
        rows.append({**_ident(fig), "computed": default["computed"],
                     "ci_low": default["ci_low"], "ci_high": default["ci_high"],
                     "difference": default["difference"], "in_ci": default["in_ci"],
                     "definition": default["definition"],
                     "best_definition": best["definition"], "best_value": best["computed"],
                     "best_difference": best["difference"], "best_in_ci": best["in_ci"],
                     "status": "reproduced" if default["in_ci"] or best["in_ci"]
                     else "not reproduced"})
    return Reproduction(pd.DataFrame(rows), pd.DataFrame(cands))


def _ident(fig: pd.Series) -> dict[str, Any]:
    keys = ("indicator", "domain", "year", "value", "unit", "source")
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
                "mean": ["mean"]}[unit]
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
    value, lo, hi = (float(est[c]) * factor for c in ("estimate", "ci_low", "ci_high"))
    published = float(fig["value"])
    parts = [wname, measure, f"share of {denom}"] + ([f"aggregate {agg}"] if len(items) > 1
                                                      else [])
    return {"definition": ", ".join(parts), "computed": value, "ci_low": lo, "ci_high": hi,
            "difference": published - value, "in_ci": bool(lo <= published <= hi),
            "n": int(est["n"])}
