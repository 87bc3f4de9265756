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

from sipas.errors import SipasError, SpecError

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
        print(f"sipas: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a file-size limit, a folder that went away
        print(f"sipas: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("sipas: error: not enough memory for this run; ask for fewer simulations or "
              "replicates, fewer domains, or run on a machine with more memory.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sipas: interrupted; no partial output was kept.", file=sys.stderr)
        return 130
    finally:
        _restore(previous)


def _os_error(exc: OSError) -> str:
    """One line for a file the operating system refused, with what to do about it."""
    import errno

    where = f" {_short(str(exc.filename))!r}" if exc.filename else ""
    advice = {errno.ENAMETOOLONG: "Choose a shorter file or folder name.",
              errno.EACCES: "Choose a location you may write to.",
              errno.EPERM: "Choose a location you may write to.",
              errno.EROFS: "Choose a location on a writable disk."}
    todo = advice.get(exc.errno or 0, "Free space (or raise the file-size limit) or choose "
                      "another --out.")
    return f"cannot write{where}: {exc.strerror or type(exc).__name__}. {todo}"


def _short(text: str, limit: int = 120) -> str:
    """A long path shortened in the middle, so that a message stays readable."""
    return text if len(text) <= limit else f"{text[:limit // 2]}…{text[-limit // 2:]}"


def _terminate_like_interrupt() -> _Handler:
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

    p = sub.add_parser("plan", help="plan next wave's sample from last wave (the demo survey "
                       "unless --data/--spec): precision, sizes per domain, allocation")
    p.add_argument("--out", required=True, help="output folder for the CSV tables")
    p.add_argument("--data", help="last wave's microdata (default: the SYNTHETIC demo)")
    p.add_argument("--spec", help="questionnaire spec of --data")
    p.add_argument("--variable", default="p01", help="the share that drives the plan")
    p.add_argument("--value", type=float, default=1, help="the answer counted in the share")
    p.add_argument("--by", default="district", help="the domains that need the margin")
    p.add_argument("--margin", type=float, default=0.05, help="target margin of error")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--response-rate", type=float, default=1.0)
    p.add_argument("--take", type=float, help="respondents per cluster next wave")
    p.add_argument("--minimum", type=int, default=0, help="respondents per domain at least")
    p.add_argument("--n", type=int, help="a fixed total to allocate across the domains")
    p.add_argument("--method", default="proportional",
                   choices=["proportional", "neyman", "power", "equal"])
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty folder")
    p.set_defaults(func=_plan)

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
    """Cao Bằng 2020 (five factors) into ``--out``, the 2026 survey (index tree) into
    ``--out/demo2026``."""
    from sipas.pipeline import demo_pipeline_path

    out = args.out
    args.pipeline = str(demo_pipeline_path())
    code = _run(args)
    args.pipeline, args.out = str(demo_pipeline_path("demo2026")), str(Path(out) / "demo2026")
    return code or _run(args)


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


def _plan(args: argparse.Namespace) -> int:
    from sipas.datasets import load_demo
    from sipas.design import Design
    from sipas.io import read_survey
    from sipas.plan import plan_sample
    from sipas.report.files import write_csv

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise SipasError(f"output folder {str(out)!r} is not empty; give an empty folder or "
                         "--overwrite.")
    data = read_survey(args.data, spec=args.spec) if args.data else load_demo()
    design = Design.from_spec(data)
    if "response" in data.frame.columns:
        design = design.subset(data.frame["response"] == 1)
    value = int(args.value) if float(args.value).is_integer() else args.value
    plan = plan_sample(design, args.variable, by=args.by, value=value, margin=args.margin,
                       level=args.level, response_rate=args.response_rate, take=args.take,
                       minimum=args.minimum, n=args.n, method=args.method)
    out.mkdir(parents=True, exist_ok=True)
    for stem, table in plan.tables().items():
        write_csv(table, out / f"{stem}.csv")
    total = plan.summary().iloc[0]
    print(f"{int(total['domains'])} domains: {int(total['respondents'])} respondents, "
          f"{int(total['selected'])} to select; tables in {out}")
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
