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

import pandas as pd

from sipas.io import SurveyData

__all__ = ["codebook", "distributions"]


def codebook(data: SurveyData, lang: str = "vi") -> pd.DataFrame:
    """One row per column: label, type, valid and missing counts, range, value labels.

    Parameters
    ----------
    data : SurveyData
    lang : {"vi", "en"}
        Language of item labels taken from the spec (file labels otherwise).
    """
    frame, meta, spec = data.frame, data.meta, data.spec
    rows = []
    for col in frame.columns:
        values = frame[col]
        label = meta.variable_labels.get(col, "")
        kind = "column"
        if spec is not None and col in spec.item_names:
            item = spec.item(col)
            label = item.label.get(lang) or item.label.get("vi") or label
            kind = f"item ({item.kind}, scale {item.scale})"
        elif spec is not None and col == spec.respondent_id:
            kind = "respondent id"
        numeric = pd.api.types.is_numeric_dtype(values)
        counts = meta.missing_counts.get(col, {})
        value_labels = meta.value_labels.get(col, {})
        rows.append({
            "variable": col, "label": label, "role": kind, "dtype": str(values.dtype),
            "n_valid": int(values.notna().sum()),
            "n_missing": int(values.isna().sum()),
            "missing_by_kind": ", ".join(f"{k}={v}" for k, v in counts.items()),
            "min": values.min() if numeric and values.notna().any() else None,
            "max": values.max() if numeric and values.notna().any() else None,
            "n_distinct": int(values.nunique()),
            "value_labels": "; ".join(f"{_code(k)}={v}" for k, v in value_labels.items()),
        })
    return pd.DataFrame(rows)


def distributions(data: SurveyData, columns: list[str] | None = None) -> pd.DataFrame:
    """Unweighted answer distribution (counts and %) of items, including missing kinds."""
    spec = data.spec
    if columns is None:
        columns = list(spec.item_names) if spec else [
            c for c in data.frame.columns if data.frame[c].nunique() <= 12]
    rows = []
    for col in columns:
        values = data.frame[col]
        labels = data.meta.value_labels.get(col, {})
        total = len(values)
        for code, count in values.value_counts(sort=False).sort_index().items():
            rows.append({"variable": col, "code": _code(code),
                         "label": labels.get(code, ""), "count": int(count),
                         "percent": 100 * count / total})
        if col in data.missing.columns:
            for kind, count in data.missing[col].value_counts(sort=False).items():
                if count:
                    rows.append({"variable": col, "code": kind, "label": "(missing)",
                                 "count": int(count), "percent": 100 * count / total})
        elif values.isna().any():
            rows.append({"variable": col, "code": "system", "label": "(missing)",
                         "count": int(values.isna().sum()),
                         "percent": 100 * values.isna().sum() / total})
    return pd.DataFrame(rows)


def _code(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
