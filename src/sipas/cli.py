"""Command line: a thin layer over the public API (argument parsing, calls, file output).

Exit codes: 0 success; 2 bad input or configuration (a one-line message, no traceback);
1 an unexpected error (a bug: please report it with the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from sipas.errors import SipasError

if TYPE_CHECKING:
    from types import FrameType

    #: a SIGTERM handler as ``signal.signal`` takes and returns it
    _Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | None

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sipas`` command.

    Sub-commands: ``describe FILE`` (codebook), ``init FILE --out DIR`` (a starting spec and
    pipeline file), ``run PIPELINE --out DIR``, ``validate PIPELINE`` and ``demo``;
    ``sipas COMMAND --help`` lists their options.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``sipas``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 success; 2 bad input or configuration (a one-line ``sipas: error:``
        message on stderr, no traceback) or no command; 130 interrupted. Any other
        exception propagates (a bug).

    Notes
    -----
    SIGTERM is turned into ``KeyboardInterrupt`` for the rest of the process, so a stopped
    run removes its temporary output.

    Examples
    --------
    >>> import contextlib, io
    >>> from sipas.pipeline import demo_pipeline_path
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     code = main(["validate", str(demo_pipeline_path())])
    >>> code, out.getvalue().splitlines()[1]
    (0, 'ok: spec demo (31 items, 5 factors)')
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    previous = _terminate_like_interrupt()
    try:
        return int(args.func(args) or 0)
    except SipasError as exc:
        print(f"sipas: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sipas: interrupted; no partial output was kept.", file=sys.stderr)
        return 130
    finally:
        _restore(previous)


def _terminate_like_interrupt() -> _Handler:
    """SIGTERM (a job scheduler stopping the run) unwinds like Ctrl-C, so temporary outputs
    are removed and the target folder is left untouched."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if not hasattr(signal, "SIGTERM"):
        return None
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave the handler alone
        return None


def _restore(previous: _Handler) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sipas", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("describe", help="codebook of a survey file (labels, codes, missing)")
    p.add_argument("file", help=".sav, .dta, .csv, .xlsx or .parquet")
    p.add_argument("--spec", help="questionnaire spec (.toml or bundled name)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi")
    p.add_argument("--out", help="also write the codebook to this CSV file")
    p.set_defaults(func=_describe)

    p = sub.add_parser("run", help="run a pipeline file: weights, indices, reports")
    p.add_argument("pipeline", help="pipeline .toml file")
    p.add_argument("--out", required=True, help="output folder (refused if not empty)")
    _common(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("validate", help="check a pipeline's inputs and configuration only")
    p.add_argument("pipeline", help="pipeline .toml file")
    p.set_defaults(func=_validate)

    p = sub.add_parser("init", help="write a starting spec and pipeline file from a .sav file")
    p.add_argument("file", help=".sav or .dta file with variable and value labels")
    p.add_argument("--out", required=True, help="folder for spec.toml and pipeline.toml")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=_init)

    p = sub.add_parser("demo", help="run the yearly job on the bundled SYNTHETIC demo surveys "
                       "(Cao Bằng 2020 into --out, a 2026 province into --out/demo2026)")
    p.add_argument("--out", default="sipas-demo-output", help="output folder")
    _common(p)
    p.set_defaults(func=_demo)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty folder")
    p.add_argument("--lang", choices=["vi", "en"], default=None,
                   help="label language (default: the pipeline's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def _version() -> str:
    from sipas._version import __version__

    return f"sipas {__version__}"


def _describe(args: argparse.Namespace) -> int:
    from sipas.describe import codebook
    from sipas.io import read_survey
    from sipas.report.files import write_csv

    data = read_survey(args.file, spec=args.spec)
    book = codebook(data, lang=args.lang)
    with pd.option_context("display.max_rows", None, "display.width", 160,
                           "display.max_colwidth", 48):
        print(f"{Path(args.file).name}: {data.meta.n_rows} rows, {data.meta.n_columns} columns"
              f", sha256 {data.meta.sha256[:16]}…")
        print(book.drop(columns=["value_labels"]).to_string(index=False))
    if args.out:
        write_csv(book, args.out)
    return 0


def _demo(args: argparse.Namespace) -> int:
    """Cao Bằng 2020 (five factors) into ``--out``, the 2026 survey (index tree) into
    ``--out/demo2026``."""
    from sipas.pipeline import demo_pipeline_path

    out = args.out
    args.pipeline = str(demo_pipeline_path())
    code = _run(args)
    args.pipeline, args.out = str(demo_pipeline_path("demo2026")), str(Path(out) / "demo2026")
    return code or _run(args)


def _run(args: argparse.Namespace) -> int:
    from sipas.pipeline import load_pipeline, run, summary_text, write

    pipeline = load_pipeline(args.pipeline)
    progress = not args.quiet and sys.stderr.isatty()
    result = run(pipeline, progress=progress)
    path = write(result, args.out, overwrite=args.overwrite, lang=args.lang)
    if not args.quiet:
        print(summary_text(result, path))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sipas.pipeline import load_pipeline, validate
    from sipas.starter import open_questions

    pipeline = load_pipeline(args.pipeline)
    for line in validate(pipeline):
        print(f"ok: {line}")
    spec = Path(pipeline.spec)
    for path in (Path(args.pipeline), *([spec] if spec.suffix == ".toml" else [])):
        for line in open_questions(path):
            print(f"todo: {line}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from sipas.starter import starter, write_starter

    paths = write_starter(args.file, args.out, overwrite=args.overwrite)
    print(f"wrote {', '.join(str(p) for p in paths)}; guesses:")
    for guess in starter(args.file).guesses:
        print(f"  - {guess}")
    print(f"next: edit the TODO lines, then sipas validate {paths[1]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
