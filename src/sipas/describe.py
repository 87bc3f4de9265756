"""Codebook of survey data, as SPSS shows it: variables, labels, codes, missing counts.

Examples
--------
>>> import sipas
>>> from sipas.describe import codebook
>>> book = codebook(sipas.datasets.load_demo())
>>> book.loc[book.variable == "q01", "n_valid"].item() > 0
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sipas._validate import as_name_list, require_columns
from sipas.errors import ReadError
from sipas.io import SurveyData
from sipas.spec.missing import kind_label

__all__ = ["codebook", "distributions"]

MISSING_WORD = ("missing", "thiếu")


def codebook(data: SurveyData, lang: str = "vi") -> pd.DataFrame:
    """One row per column: label, type, valid and missing counts, range, value labels.

    Parameters
    ----------
    data : SurveyData
        Data from :func:`sipas.read_survey` (with or without a spec).
    lang : {"vi", "en"}
        Language of item labels taken from the spec (file labels otherwise).

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, label, role, dtype, n_valid, n_missing, missing_by_kind, min,
        max, n_distinct, value_labels``. ``missing_by_kind`` splits ``n_missing`` by kind
        (spec kinds, ``user_missing`` declared by the file, ``system`` for empty cells).
        Value labels come from the file, else from the spec's scale.

    Notes
    -----
    The same content as SPSS ``DISPLAY DICTIONARY`` plus ``FREQUENCIES`` counts; unweighted.

    Examples
    --------
    >>> import sipas
    >>> book = codebook(sipas.datasets.load_demo(), lang="en")
    >>> row = book.set_index("variable").loc["q05"]
    >>> row["label"], int(row["n_valid"]), row["missing_by_kind"]
    ('Procedures are posted publicly in full', 688, 'dont_know=23, system=89')
    """
    frame, spec = data.frame, data.spec
    rows = []
    for col in frame.columns:
        values = frame[col]
        label, role = data.meta.variable_labels.get(col, ""), "column"
        if spec is not None and col in spec.item_names:
            item = spec.item(col)
            label = item.label.get(lang) or item.label.get("vi") or label
            role = f"item ({item.kind}, scale {item.scale})"
        elif spec is not None and col == spec.respondent_id:
            role = "respondent id"
        numeric = pd.api.types.is_numeric_dtype(values) and values.notna().any()
        missing = _missing_by_kind(data, col)
        rows.append({
            "variable": col, "label": label, "role": role, "dtype": str(values.dtype),
            "n_valid": int(values.notna().sum()),
            "n_missing": int(values.isna().sum()),
            "missing_by_kind": ", ".join(f"{k}={v}" for k, v in missing.items()),
            "min": values.min() if numeric else None,
            "max": values.max() if numeric else None,
            "n_distinct": int(values.nunique()),
            "value_labels": "; ".join(f"{_code(k)}={v}"
                                      for k, v in _value_labels(data, col, lang).items()),
        })
    return pd.DataFrame(rows)


def distributions(data: SurveyData, columns: str | Sequence[str] | None = None,
                  lang: str = "vi") -> pd.DataFrame:
    """Unweighted answer distribution (counts and %) of items, including missing kinds.

    Parameters
    ----------
    data : SurveyData
        Data from :func:`sipas.read_survey` (with or without a spec).
    columns : str or list of str, optional
        Columns to tabulate; by default the spec's items (without a spec, the columns with
        at most 12 distinct values).
    lang : {"vi", "en"}
        Language of the spec's scale labels, used when the file has no value labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable, code, label, count, percent``; percentages of all rows. Missing
        answers have their kind as the code and its label (``"(missing: Don't know / Not
        applicable)"`` for a code the spec gives both kinds) as the label.

    Raises
    ------
    ReadError
        A column is not in the data.

    Notes
    -----
    Counts are of rows, not weighted; for weighted shares use :func:`sipas.proportion`.

    Examples
    --------
    >>> import sipas
    >>> t = distributions(sipas.datasets.load_demo(), "p01", lang="en")
    >>> t[["code", "count"]].values.tolist()
    [[1, 450], [2, 261], ['system', 89]]
    """
    spec = data.spec
    if columns is None:
        columns = list(spec.item_names) if spec else [
            c for c in data.frame.columns if data.frame[c].nunique() <= 12]
    columns = as_name_list("columns", columns)
    require_columns(data.frame.columns, columns, "Tabulated", error=ReadError)
    rows = []
    for col in columns:
        values = data.frame[col]
        labels = _value_labels(data, col, lang)
        total = len(values)
        for code, count in values.value_counts(sort=False).sort_index().items():
            rows.append({"variable": col, "code": _code(code),
                         "label": labels.get(code, ""), "count": int(count),
                         "percent": 100 * count / total})
        for kind, count in _missing_by_kind(data, col).items():
            rows.append({"variable": col, "code": kind,
                         "label": f"({MISSING_WORD[lang == 'vi']}: {kind_label(kind, lang)})",
                         "count": count, "percent": 100 * count / total})
    return pd.DataFrame(rows, columns=["variable", "code", "label", "count", "percent"])


def _missing_by_kind(data: SurveyData, col: str) -> dict[str, int]:
    """Missing answers of ``col`` by kind; empty cells not otherwise explained are 'system'."""
    if col in data.missing.columns:
        counts = data.missing[col].value_counts(sort=False)
        return {str(k): int(v) for k, v in counts.items() if v}
    out = {k: int(v) for k, v in data.meta.missing_counts.get(col, {}).items() if v}
    system = int(data.frame[col].isna().sum()) - sum(out.values())
    if system > 0:
        out["system"] = system
    return out


def _value_labels(data: SurveyData, col: str, lang: str) -> Mapping[Any, str]:
    """The file's value labels of ``col``, else the labels of its scale in the spec."""
    labels = data.meta.value_labels.get(col)
    if labels:
        return labels
    spec = data.spec
    if spec is None or col not in spec.item_names:
        return {}
    scale = spec.scale_of(col)
    texts = scale.labels.get(lang) or scale.labels.get("vi")
    return dict(zip(scale.codes, texts)) if texts else {}


def _code(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()  # numpy scalar -> Python number
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
