"""Safe output: every file is written to a temporary name in its folder, then renamed.

An interrupted run leaves no half-written file; text cells that a spreadsheet would read as a
formula are neutralised in CSV output, and every field holding a line break is quoted (RFC
4180), so no cell can start a new row. Names built from column names, labels or values go
through :func:`safe_filename` before they become file names.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> write_csv(pd.DataFrame({"a": ["=1+1", "x"]}), out)
>>> out.read_text(encoding="utf-8-sig").splitlines()[1]
"'=1+1"
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

__all__ = ["atomic_path", "neutralise", "safe_filename", "write_bytes", "write_csv",
           "write_parquet", "write_text"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: longest file name (in UTF-8 bytes) :func:`safe_filename` returns: file systems allow 255,
#: and the writers add a suffix (``.parquet``) and temporary names add a few bytes more
MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(10))}


def safe_filename(name: str, taken: set[str] | None = None) -> str:
    """A file name for ``name`` that is valid and harmless on every file system.

    Control characters, path separators and the characters Windows refuses become ``_``;
    leading and trailing dots and spaces go (so ``..`` and hidden names cannot appear);
    reserved Windows names (``CON``, ``NUL``, ``COM1``...) get a leading ``_``; the text is
    Unicode NFC and at most :data:`MAX_NAME_BYTES` bytes. A name that had to change gets a
    short hash of the original, so two different names never end up the same; ``taken``
    (compared without case, as on Windows and macOS) receives the name returned, and a
    name already in it gets ``~2``, ``~3``...

    Examples
    --------
    >>> safe_filename("index_by_district")
    'index_by_district'
    >>> safe_filename("index_by_../../data")
    'index_by_.._.._data-bb8c9341'
    >>> taken = set()
    >>> [safe_filename(n, taken) for n in ("A", "a", "CON")]
    ['A', 'a~2', '_CON-a3dbc4b6']
    """
    text = unicodedata.normalize("NFC", str(name))
    text = _UNSAFE.sub("_", text).strip(" .") or "_"
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    if text != name or len(text.encode("utf-8")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{_cut(text, MAX_NAME_BYTES - 9)}-{digest}"
    base, k = text, 1
    if taken is not None:
        while text.casefold() in taken:
            k += 1
            text = f"{_cut(base, MAX_NAME_BYTES - len(str(k)) - 1)}~{k}"
        taken.add(text.casefold())
    return text


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a short fixed prefix: a name of 255 bytes plus a prefix would exceed the file system
    fd, tmp = tempfile.mkstemp(prefix=".sipas-", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(text: str, path: str | Path) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(text.encode("utf-8"), path)


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    r"""Write a table as UTF-8 CSV with BOM (Excel shows Vietnamese correctly), atomically.

    Every text cell and header is neutralised (:func:`neutralise`); rows end in CRLF, so the
    CSV writer quotes every field holding a carriage return or a line feed.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv(pd.DataFrame({"label": ["a\r=1+1"]}), out)
    >>> out.read_bytes().decode("utf-8-sig")
    'label\r\n"a\r=1+1"\r\n'
    """
    safe = frame.copy()
    for col in safe.columns:
        kind = safe[col].dtype
        if not (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind)
                or pd.api.types.is_datetime64_any_dtype(kind)):
            safe[col] = safe[col].astype(object).map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    with atomic_path(path) as tmp:
        safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n",
                    quoting=csv.QUOTE_MINIMAL)


def write_with(writer: Callable[[IO[bytes]], None], path: str | Path) -> None:
    """Call ``writer`` on a binary file handle, atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        writer(fh)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as Parquet atomically; object columns mixing types become text."""
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype != object:
            continue
        kinds = {type(v) for v in safe[col] if not _is_missing(v)}
        if len(kinds) > 1 or not kinds <= {str, bool}:
            safe[col] = safe[col].map(lambda v: None if _is_missing(v) else str(v))
    with atomic_path(path) as tmp:
        safe.to_parquet(tmp, index=False)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
