"""Safe output: every file is written to a temporary name in its folder, then renamed.

An interrupted run leaves no half-written file; text cells that a spreadsheet would read as a
formula are neutralised in CSV output.

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
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

__all__ = ["atomic_path", "neutralise", "write_bytes", "write_csv", "write_parquet",
           "write_text"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
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
    """Write a table as UTF-8 CSV with BOM (Excel shows Vietnamese correctly), atomically."""
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    with atomic_path(path) as tmp:
        safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")


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
