"""Publication tables: percentages, intervals, labels and flags in Vietnamese or English.

Results hold proportions in [0, 1] and means on the item scale; here, and only here, they
become what a report shows. Shares become percentages with the pipeline's ``decimals``
(stored as rounded proportions so that a spreadsheet formats them as ``78.4%``); means
(``measure="mean"``, recognised from the ``definition`` / ``meaning`` columns) stay on the
1-5 scale with one more decimal; the interval is two columns or one ``"lo–hi"`` text
column; headers, index labels and domain value labels follow ``lang``; reliability flags
stay beside every estimate and :func:`flag_notes` explains them.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"name": ["access"], "label_vi": ["Tiếp cận dịch vụ"],
...                   "label_en": ["Access to services"], "estimate": [0.79234],
...                   "ci_low": [0.7653], "ci_high": [0.8193], "n": [711], "flag": [""],
...                   "definition": ["item measure=top_box; factor aggregate=items"]})
>>> pub = publication_table("index_factors", t, TableContext(lang="en"), ci="text")
>>> pub.display().iloc[0].tolist()
['access', 'Access to services', '79.2%', '76.5–81.9', '711', '']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas.estimation.estimate import format_value as format_code
from sipas.report.disclosure import check_not_microdata
from sipas.report.labels import (
    DROP,
    DROP_INDEX,
    HEADER_OVERRIDES,
    KIND_OVERRIDES,
    MEANINGS,
    ORDER,
    STEPS,
    TITLES,
    VALUES,
    WORDS,
    column_entry,
    flag_notes,
    translate_flag,
)

__all__ = ["PubTable", "TableContext", "flag_notes", "publication_table", "translate_flag"]

Lang = Literal["vi", "en"]

@dataclass(frozen=True)
class TableContext:
    """What a table needs to know to present itself.

    Attributes
    ----------
    lang : {"vi", "en"}
    decimals : int
        Decimals of percentages (means on the answer scale get one more).
    measure : str
        The survey's item measure; ``"mean"`` keeps indices on the answer scale.
    level : float
        Confidence level of the intervals (for the headers).
    domains : mapping
        Domain column -> {code: label} (value labels of the data).
    domain_titles : mapping
        Domain column -> header (the variable label).
    names : mapping
        Index name (item, factor, ``"overall"``) -> {"vi": label, "en": label}.
    """

    lang: Lang = "vi"
    decimals: int = 1
    measure: str = "top_box"
    level: float = 0.95
    domains: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    domain_titles: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PubTable:
    """A table ready to publish: rounded ``frame`` and the display ``kinds`` of its cells."""

    name: str
    title: str
    frame: pd.DataFrame
    kinds: pd.DataFrame
    decimals: int = 1

    def display(self) -> pd.DataFrame:
        """Every cell as the text a report prints (``78.4%``, ``3.74``, ``711``)."""
        out = self.frame.copy().astype(object)
        for col_pos in range(self.frame.shape[1]):
            values = self.frame.iloc[:, col_pos].tolist()
            kinds = self.kinds.iloc[:, col_pos].tolist()
            out.iloc[:, col_pos] = [format_value(v, k, self.decimals)
                                    for v, k in zip(values, kinds)]
        return out


def number_format(kind: str, decimals: int) -> str:
    """The spreadsheet number format of a kind of cell."""
    dec = "." + "0" * decimals if decimals > 0 else ""
    more = "." + "0" * (decimals + 1)
    return {"percent": f"0{dec}%", "scale": f"0{more}", "pub": f"0{more}",
            "integer": "0", "ratio": "0.00", "coef": "0.000", "pvalue": "0.0000",
            "number": f"#,##0{more}"}.get(kind, "General")


def _digits(kind: str, decimals: int) -> int | None:
    return {"percent": decimals + 2, "scale": decimals + 1, "pub": decimals + 1,
            "integer": 0, "ratio": 2, "coef": 3, "pvalue": 4,
            "number": decimals + 1}.get(kind)


def format_value(value: Any, kind: str, decimals: int) -> str:
    """One cell as text: ``percent`` 0.784 -> ``'78.4%'``; NaN -> ``''``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str) or kind in ("text", "bool"):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if kind == "percent":
        return f"{100 * value:.{decimals}f}%"
    digits = _digits(kind, decimals)
    if digits is None:
        return str(value)
    if kind == "number":
        return f"{value:,.{digits}f}"
    return f"{value:.{digits}f}"


def _round(value: Any, kind: str, decimals: int) -> Any:
    digits = _digits(kind, decimals)
    if digits is None or not isinstance(value, (int, float, np.number)) or isinstance(
            value, bool) or not np.isfinite(value):
        return value
    return int(np.rint(value)) if kind == "integer" else round(float(value), digits)


def share_rows(table: pd.DataFrame, measure: str = "top_box") -> np.ndarray:
    """True where a row's estimate is a share (shown as %), False for a mean on the scale.

    Items say it in ``meaning`` (``"mean"`` for a scale mean); indices in ``definition``
    (``"item measure=mean; ..."``); other tables follow the survey's ``measure``.
    """
    if "meaning" in table.columns:
        return (table["meaning"].astype(str) != "mean").to_numpy()
    if "definition" in table.columns:
        return ~table["definition"].astype(str).str.contains("measure=mean;",
                                                             regex=False).to_numpy()
    return np.full(len(table), measure != "mean")


def title_of(name: str, ctx: TableContext) -> str:
    """The title of a pipeline table in the report's language."""
    i = 0 if ctx.lang == "vi" else 1
    if name in TITLES:
        return TITLES[name][i]
    for prefix, words in TITLES.items():
        if prefix.endswith("_") and name.startswith(prefix):
            rest = name[len(prefix):]
            return words[i].format(ctx.domain_titles.get(rest, rest))
    return name


def publication_table(name: str, table: pd.DataFrame, ctx: TableContext, *,
                      ci: Literal["columns", "text"] = "columns") -> PubTable:
    """Turn a pipeline table into a publication table.

    Parameters
    ----------
    name : str
        The pipeline's name of the table (``index_by_district``, ``ranks_district`` ...).
    table : DataFrame
        The tidy table (proportions in [0, 1], means on the scale, unrounded).
    ctx : TableContext
        Language, decimals and labels.
    ci : {"columns", "text"}
        Interval as two numeric columns, or one ``"lo–hi"`` text column.

    Returns
    -------
    PubTable
        Headers in ``ctx.lang``, values rounded, the display kind of every cell.

    Raises
    ------
    DisclosureError
        If the table is respondent-level (see :func:`check_not_microdata`).
    """
    check_not_microdata(table, name)
    t = _prepare(name, table, ctx)
    shares = share_rows(table, ctx.measure)
    family = next((k for k in KIND_OVERRIDES if name.startswith(k)), "")
    kinds = {c: _column_kinds(c, t[c], shares, KIND_OVERRIDES.get(family, {}), ctx)
             for c in t.columns}
    if ci == "text" and {"ci_low", "ci_high"} <= set(t.columns):
        t, kinds = _ci_text(t, kinds, ctx.decimals)
    frame = pd.DataFrame({c: [_round(v, k, ctx.decimals) for v, k in zip(t[c], kinds[c])]
                          for c in t.columns}, index=range(len(t)))
    kind_frame = pd.DataFrame({c: kinds[c] for c in t.columns}, index=range(len(t)))
    own = next((v for k, v in HEADER_OVERRIDES.items() if name.startswith(k)), {})
    headers = [_header(c, ctx, own) for c in t.columns]
    frame.columns = kind_frame.columns = _unique(headers)
    return PubTable(name, title_of(name, ctx), frame, kind_frame, ctx.decimals)


def _prepare(name: str, table: pd.DataFrame, ctx: TableContext) -> pd.DataFrame:
    t = table.reset_index(drop=True).copy()
    if name == "weighting_margins" and "level" in t.columns:
        t = t.rename(columns={"level": "category"})
        t["category"] = [_domain_label(ctx, m, v) for m, v in zip(t["margin"], t["category"])]
    other = "en" if ctx.lang == "vi" else "vi"
    if f"label_{ctx.lang}" in t.columns:
        label = t[f"label_{ctx.lang}"]
        if f"label_{other}" in t.columns:
            label = label.where(label.notna() & (label.astype(str) != ""), t[f"label_{other}"])
        pos = list(t.columns).index(f"label_{ctx.lang}")
        t = t.drop(columns=[c for c in (f"label_{ctx.lang}", f"label_{other}") if c in t])
        t.insert(pos, "label", label)
    index_like = {"name", "estimate"} <= set(t.columns)
    drop = [c for c in t.columns if c in DROP or (index_like and c in DROP_INDEX)
            or (c.startswith("share_") and _all_zero(t[c]))]
    t = t.drop(columns=drop)
    if name.startswith("reproduction") and {"value", "published"} <= set(t.columns):
        t = t.drop(columns=["value"])   # the published figure, shown as "published"
    elif "value" in t.columns:
        # the answer code a share counts; absent for means and indices
        if t["value"].isna().all():
            t = t.drop(columns=["value"])
        else:
            t["value"] = [v if v is None else format_code(v) for v in t["value"]]
    if name.startswith("weighting") and "name" in t.columns:
        t = t.rename(columns={"name": "method"})
        t["method"] = [STEPS.get(v, (v, v))[0 if ctx.lang == "vi" else 1] for v in t["method"]]
    for col in t.columns:
        if col in ctx.domains:
            t[col] = [_domain_label(ctx, col, v) for v in t[col]]
    i = 0 if ctx.lang == "vi" else 1
    for col, values in VALUES.items():
        if col in t.columns:
            t[col] = [values[v][i] if _hashable(v) and v in values else v for v in t[col]]
    for col in ("level", "index_level", "significant", "in_top", "in_bottom", "consistent"):
        if col in t.columns:
            t[col] = [WORDS[v][i] if _hashable(v) and v in WORDS else v for v in t[col]]
    if "meaning" in t.columns:
        t["meaning"] = [MEANINGS.get(v, (v, v))[i] for v in t["meaning"]]
    if "variable" in t.columns:
        t["variable"] = [ctx.names.get(v, {}).get(ctx.lang, v) for v in t["variable"]]
    if "comparison" in t.columns:
        t["comparison"] = [_comparison(v, name, ctx) for v in t["comparison"]]
    for col in ("flag", "flag_reason"):
        if col in t.columns:
            t[col] = [translate_flag(v, ctx.lang) for v in t[col]]
    if not index_like:
        return t
    first = [c for c in t.columns if c in ctx.domains]
    ordered = first + [c for c in ORDER if c in t.columns and c not in first]
    return t[ordered + [c for c in t.columns if c not in ordered]]


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, bool, np.bool_))


def _all_zero(col: pd.Series) -> bool:
    values = pd.to_numeric(col, errors="coerce")
    return bool(((values.fillna(0)) == 0).all())


def _domain_label(ctx: TableContext, column: str, value: Any) -> Any:
    parts = column.split(" x ")
    if isinstance(value, tuple) and len(value) == len(parts) > 1:
        # a cell of a joint margin ("sex x age_group", (1, 2)) reads "Nam × 25–34"
        return " × ".join(str(_domain_label(ctx, c, v)) for c, v in zip(parts, value))
    labels = ctx.domains.get(column, {})
    if value in labels:
        return labels[value]
    try:
        return labels.get(float(value), value)
    except (TypeError, ValueError):
        return value


def _comparison(text: Any, name: str, ctx: TableContext) -> Any:
    if not isinstance(text, str):
        return text
    column = name.removeprefix("compare_")
    i = 0 if ctx.lang == "vi" else 1
    parts = []
    for part in text.split(" - "):
        part = WORDS.get(part, (part, part))[i]
        parts.append(str(_domain_label(ctx, column, part)))
    return " - ".join(parts)


def _column_kinds(col: str, values: pd.Series, shares: np.ndarray,
                  overrides: Mapping[str, str], ctx: TableContext) -> list[str]:
    kind = overrides.get(col) or (column_entry(col) or ("", "", ""))[2]
    if re.fullmatch(r"rank_\d+", str(col)):
        kind = "percent"   # probability of each rank
    if kind == "est":
        return ["percent" if s else "scale" for s in shares]
    if not kind:
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values)
        kind = "number" if numeric else "text"
    return [kind] * len(values)


def _ci_text(t: pd.DataFrame, kinds: dict[str, list[str]],
             decimals: int) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    def one(lo: Any, hi: Any, kind: str) -> str:
        a, b = (format_value(v, kind, decimals).rstrip("%") for v in (lo, hi))
        return f"{a}–{b}" if a and b else ""

    text = [one(lo, hi, k) for lo, hi, k in zip(t["ci_low"], t["ci_high"], kinds["ci_low"])]
    pos = list(t.columns).index("ci_low")
    t = t.drop(columns=["ci_low", "ci_high"])
    t.insert(pos, "ci", text)
    kinds = {c: kinds[c] for c in t.columns if c != "ci"} | {"ci": ["text"] * len(t)}
    return t, kinds


def _header(col: str, ctx: TableContext,
            own: Mapping[str, tuple[str, str]] | None = None) -> str:
    if own and col in own:
        return own[col][0 if ctx.lang == "vi" else 1].format(lvl=f"{100 * ctx.level:g}")
    if col in ctx.domain_titles:
        return ctx.domain_titles[col]
    rank = re.fullmatch(r"rank_(\d+)", str(col))
    if rank:
        return f"{'Hạng' if ctx.lang == 'vi' else 'Rank'} {rank.group(1)}"
    entry = column_entry(col)
    if entry is None:
        return col if ctx.lang == "vi" else str(col).replace("_", " ").capitalize()
    vi, en, _ = entry
    return (vi if ctx.lang == "vi" else en).format(lvl=f"{100 * ctx.level:g}")


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return out
