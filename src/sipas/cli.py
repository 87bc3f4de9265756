"""Command line: a thin layer over the public API (argument parsing, calls, file output).

Exit codes: 0 success; 2 bad input or configuration (a one-line message, no traceback);
1 an unexpected error (a bug: please report it with the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sipas.errors import SipasError, SpecError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sipas`` command.

    Sub-commands: ``describe FILE`` (codebook), ``run PIPELINE --out DIR``, ``validate
    PIPELINE`` and ``demo``; ``sipas COMMAND --help`` lists their options.

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
        print(f"sipas: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a file-size limit, a folder that went away
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"sipas: error: cannot write{where}: {exc.strerror or exc}. Free space or "
              "choose another --out.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sipas: interrupted; no partial output was kept.", file=sys.stderr)
        return 130
    finally:
        _restore(previous)


def _terminate_like_interrupt() -> object:
    """SIGTERM (a job scheduler stopping the run) unwinds like Ctrl-C, so temporary outputs
    are removed and the target folder is left untouched."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if not hasattr(signal, "SIGTERM"):
        return None
    try:
        if hasattr(signal, "SIGXFSZ"):  # a file-size limit: an OSError, not a killed process
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave the handler alone
        return None


def _restore(previous: object) -> None:
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
    p.add_argument("--out", help="also write the codebook to this CSV file (never the input)")
    p.set_defaults(func=_describe)

    p = sub.add_parser("run", help="run a pipeline file: weights, indices, reports")
    p.add_argument("pipeline", help="pipeline .toml file")
    p.add_argument("--out", required=True,
                   help="output folder (new or empty; never one holding an input)")
    _common(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("validate", help="check a pipeline's inputs and configuration only")
    p.add_argument("pipeline", help="pipeline .toml file")
    p.set_defaults(func=_validate)

    p = sub.add_parser("demo", help="run the yearly job on the bundled SYNTHETIC demo survey")
    p.add_argument("--out", default="sipas-demo-output", help="output folder")
    _common(p)
    p.set_defaults(func=_demo)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="replace a folder an earlier sipas run wrote")
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

    if args.out:
        _check_describe_out(args)
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


def _check_describe_out(args: argparse.Namespace) -> None:
    out = Path(args.out).resolve()
    if out.is_dir():
        raise SpecError(f"--out {args.out!r} is a folder; name the CSV file to write, e.g. "
                         "--out codebook.csv.")
    inputs = [Path(args.file)] + ([Path(args.spec)] if args.spec and Path(args.spec).suffix
                                  else [])
    if any(p.exists() and p.resolve() == out for p in inputs):
        raise SpecError(f"--out {args.out!r} is an input of describe; the codebook would "
                         "replace it. Name a new file, e.g. --out codebook.csv.")


def _demo(args: argparse.Namespace) -> int:
    from sipas.pipeline import demo_pipeline_path

    args.pipeline = str(demo_pipeline_path())
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from sipas.pipeline import (
        load_pipeline,
        output_folder,
        pipeline_inputs,
        run,
        summary_text,
        write_into,
    )

    pipeline = load_pipeline(args.pipeline)
    progress = not args.quiet and sys.stderr.isatty()
    # the folder is checked and locked before the computation: a refused or unwritable
    # --out fails at once, and a second run on it waits for nothing
    with output_folder(args.out, args.overwrite, inputs=pipeline_inputs(pipeline)) as folder:
        result = run(pipeline, progress=progress)
        write_into(result, folder, lang=args.lang)
    if not args.quiet:
        print(summary_text(result, Path(args.out)))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sipas.pipeline import load_pipeline, validate

    for line in validate(load_pipeline(args.pipeline)):
        print(f"ok: {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
