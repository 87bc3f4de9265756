"""Reading survey microdata: SPSS, Stata, CSV, Excel and Parquet, checked against a spec.

:func:`read_survey` returns a :class:`SurveyData`: the data frame, the spec, and a
:class:`SurveyMeta` with the provenance (path, SHA-256), the file's labels and the missing
codes it found. With a spec, declared missing codes become NA and are counted by kind (so
"don't know" shares can still be reported), and every answer that is neither a valid code nor
a declared missing code is an error that lists the offending rows. Input files are opened
read-only and never written.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> sd.meta.format, sd.meta.n_rows > 500
('sav', True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas.errors import ReadError
from sipas.spec import MISSING_KINDS, Spec, load_spec

__all__ = ["SurveyData", "SurveyMeta", "read_survey", "validate_frame"]

FORMATS = {".sav": "sav", ".zsav": "sav", ".dta": "dta", ".csv": "csv", ".xlsx": "xlsx",
           ".parquet": "parquet", ".pq": "parquet"}
_MAX_LISTED = 10


@dataclass(frozen=True)
class SurveyMeta:
    """Where the data came from and what the file said about it."""

    source: str
    sha256: str
    format: str
    n_rows: int
    n_columns: int
    variable_labels: Mapping[str, str] = field(default_factory=dict)
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    file_missing: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    missing_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class SurveyData:
    """Survey microdata with its spec and provenance.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per respondent. Item answers are numeric codes; declared missing codes are NA.
    spec : Spec or None
        The questionnaire spec the data were checked against.
    meta : SurveyMeta
        Provenance, file labels and missing-code counts.
    missing : pandas.DataFrame
        For each item with a spec, the kind of missing answer per row (``dont_know``,
        ``not_applicable``, ``refused``, ``not_asked``, ``system`` for an empty cell) or NA
        where the item was answered. Empty without a spec.
    """

    frame: pd.DataFrame
    spec: Spec | None
    meta: SurveyMeta
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        spec = self.spec.name if self.spec else None
        return (f"SurveyData({self.meta.n_rows} rows x {self.meta.n_columns} columns, "
                f"source={Path(self.meta.source).name!r}, spec={spec!r})")


def read_survey(path: str | Path, spec: Spec | str | Path | None = None, *,
                sheet: str | int = 0) -> SurveyData:
    """Read survey microdata, keeping labels and applying the spec's missing codes.

    Parameters
    ----------
    path : str or Path
        ``.sav``/``.zsav`` (SPSS), ``.dta`` (Stata), ``.csv`` (UTF-8, with or without BOM),
        ``.xlsx`` or ``.parquet``.
    spec : Spec, str or Path, optional
        The questionnaire spec (object, file or bundled name). Without it the data are read
        as they are: only missing values declared in the file itself become NA (as in SPSS).
    sheet : str or int
        Sheet of an ``.xlsx`` file.

    Returns
    -------
    SurveyData

    Raises
    ------
    ReadError
        The file cannot be read, or its content breaks the spec (unknown codes, duplicate
        respondent ids, missing or non-numeric columns). The message lists the first rows.

    Examples
    --------
    >>> from sipas.datasets import demo_path
    >>> sd = read_survey(demo_path(), spec="demo")
    >>> sd.meta.missing_counts["q05"]["dont_know"] > 0
    True
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"Survey file {str(path)!r} does not exist. Check the path.")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(f"Survey file {str(path)!r}: " +
                        f"the extension {path.suffix!r} is not supported; use one of "
                        f"{sorted(FORMATS)}. Export the data to one of them.")
    if spec is not None and not isinstance(spec, Spec):
        spec = load_spec(spec)
    sha = _sha256(path)
    frame, var_labels, value_labels, file_missing = _READERS[fmt](path, sheet)
    _check_columns(frame, path)
    missing = pd.DataFrame(index=frame.index)
    counts: dict[str, dict[str, int]] = {}
    if spec is None:
        frame, counts = _apply_file_missing(frame, file_missing)
    else:
        frame, missing, counts = validate_frame(frame, spec, file_missing=file_missing,
                                                where=f"{str(path)!r}")
    meta = SurveyMeta(source=str(path.resolve()), sha256=sha, format=fmt,
                      n_rows=len(frame), n_columns=frame.shape[1], variable_labels=var_labels,
                      value_labels=value_labels, file_missing=file_missing,
                      missing_counts=counts)
    return SurveyData(frame=frame, spec=spec, meta=meta, missing=missing)


# --------------------------------------------------------------------------- readers

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_spss_stata(path: Path, sheet: Any) -> tuple:
    import pyreadstat

    try:
        if path.suffix.lower() == ".dta":
            frame, meta = pyreadstat.read_dta(str(path), user_missing=True)
        else:
            frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat raises its own and OSError types
        raise ReadError(f"Cannot read {str(path)!r} as {path.suffix} ({type(exc).__name__}: "
                        f"{exc}). The file may be truncated or not really a "
                        f"{path.suffix} file: export it again from SPSS/Stata.") from exc
    var_labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    value_labels = {col: dict(meta.value_labels[name])
                    for col, name in (meta.variable_to_label or {}).items()
                    if name in (meta.value_labels or {})}
    file_missing: dict[str, tuple] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        codes: list[Any] = []
        for r in ranges:
            lo, hi = r["lo"], r["hi"]
            if lo == hi:
                codes.append(lo)
            else:
                codes.append((lo, hi))
        file_missing[col] = tuple(codes)
    for col, values in (getattr(meta, "missing_user_values", None) or {}).items():
        file_missing[col] = tuple(file_missing.get(col, ())) + tuple(values)
    return frame, var_labels, value_labels, file_missing


def _read_csv(path: Path, sheet: Any) -> tuple:
    raw = path.read_bytes()
    if not raw.strip():
        raise ReadError(f"{str(path)!r} is empty. Export the data again.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start: exc.start + 4]
        raise ReadError(
            f"{str(path)!r} is not UTF-8 text: byte {bad!r} at line {line}. sipas reads CSV "
            "as UTF-8 only, so Vietnamese text is never garbled. Re-save the file as "
            "'CSV UTF-8' (Excel) or convert it, e.g. iconv -f CP1258 -t UTF-8.") from None
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReadError(f"Cannot parse {str(path)!r} as CSV: {exc}. Check the delimiter "
                        "(sipas expects commas) and quoting.") from exc
    return frame, {}, {}, {}


def _read_xlsx(path: Path, sheet: Any) -> tuple:
    try:
        frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
    except ValueError as exc:
        raise ReadError(f"Cannot read sheet {sheet!r} of {str(path)!r}: {exc}.") from exc
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise ReadError(f"Cannot read {str(path)!r} as an Excel .xlsx workbook "
                        f"({type(exc).__name__}: {exc}). The file may be corrupt or an old .xls:"
                        " open it in Excel and save as .xlsx.") from exc
    return frame, {}, {}, {}


def _read_parquet(path: Path, sheet: Any) -> tuple:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError
        raise ReadError(f"Cannot read {str(path)!r} as Parquet ({type(exc).__name__}: {exc}). "
                        "The file may be truncated: write it again.") from exc
    return frame, {}, {}, {}


_READERS = {"sav": _read_spss_stata, "dta": _read_spss_stata, "csv": _read_csv,
            "xlsx": _read_xlsx, "parquet": _read_parquet}


def _check_columns(frame: pd.DataFrame, path: Path) -> None:
    names = [str(c) for c in frame.columns]
    dup = sorted({c for c in names if names.count(c) > 1})
    mangled = [c for c in names if "." in c and c.rsplit(".", 1)[0] in names
               and c.rsplit(".", 1)[1].isdigit()]
    if dup or (mangled and path.suffix.lower() in (".csv", ".xlsx")):
        raise ReadError(f"{str(path)!r} has duplicate column names {dup or mangled}. "
                        "Rename them so that every column is unique.")
    if frame.shape[1] == 0:
        raise ReadError(f"{str(path)!r} has no columns.")


def _is_missing_code(values: pd.Series, codes: tuple) -> np.ndarray:
    mask = np.zeros(len(values), dtype=bool)
    numeric = pd.to_numeric(values, errors="coerce")
    for code in codes:
        if isinstance(code, tuple):
            mask |= ((numeric >= code[0]) & (numeric <= code[1])).to_numpy()
        else:
            mask |= (values == code).to_numpy()
    return mask


def _apply_file_missing(frame: pd.DataFrame, file_missing: Mapping[str, tuple]):
    """Without a spec, values the file declares missing become NA (SPSS semantics)."""
    counts: dict[str, dict[str, int]] = {}
    if not file_missing:
        return frame, counts
    frame = frame.copy()
    for col, codes in file_missing.items():
        if col in frame:
            mask = _is_missing_code(frame[col], codes)
            if mask.any():
                frame.loc[mask, col] = np.nan
                counts[col] = {"user_missing": int(mask.sum())}
    return frame, counts


# --------------------------------------------------------------------------- validation

def validate_frame(frame: pd.DataFrame, spec: Spec, *, file_missing: Mapping[str, tuple] = {},
                   where: str = "the data") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Check a data frame against a spec and apply its missing codes.

    Returns the cleaned frame (a copy; items numeric, missing codes NA), the missing-kind
    frame and the counts by item and kind. Raises :class:`ReadError` on any breach.
    """
    _require(frame, [spec.respondent_id], "respondent id", spec, where)
    _require(frame, list(spec.item_names), "item", spec, where)
    design_cols = [*spec.design.ids, *(c for c in (spec.design.strata, spec.design.weights,
                                                    spec.design.probs) if c), *spec.design.fpc]
    _require(frame, [c for c in design_cols if c != spec.respondent_id], "design", spec, where)
    _require(frame, list(spec.domains), "domain", spec, where)
    ids = frame[spec.respondent_id]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())[:_MAX_LISTED] + 1
        raise ReadError(f"{where}: respondent id column {spec.respondent_id!r} is empty in "
                        f"{int(ids.isna().sum())} row(s) (data rows {rows.tolist()}). "
                        "Every respondent needs an id.")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        shown = dup.drop_duplicates().head(_MAX_LISTED).tolist()
        raise ReadError(f"{where}: respondent id column {spec.respondent_id!r} has "
                        f"{dup.nunique()} duplicated id(s), e.g. {shown}. Each respondent must "
                        "appear once: remove the duplicate rows or fix the ids.")
    frame = frame.copy()
    kinds = pd.DataFrame(index=frame.index)
    counts: dict[str, dict[str, int]] = {}
    problems: list[tuple[Any, str, Any]] = []
    n_problems = 0
    for item in spec.items:
        col = item.name
        values = _numeric_item(frame[col], col, ids, where)
        codes = spec.missing_codes(col)
        _check_file_missing(col, file_missing.get(col, ()), codes, spec, where)
        kind = pd.Series(pd.NA, index=frame.index, dtype="object")
        for k in MISSING_KINDS:
            mask = values.isin(codes.get(k, ())).to_numpy()
            kind[mask] = k
        system = values.isna().to_numpy()
        kind[system] = "system"
        is_missing = kind.notna().to_numpy()
        valid = values.isin(spec.scale_of(col).codes).to_numpy()
        bad = ~(valid | is_missing)
        if bad.any():
            n_problems += int(bad.sum())
            for r in np.flatnonzero(bad)[: _MAX_LISTED - len(problems)]:
                problems.append((ids.iloc[r], col, values.iloc[r]))
        frame[col] = values.where(~is_missing)
        kinds[col] = pd.Categorical(kind, categories=[*MISSING_KINDS, "system"])
        counts[col] = {k: int((kind == k).sum()) for k in (*MISSING_KINDS, "system")
                       if (kind == k).any()}
    if n_problems:
        listed = "; ".join(f"id {i!r}: {c}={v!r}" for i, c, v in problems)
        raise ReadError(
            f"{where}: {n_problems} answer(s) are neither a valid code nor a declared missing "
            f"code. First: {listed}. Fix the data, or declare the code in the spec's [missing] "
            "table (or the item's missing = {...}).")
    return frame, kinds, counts


def _require(frame: pd.DataFrame, names: list[str], role: str, spec: Spec, where: str) -> None:
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise ReadError(f"{where}: {role} column(s) {absent} named by spec {spec.name!r} are not "
                        f"in the file. Columns found: {list(frame.columns)[:15]}"
                        f"{' ...' if frame.shape[1] > 15 else ''}. Rename the columns or fix "
                        "the spec.")


def _numeric_item(values: pd.Series, col: str, ids: pd.Series, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise ReadError(f"{where}: item column {col!r} holds {values.dtype} values, not numeric "
                        "answer codes. Export the codes (1, 2, ...) rather than "
                        "dates/booleans.")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    converted = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = converted.isna() & text.notna() & (text != "")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        shown = "; ".join(f"id {ids.iloc[r]!r}: {values.iloc[r]!r}" for r in rows[:_MAX_LISTED])
        raise ReadError(f"{where}: item column {col!r} has {len(rows)} non-numeric value(s). "
                        f"First: {shown}. Answers must be numeric codes: recode text answers "
                        "to their codes (the spec's scale lists them).")
    return converted.astype("float64")


def _check_file_missing(col: str, declared: tuple, codes: Mapping[str, tuple], spec: Spec,
                        where: str) -> None:
    known = {c for v in codes.values() for c in v}
    for code in declared:
        if isinstance(code, tuple):
            continue  # a range: the spec's explicit codes decide
        if code not in known and code not in spec.scale_of(col).codes:
            raise ReadError(
                f"{where}: item {col!r}: the file declares code {code!r} as user-missing, but "
                "the spec gives it no missing kind. Add it to [missing] (e.g. dont_know = "
                f"[{code!r}]) so sipas knows what it means; nothing is dropped silently.")
