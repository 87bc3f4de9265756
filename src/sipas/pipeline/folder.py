"""The output folder of a run: where it may be, who may replace it, one run at a time.

* **Never over an input.** An output folder that is, contains or lies inside any input of
  the run (data, spec, pipeline file, margin files, published figures, previous wave, PAR
  tables) is refused before anything is computed.
* **Only sipas folders are replaced.** Every folder sipas writes carries the marker file
  :data:`MARKER`; ``overwrite`` replaces an existing non-empty folder only when it carries
  it. An empty folder is used as it is.
* **One run per folder.** A run holds an exclusive lock (``fcntl.flock`` on a hidden lock
  file beside the folder; the system releases it when the process dies, even on
  ``kill -9``) from before the computation until the folder is in place; a second run on
  the same folder is refused at once.
* **Nothing half-written, no leftovers.** The run writes into a hidden ``.part`` folder that
  is renamed onto the target at the end. Temporary folders left by a killed run (they carry
  the marker and the target's name hash) are removed by the next run on that folder.

Examples
--------
>>> import pathlib, tempfile
>>> base = pathlib.Path(tempfile.mkdtemp())
>>> with output_folder(base / "out") as tmp:
...     _ = (tmp / "done.txt").write_text("ok", encoding="utf-8")
>>> sorted(p.name for p in (base / "out").iterdir())
['.sipas-output', 'done.txt']
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sipas.errors import SpecError

__all__ = ["MARKER", "check_location", "output_folder"]

#: the file that marks a folder as written by sipas (``overwrite`` replaces only those)
MARKER = ".sipas-output"
_MARKER_TEXT = "This folder was written by sipas; 'sipas run --overwrite' may replace it.\n"
_MAX_NAME = 255


def check_location(out: str | Path, inputs: Iterable[str | Path]) -> Path:
    """The resolved output folder, refused when it is, holds or lies inside an input.

    Parameters
    ----------
    out : str or Path
        The output folder (``--out``).
    inputs : iterable of str or Path
        Every file the run reads.

    Returns
    -------
    Path
        ``out`` made absolute (``.`` and ``..`` resolved, symbolic links followed).

    Raises
    ------
    SpecError
        ``out`` is an input, a folder holding one, or lies inside one; it is (or holds) the
        current folder or the root; a name in it is longer than 255 bytes; its parent is a
        file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> job = pathlib.Path(tempfile.mkdtemp())
    >>> data = job / "survey.csv"
    >>> check_location(job / "out", [data]) == (job / "out").resolve()
    True
    >>> check_location(job, [data])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    sipas.errors.SpecError: --out ... holds the input ...survey.csv...
    """
    long = [part for part in Path(out).parts if len(os.fsencode(part)) > _MAX_NAME]
    if long:  # checked before resolving: the system refuses to look such a path up
        raise SpecError(f"--out {_shown(out)!r}: the name {_shown(long[0], 40)!r} is longer "
                        f"than {_MAX_NAME} bytes, more than file systems allow; choose a "
                        "shorter name.")
    target = Path(out).resolve()
    if not target.name:
        raise SpecError(f"--out {str(out)!r} is the root of the file system; name a new "
                        "folder for the outputs.")
    for given in inputs:
        path = Path(given).resolve()
        if path == target:
            what = "is the input"
        elif path.is_relative_to(target):
            what = "holds the input"
        elif target.is_relative_to(path):
            what = "lies inside the input"
        else:
            continue
        raise SpecError(f"--out {str(out)!r} {what} {str(path)!r}; the outputs would replace "
                        "it. Choose a new folder outside the run's inputs.")
    with contextlib.suppress(OSError):  # a current folder that was removed: nothing to pull
        here = Path.cwd().resolve()
        if here.is_relative_to(target):
            raise SpecError(f"--out {str(out)!r} is (or holds) the current folder; the run "
                            "puts its output folder in place as a whole, which would pull the "
                            "folder from under your shell. Choose a new folder, e.g. --out "
                            "results.")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SpecError(f"--out {str(out)!r}: {str(parent)!r} is a file, not a "
                                "folder; choose another --out.")
            break
    return target


def _shown(path: str | Path, limit: int = 120) -> str:
    """A path as a message shows it: shortened in the middle when very long."""
    text = str(path)
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"


@contextlib.contextmanager
def output_folder(out: str | Path, overwrite: bool = False, *,
                  inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out`` (atomically replaced).

    Parameters
    ----------
    out : str or Path
        The final output folder.
    overwrite : bool
        Replace ``out`` when it exists, is not empty and carries the sipas marker.
    inputs : iterable of str or Path
        The run's input files (see :func:`check_location`).

    Yields
    ------
    Path
        A hidden temporary folder beside ``out`` (carrying the marker); it is removed if the
        block raises (also on Ctrl-C), so ``out`` is never left half-written.

    Raises
    ------
    SpecError
        ``out`` is refused by :func:`check_location`; it exists and is a file, or a
        non-empty folder without the marker, or a marked folder without ``overwrite``;
        another run is writing it; it cannot be created (no permission, a read-only or full
        disk).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> (base / "mine").mkdir()
    >>> _ = (base / "mine" / "notes.txt").write_text("mine", encoding="utf-8")
    >>> with output_folder(base / "mine", overwrite=True):  # doctest: +ELLIPSIS
    ...     pass
    Traceback (most recent call last):
    sipas.errors.SpecError: --out ... was not written by sipas ...
    """
    target = check_location(out, inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _lock(target, str(out)):
            _remove_leftovers(target)
            _check_target(target, str(out), overwrite)
            tmp = _temporary(target, "part")
            tmp.mkdir()
            (tmp / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
            try:
                yield tmp
                _swap(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    except OSError as exc:
        raise SpecError(f"cannot write the output folder {str(out)!r} ({_reason(exc)}). "
                        "Choose a folder you can write to, on a disk with free space.") from exc


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _check_target(target: Path, shown: str, overwrite: bool) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise SpecError(f"--out {shown!r} is a file, not a folder; sipas never replaces a "
                        "file with its outputs. Choose a new folder.")
    if not any(target.iterdir()):
        return
    if not (target / MARKER).is_file():
        raise SpecError(f"--out {shown!r} was not written by sipas (no {MARKER} file) and is "
                        "not empty; --overwrite replaces only folders sipas wrote. Choose a new "
                        "folder.")
    if not overwrite:
        raise SpecError(f"Output folder {shown!r} exists and is not empty. Choose another "
                        "--out folder or pass --overwrite to replace it.")


def _temporary(target: Path, kind: str) -> Path:
    """A hidden name beside ``target``, short whatever the length of its name."""
    digest = hashlib.sha256(os.fsencode(target.name)).hexdigest()[:16]
    return target.parent / f".sipas-{digest}.{kind}"


def _swap(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = _temporary(target, "old")
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(target: Path) -> None:
    """Temporary folders of a killed run on this target (only while holding its lock)."""
    for kind in ("part", "old"):
        path = _temporary(target, kind)
        if path.is_dir() and (path / MARKER).is_file():
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _lock(target: Path, shown: str) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (a lock file beside it) for the block."""
    try:
        import fcntl
    except ImportError:  # Windows: an exclusive create is the lock
        yield from _exclusive_create(target, shown)
        return
    path = _temporary(target, "lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise SpecError(f"another sipas run ({owner or 'pid unknown'}) is writing to --out "
                            f"{shown!r}; wait for it to finish or choose another folder.") \
                from None
        # the previous holder may have removed the file between our open and our lock
        if _same_file(fd, path):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _exclusive_create(target: Path, shown: str) -> Iterator[None]:
    path = _temporary(target, "lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise SpecError(f"another sipas run is writing to --out {shown!r} (lock file "
                        f"{str(path)!r}); wait for it to finish, or remove the lock file if "
                        "no run is going on.") from None
    os.write(fd, f"pid {os.getpid()} at {time.time():.0f}".encode())
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
