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

import csv
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas._cells import check_short_rows, check_spreadsheet_cells, normalise_text
from sipas._validate import did_you_mean, message, plain
from sipas.errors import ReadError, SpecError
from sipas.spec import Spec, load_spec
from sipas.spec.domains import check_domain_labels

__all__ = ["SurveyData", "SurveyMeta", "read_survey", "validate_frame"]

FORMATS = {".sav": "sav", ".zsav": "sav", ".dta": "dta", ".csv": "csv", ".xlsx": "xlsx",
           ".parquet": "parquet", ".pq": "parquet"}
_MAX_LISTED = 10


@dataclass(frozen=True)
class SurveyMeta:
    """Where the data came from and what the file said about it.

    Attributes
    ----------
    source, sha256 : str
        Absolute path and SHA-256 of the file as read.
    format : str
        ``sav``, ``dta``, ``csv``, ``xlsx`` or ``parquet``.
    n_rows, n_columns : int
        Size of the frame.
    variable_labels, value_labels : mapping
        Labels stored in the file (SPSS/Stata only).
    file_missing : mapping
        Missing values the file declares per column: codes, or ``(lo, hi)`` ranges.
    missing_counts : mapping
        Per column, the number of answers made NA by kind: the spec's kinds and ``system``
        (empty cell) for items, ``user_missing`` for other columns the file declares missing.

    Examples
    --------
    >>> import sipas
    >>> meta = sipas.datasets.load_demo().meta
    >>> meta.format, meta.n_rows, meta.n_columns, len(meta.sha256)
    ('sav', 800, 44, 64)
    """

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
        ``not_applicable``, ``refused``, ``not_asked``, the combined kind of a code declared
        under several such as ``dont_know_or_not_applicable``, ``system`` for an empty cell)
        or NA where the item was answered. Empty without a spec.

    Examples
    --------
    >>> import sipas
    >>> sd = sipas.datasets.load_demo()
    >>> sd.frame.shape, sd.spec.name, sd.missing.shape
    ((800, 44), 'demo', (800, 31))
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
    SpecError
        ``spec`` names a spec that cannot be loaded.

    Notes
    -----
    With a spec, missing values the file itself declares (SPSS user-missing) must have a
    kind in the spec when they occur in an item; in other columns they become NA and are
    counted as ``user_missing``. A CSV's respondent ids are read as text, so ``"007"`` stays
    ``"007"``.

    Examples
    --------
    >>> from sipas.datasets import demo_path
    >>> sd = read_survey(demo_path(), spec="demo")
    >>> sd.meta.missing_counts["q05"]["dont_know"] > 0
    True
    """
    path, fmt = _check_path(path)
    if spec is not None and not isinstance(spec, Spec):
        if not isinstance(spec, (str, Path)):
            raise SpecError(message("spec", "a Spec, a .toml path or a bundled spec name",
                                    type(spec).__name__))
        spec = load_spec(spec)
    sha = _sha256(path)
    text_columns = (spec.respondent_id,) if spec is not None else ()
    frame, var_labels, value_labels, file_missing = _READERS[fmt](path, sheet, text_columns)
    frame = normalise_text(frame, repr(str(path)))
    _check_shape(frame, path)
    missing = pd.DataFrame(index=frame.index)
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

def _check_path(path: str | Path) -> tuple[Path, str]:
    if not isinstance(path, (str, Path)):
        raise ReadError(message("path", "a file path (str or Path)", type(path).__name__))
    path = Path(path)
    if not path.exists():
        raise ReadError(f"Survey file {str(path)!r} does not exist (relative paths start at "
                        f"{str(Path.cwd())!r}). Check the path.")
    if not path.is_file():
        raise ReadError(message("path", "a file", str(path), "It is a folder."))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(f"Survey file {str(path)!r}: " + message(
            "the extension", f"one of {sorted(FORMATS)}", path.suffix,
            "Export the data to one of these formats."))
    return path, fmt


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ReadError(f"Cannot open {str(path)!r} ({exc.strerror}).") from exc
    return digest.hexdigest()


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """A third-party error as one short line (pyarrow messages span many lines)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}{'…' if len(text) > limit else ''}"


def _read_spss_stata(path: Path, sheet: Any, text_columns: tuple[str, ...]) -> tuple:
    import pyreadstat

    try:
        if path.suffix.lower() == ".dta":
            frame, meta = pyreadstat.read_dta(str(path), user_missing=True)
        else:
            frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat raises its own and OSError types
        raise ReadError(f"Cannot read {str(path)!r} as {path.suffix} ({_one_line(exc)}). "
                        f"The file may be truncated or not really a {path.suffix} file: "
                        "export it again from SPSS/Stata.") from exc
    var_labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    value_labels = {col: dict(meta.value_labels[name])
                    for col, name in (meta.variable_to_label or {}).items()
                    if name in (meta.value_labels or {})}
    file_missing: dict[str, tuple] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        file_missing[col] = tuple(r["lo"] if r["lo"] == r["hi"] else (r["lo"], r["hi"])
                                  for r in ranges)
    for col, values in (getattr(meta, "missing_user_values", None) or {}).items():
        file_missing[col] = tuple(file_missing.get(col, ())) + tuple(values)
    return frame, var_labels, value_labels, file_missing


#: CSV files are parsed in chunks of this many rows; integer columns are stored in the
#: smallest integer type, so peak memory is about the final frame plus one chunk.
CSV_CHUNK_ROWS = 250_000
#: CSV files above this size are refused (convert them to Parquet and use the Dask back end).
MAX_CSV_BYTES = 8 * 1024**3


def _check_utf8(path: Path) -> None:
    """Stream the file through an incremental UTF-8 decoder (bounded memory)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                pos = max(exc.start - len(exc.object) + len(block), 0)
                line += block[:pos].count(b"\n")
                raise ReadError(
                    f"{str(path)!r} is not UTF-8 text: byte {block[pos:pos + 4]!r} at line "
                    f"{line} (byte {offset + pos}). sipas reads CSV as UTF-8 only, so "
                    "Vietnamese text is never garbled. Re-save the file as 'CSV UTF-8' (Excel) "
                    "or convert it, e.g. iconv -f CP1258 -t UTF-8.") from None
            line += block.count(b"\n")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ReadError(f"{str(path)!r} ends in the middle of a UTF-8 character: the file "
                            "is truncated or not UTF-8. Export it again.") from None


def _compact(chunk: pd.DataFrame) -> pd.DataFrame:
    """Integer columns in the smallest signed integer type that holds them.

    Whole blocks of columns at a time: a column-by-column assignment costs O(columns^2)
    (a CSV with 100,000 columns took minutes) and fragments the frame (a higher peak of
    memory on long files).
    """
    ints = chunk.columns[[isinstance(d, np.dtype) and d.kind == "i" for d in chunk.dtypes]]
    if len(ints) == 0 or len(chunk) == 0:
        return chunk
    values = chunk[ints].to_numpy()
    lo, hi = values.min(axis=0), values.max(axis=0)
    blocks, done = [], np.zeros(len(ints), dtype=bool)
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        fits = ~done & (lo >= np.iinfo(dtype).min) & (hi <= np.iinfo(dtype).max)
        if fits.any():
            blocks.append(pd.DataFrame(values[:, fits].astype(dtype), columns=ints[fits],
                                       index=chunk.index))
            done |= fits
    return pd.concat([chunk.drop(columns=ints), *blocks], axis=1)[chunk.columns]


def _read_csv(path: Path, sheet: Any, text_columns: tuple[str, ...]) -> tuple:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise ReadError(f"{str(path)!r} is {size / 1024**3:.1f} GiB, above the "
                        f"{MAX_CSV_BYTES / 1024**3:.0f} GiB limit for CSV. Convert it to Parquet "
                        "(partitioned) and use a Dask DataFrame (pip install 'sipas[dask]').")
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise ReadError(f"{str(path)!r} is empty (no header, no rows). Export the data again.")
    _check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, [])
        first = next(rows, None)
    _check_header(header, path)
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t")):
        raise ReadError(f"{str(path)!r}: " + message(
            "the delimiter", "a comma", ";" if ";" in header[0] else "\\t",
            "Export the CSV with commas, or convert it (e.g. in Excel: Save As 'CSV UTF-8')."))
    if first is not None and len(first) > len(header):
        # pandas would silently take the extra leading field(s) as the row index and shift
        # every value one column to the left
        trailing = " (a delimiter at the end of each data line?)" if first[-1] == "" else ""
        raise ReadError(f"{str(path)!r}: line 2 has {len(first)} fields but the header has "
                        f"{len(header)}{trailing}, so every column would be shifted. Remove the "
                        "extra delimiters, or name every column in the header.")
    present = [c for c in text_columns if c in header]
    try:
        # only an empty cell is missing: "NA", "NULL", "-" are text, never a silent NA
        reader = pd.read_csv(path, encoding="utf-8-sig", low_memory=False,
                             keep_default_na=False, na_values=[""],
                             dtype={c: str for c in present} or None, chunksize=CSV_CHUNK_ROWS)
        chunks = [_compact(c) for c in reader]
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReadError(f"Cannot parse {str(path)!r} as CSV ({_one_line(exc)}). Check the "
                        "delimiter (sipas expects commas) and quoting.") from exc
    check_short_rows(path, len(header))
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=header)
    return frame, {}, {}, {}


def _read_xlsx(path: Path, sheet: Any, text_columns: tuple[str, ...]) -> tuple:
    try:
        header = pd.read_excel(path, sheet_name=sheet, engine="openpyxl", header=None, nrows=1)
        _check_header([str(c) for c in header.iloc[0].tolist()] if len(header) else [], path)
        check_spreadsheet_cells(path, sheet)
        frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl",
                              keep_default_na=False, na_values=[""])
        if frame.empty:
            names = pd.ExcelFile(path, engine="openpyxl").sheet_names
            raise ReadError(f"{str(path)!r}: sheet {sheet!r} holds no data rows (0 "
                            f"respondents); the workbook's sheets are {names}. Name the sheet "
                            "with the data: [input] sheet = \"name\" (or its 0-based index).")
    except ReadError:
        raise
    except (ValueError, IndexError) as exc:
        if "orksheet" not in str(exc):
            raise ReadError(f"Cannot read {str(path)!r} as an Excel .xlsx workbook "
                            f"({_one_line(exc)}).") from exc
        raise ReadError(f"{str(path)!r}: " + message("sheet", "a sheet of the workbook", sheet,
                                                     _one_line(exc))) from exc
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise ReadError(f"Cannot read {str(path)!r} as an Excel .xlsx workbook "
                        f"({_one_line(exc)}). The file may be corrupt or an old .xls:"
                        " open it in Excel and save as .xlsx.") from exc
    return frame, {}, {}, {}


def _read_parquet(path: Path, sheet: Any, text_columns: tuple[str, ...]) -> tuple:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        _check_header(list(schema.names), path)
        _check_flat(schema, path)
        frame = pd.read_parquet(path)
    except ReadError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError
        raise ReadError(f"Cannot read {str(path)!r} as Parquet ({_one_line(exc)}). "
                        "The file may be truncated: write it again.") from exc
    return frame, {}, {}, {}


def _check_flat(schema: Any, path: Path) -> None:
    """Survey data hold one value per cell: lists, structs and maps are refused by name."""
    import pyarrow as pa

    nested = [f"{f.name} ({str(f.type).split('<')[0]})" for f in schema
              if pa.types.is_nested(f.type)]
    if nested:
        raise ReadError(f"{str(path)!r}: column(s) {nested[:_MAX_LISTED]} hold nested values; "
                        "survey data need one value per cell. Flatten them into columns of "
                        "their own (pyarrow Table.flatten) or drop them before reading.")


_READERS = {"sav": _read_spss_stata, "dta": _read_spss_stata, "csv": _read_csv,
            "xlsx": _read_xlsx, "parquet": _read_parquet}


def _check_header(names: list[str], path: Path) -> None:
    """Duplicate column names, seen in the file itself (pandas would rename them).

    Empty header cells are not names: pandas calls them ``Unnamed: k``.
    """
    counts = Counter(c for c in names if c not in ("", "nan", "None"))
    dup = sorted(c for c, k in counts.items() if k > 1)  # Counter: O(n) for 100k columns
    if dup:
        raise ReadError(f"{str(path)!r}: " + message(
            "column names", "unique", dup, "Rename the duplicated columns in the file."))


def _check_shape(frame: pd.DataFrame, path: Path) -> None:
    _check_header([str(c) for c in frame.columns], path)
    if frame.shape[1] == 0:
        raise ReadError(f"{str(path)!r} has no columns. Export the data again.")
    if len(frame) == 0:
        raise ReadError(f"{str(path)!r} has a header but no data rows (0 respondents). "
                        "Export the data again, with the rows.")


def _is_missing_code(values: pd.Series, codes: tuple) -> np.ndarray:
    mask = np.zeros(len(values), dtype=bool)
    numeric = pd.to_numeric(values, errors="coerce")
    for code in codes:
        if isinstance(code, tuple):
            mask |= ((numeric >= code[0]) & (numeric <= code[1])).fillna(False).to_numpy(bool)
        else:
            mask |= (values == code).fillna(False).to_numpy(bool)
    return mask


def _apply_file_missing(frame: pd.DataFrame, file_missing: Mapping[str, tuple],
                        skip: frozenset[str] = frozenset()) -> tuple[pd.DataFrame, dict]:
    """Values the file declares missing become NA (SPSS semantics), counted per column.

    ``frame`` is changed in place: pass a frame the caller owns.
    """
    counts: dict[str, dict[str, int]] = {}
    for col, codes in file_missing.items():
        if col in frame and col not in skip:
            mask = _is_missing_code(frame[col], codes)
            if mask.any():
                frame[col] = frame[col].mask(mask)
                counts[col] = {"user_missing": int(mask.sum())}
    return frame, counts


# --------------------------------------------------------------------------- validation

def validate_frame(frame: pd.DataFrame, spec: Spec, *,
                   file_missing: Mapping[str, tuple] | None = None,
                   where: str = "the data") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Check a data frame against a spec and apply its missing codes.

    Returns the cleaned frame (a copy; items numeric, missing codes NA), the missing-kind
    frame and the counts by item and kind. Raises :class:`ReadError` on any breach.

    Parameters
    ----------
    frame : pandas.DataFrame
        Data as read (one row per respondent); it is not modified.
    spec : Spec
        The questionnaire spec: respondent id, items and their scales, missing codes,
        design and domain columns.
    file_missing : mapping, optional
        Missing values the file itself declares per column (codes or ``(lo, hi)`` ranges),
        as :attr:`SurveyMeta.file_missing`.
    where : str
        How messages name the data (the file name).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, dict)
        The cleaned frame; per item and row the kind of missing answer (categorical:
        ``dont_know``, ``not_applicable``, ``refused``, ``not_asked``, ``system``; NA when
        answered); and ``{column: {kind: count}}``.

    Raises
    ------
    ReadError
        A column the spec names is absent; respondent ids are empty or duplicated; an item
        or design column holds text, dates or booleans instead of numbers; an answer is
        neither a valid code nor a declared missing code (the first rows are listed); a code
        the file declares missing is a valid code or has no kind in the spec.

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas.spec import parse_spec
    >>> spec = parse_spec({"survey": {"name": "x", "respondent_id": "id"},
    ...                    "scales": {"s": {"codes": [1, 2, 3, 4, 5], "satisfied": [4, 5]}},
    ...                    "missing": {"dont_know": [8]},
    ...                    "items": [{"name": "q1", "scale": "s"}]})
    >>> frame = pd.DataFrame({"id": ["a", "b", "c"], "q1": [5, 8, None]})
    >>> clean, kinds, counts = validate_frame(frame, spec)
    >>> clean["q1"].tolist(), counts["q1"]
    ([5.0, nan, nan], {'dont_know': 1, 'system': 1})
    """
    file_missing = {} if file_missing is None else file_missing
    _check_spec_columns(frame, spec, where)
    ids = frame[spec.respondent_id]
    _check_ids(ids, spec.respondent_id, where)
    frame, counts = _apply_file_missing(frame.copy(), file_missing,
                                        skip=frozenset(spec.item_names))
    for col in _numeric_design_columns(spec):
        if col in frame and not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = _numeric_column(frame[col], col, "design", ids, where)
    kinds = pd.DataFrame(index=frame.index)
    problems: list[tuple[int, str, Any]] = []
    n_problems = 0
    for item in spec.items:
        col = item.name
        values = _numeric_column(frame[col], col, "item", ids, where)
        _check_file_missing(col, file_missing.get(col, ()), spec, where)
        kind, bad = _missing_kinds(values, spec.missing_kinds(col), spec.scale_of(col).codes)
        n_problems += int(bad.sum())
        problems += [(int(r), col, values.iloc[r]) for r in np.flatnonzero(bad)]
        problems = problems[:_MAX_LISTED]
        frame[col] = values.where(kind.isna().to_numpy())
        kinds[col] = pd.Categorical(kind, categories=[*spec.missing_kind_names, "system"])
        counts[col] = {k: int((kind == k).sum()) for k in kinds[col].cat.categories
                       if (kind == k).any()}
    if n_problems:
        listed = "; ".join(f"{_row(r, ids)}: {c}={plain(v)!r}" for r, c, v in problems)
        raise ReadError(
            f"{where}: {n_problems} answer(s) are neither a valid code nor a declared missing "
            f"code. First: {listed}. Fix the data, or declare the code in the spec's [missing] "
            "table (or the item's missing = {...}).")
    check_domain_labels(frame, spec.domain_labels, where)
    return frame, kinds, counts


def _missing_kinds(values: pd.Series, codes: Mapping[int | float, str],
                   valid: tuple) -> tuple[pd.Series, np.ndarray]:
    """Kind of missing answer per row (NA if answered) and the rows with unknown codes; a
    code of several kinds gives their combined kind (``dont_know_or_not_applicable``)."""
    kind = pd.Series(pd.NA, index=values.index, dtype="object")
    for code, k in codes.items():
        kind[(values == code).to_numpy()] = k
    kind[values.isna().to_numpy()] = "system"
    bad = ~(values.isin(valid).to_numpy() | kind.notna().to_numpy())
    return kind, bad


def _numeric_design_columns(spec: Spec) -> list[str]:
    d = spec.design
    return [c for c in (d.weights, d.probs, *d.fpc) if c]


def _row(position: int, ids: pd.Series) -> str:
    return f"data row {position + 1} (id {plain(ids.iloc[position])!r})"


def _check_spec_columns(frame: pd.DataFrame, spec: Spec, where: str) -> None:
    _require(frame, [spec.respondent_id], "respondent id", spec, where)
    _require(frame, list(spec.item_names), "item", spec, where)
    d = spec.design
    design_cols = [*d.ids, *(c for c in (d.strata, d.weights, d.probs) if c), *d.fpc]
    _require(frame, [c for c in design_cols if c != spec.respondent_id], "design", spec, where)
    _require(frame, list(spec.domains), "domain", spec, where)


def _check_ids(ids: pd.Series, name: str, where: str) -> None:
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())[:_MAX_LISTED] + 1
        raise ReadError(f"{where}: respondent id column {name!r} is empty in "
                        f"{int(ids.isna().sum())} row(s) (data rows {rows.tolist()}). "
                        "Every respondent needs an id.")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        shown = "; ".join(
            f"{plain(i)!r} in data rows {(np.flatnonzero((ids == i).to_numpy()) + 1).tolist()}"
            for i in dup.drop_duplicates().head(_MAX_LISTED))
        raise ReadError(f"{where}: respondent id column {name!r} has {dup.nunique()} "
                        f"duplicated id(s): {shown}. Each respondent must appear once: remove "
                        "the duplicate rows or fix the ids.")


def _require(frame: pd.DataFrame, names: list[str], role: str, spec: Spec, where: str) -> None:
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise ReadError(f"{where}: {role} column(s) {absent} named by spec {spec.name!r} are not "
                        f"in the file. Columns found: {list(frame.columns)[:15]}"
                        f"{f' and {frame.shape[1] - 15} more' if frame.shape[1] > 15 else ''}. "
                        "Rename the columns or fix the spec."
                        f"{did_you_mean(absent, set(frame.columns) - set(spec.item_names))}")


def _numeric_column(values: pd.Series, col: str, role: str, ids: pd.Series,
                    where: str) -> pd.Series:
    """Numeric codes as float64; text must be plain numbers (no decimal commas)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        raise ReadError(f"{where}: {role} column {col!r} holds {values.dtype} values, not "
                        "numbers. Export the codes (1, 2, ...) rather than dates/booleans.")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    converted = pd.to_numeric(text, errors="coerce")
    bad = (converted.isna() & text.notna() & (text != "")).to_numpy(bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = "; ".join(f"{_row(r, ids)}: {values.iloc[r]!r}" for r in rows[:_MAX_LISTED])
        comma = text[bad].str.fullmatch(r"[+-]?\d+,\d+").fillna(False).any()
        dates = text[bad].str.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}.*").fillna(False).all()
        if comma:
            hint = ("Numbers with a decimal comma ('4,5') are not read: sipas never guesses the "
                    "decimal separator. Export with a decimal point.")
        elif dates:
            hint = ("These are dates, not codes (Excel may have turned codes such as 1/2 into "
                    "dates): export the column as numbers.")
        elif role == "item":
            hint = "Recode text answers to their numeric codes (the spec's scale lists them)."
        else:
            hint = f"A {role} column holds numbers: fix these cells."
        raise ReadError(f"{where}: {role} column {col!r} must hold numeric codes; got "
                        f"{len(rows)} non-numeric value(s). First: {shown}. {hint}")
    return converted.astype("float64")


def _check_file_missing(col: str, declared: tuple, spec: Spec, where: str) -> None:
    """Codes the file declares missing must be missing codes (of some kind) in the spec."""
    codes = spec.missing_codes(col)
    known = {c for v in codes.values() for c in v}
    valid = spec.scale_of(col).codes
    for code in declared:
        if isinstance(code, str):
            raise ReadError(f"{where}: item {col!r}: the file declares the non-numeric missing "
                            f"value {code!r} (a Stata extended missing value .{code}?). Recode "
                            "it to a numeric code and declare that code in the spec's [missing].")
        in_range = ([c for c in valid if code[0] <= c <= code[1]] if isinstance(code, tuple)
                    else [code] if code in valid else [])
        if in_range:
            raise ReadError(f"{where}: item {col!r}: the file declares {_plain_code(code)} as "
                            f"user-missing, but code(s) {[plain(c) for c in in_range]} are valid "
                            f"answers of scale {spec.item(col).scale!r}. Fix the missing-value "
                            "declaration in the file (SPSS: MISSING VALUES) or the spec's scale.")
        if not isinstance(code, tuple) and code not in known:
            raise ReadError(
                f"{where}: item {col!r}: the file declares code {plain(code)!r} as "
                "user-missing, but the spec gives it no missing kind. Add it to [missing] (e.g. "
                f"dont_know = [{plain(code)!r}]) so sipas knows what it means; nothing is "
                "dropped silently.")


def _plain_code(code: Any) -> str:
    if isinstance(code, tuple):
        return f"the range {plain(code[0])}-{plain(code[1])}"
    return f"code {plain(code)!r}"
