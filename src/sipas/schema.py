"""One schema layer for the TOML files sipas reads: spec, PAR scheme, pipeline, weighting plan.

A :class:`Table` lists the keys a table may hold, each with its type and whether it is
required; :func:`validate` walks a parsed document against it and raises one error class
with one wording per kind of mistake, naming the file and the place in it:

* unknown key: ``key 'scael' is not allowed; did you mean 'scale'?`` (the allowed keys
  when no key is close);
* missing key: ``required key 'scale' is missing; it must be a non-empty string.``;
* wrong type: ``level must be a number; got '95%'.`` (the house wording of
  :func:`sipas._validate.message`);
* value outside a closed set: ``kind must be one of 'a', 'b'; got 'c'.``

A place is written as in the TOML file: ``[survey]``, ``[scales.s5]``, and
``[[items]] #3 (name 'q03')`` for the third entry of an array of tables (named by its
``name``, ``code`` or ``method`` when it has one). Rules that tie values together (codes
consistent with a scale, maxima that add up) stay in the modules that own them; they raise
through :meth:`Doc.fail` so that their messages name the place the same way.

Examples
--------
>>> item = Table({"name": Key(STR, required=True), "scale": STR, "kind": Choice("a", "b")})
>>> shape = Table({"items": ListOf(item)})
>>> doc = Doc("sipas-2024.toml", {"items": [{"name": "q03", "scael": "s5"}]})
>>> try:
...     validate(shape, doc)
... except SpecError as exc:
...     print(exc)
sipas-2024.toml: [[items]] #1 (name 'q03'): key 'scael' is not allowed; did you mean 'scale'?
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipas._validate import message
from sipas.errors import SipasError, SpecError

__all__ = ["ANY", "BOOL", "FLOAT", "INT", "NAME", "STR", "Choice", "Doc", "Either", "Key",
           "KeyPath", "ListOf", "Table", "TableOf", "Tagged", "Type", "read_toml", "resolve_path",
           "suggest", "validate"]

#: keys that name an entry of an array of tables in messages, in order of preference
NAMING_KEYS = ("name", "code", "method")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_PLACE = re.compile(r"^(.*) \(at (line \d+, column \d+|end of document)\)$", re.DOTALL)
#: a place in a document: table keys and array positions
KeyPath = tuple[str | int, ...]


# ---------------------------------------------------------------------- documents

@dataclass(frozen=True)
class Doc:
    """A parsed document: how messages name it, its data, and the error class it raises.

    Examples
    --------
    >>> doc = Doc("job.toml", {"weighting": {"steps": [{"method": "rake"}]}})
    >>> doc.where(("weighting", "steps", 0))
    "job.toml: [[weighting.steps]] #1 (method 'rake')"
    >>> str(doc.fail(("weighting",), "steps must be a list."))
    'job.toml: [weighting]: steps must be a list.'
    """

    name: str
    data: Any = None
    error: type[SipasError] = SpecError

    def where(self, path: KeyPath = ()) -> str:
        """The file and the place of ``path`` in it (``file: [[items]] #3 (name 'q03')``)."""
        place = _place(self.data, path)
        return f"{self.name}: {place}" if place else self.name

    def fail(self, path: KeyPath, text: str) -> SipasError:
        """The error to raise for ``text`` about the table at ``path``."""
        return self.error(f"{self.where(path)}: {text}")


def _header(keys: list[str]) -> str:
    return ".".join(k if _BARE_KEY.match(k) else f'"{k}"' for k in keys)


def _place(data: Any, path: KeyPath) -> str:
    """``path`` as the TOML headers a reader looks for in the file."""
    pieces: list[str] = []
    keys: list[str] = []
    pending = False  # keys since the last array entry
    node = data
    for seg in path:
        if isinstance(seg, int):
            node = node[seg] if isinstance(node, (list, tuple)) and seg < len(node) else None
            named = next((f" ({k} {node[k]!r})" for k in NAMING_KEYS if isinstance(node, Mapping)
                          and isinstance(node.get(k), str) and node[k]), "")
            pieces.append(f"[[{_header(keys)}]] #{seg + 1}{named}")
            pending = False
        else:
            node = node.get(seg) if isinstance(node, Mapping) else None
            keys.append(str(seg))
            pending = True
    if pending:  # an array of tables is written [[...]] even when no entry is meant
        pieces.append(f"[[{_header(keys)}]]" if isinstance(node, list) else f"[{_header(keys)}]")
    return " ".join(pieces)


def resolve_path(doc: Doc, where: KeyPath, name: str, *, base: Path, root: Path | None = None,
                 allow_absolute: bool = False, what: str = "input file",
                 folder: str = "the pipeline's folder",
                 escape: str = "set [pipeline] allow_absolute_paths = true") -> Path:
    """The one path rule for every file a TOML file names (data, spec, margin files,
    published figures, previous wave, PAR tables).

    A relative ``name`` starts at ``base``, the folder of the file that names it, and may
    not leave ``root`` (by default ``base``; the pipeline's folder for a spec read by a
    pipeline); an absolute one is refused. ``allow_absolute`` (``[pipeline]
    allow_absolute_paths = true``) lifts both limits. Nothing is opened here, so a refused
    path is never read and its content never shown.

    Parameters
    ----------
    doc : Doc
        The naming file (named in messages); ``where`` the table of the key.
    where : tuple
        Where the key is in ``doc``.
    name : str
        The path as written.
    base, root : Path
        The naming file's folder; the folder the path must stay in.
    allow_absolute : bool
        Accept absolute paths and paths outside ``root``.
    what, folder, escape : str
        How messages call the file and ``root``, and the way out of ``root``.

    Returns
    -------
    Path
        The file, absolute (``..`` and symbolic links resolved).

    Raises
    ------
    SpecError
        (``doc.error``) An absolute path or one leaving ``root`` without
        ``allow_absolute``; a folder; no such file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> job = pathlib.Path(tempfile.mkdtemp())
    >>> (job / "spec").mkdir(); _ = (job / "m.csv").write_text("x", encoding="utf-8")
    >>> doc = Doc("spec/spec.toml")
    >>> resolve_path(doc, (), "../m.csv", base=job / "spec", root=job).name
    'm.csv'
    >>> resolve_path(doc, (), "../m.csv", base=job / "spec")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    sipas.errors.SpecError: spec/spec.toml: path '../m.csv' leaves ...
    """
    root = base if root is None else root
    candidate = Path(name)
    if candidate.is_absolute():
        if not allow_absolute:
            raise doc.fail(where, f"absolute path {name!r} is not allowed; use a path relative "
                                  f"to {Path(doc.name).name} or set [pipeline] "
                                  "allow_absolute_paths = true.")
        resolved = candidate.resolve()
    else:
        resolved = (base / candidate).resolve()
        if not allow_absolute and not resolved.is_relative_to(root.resolve()):
            raise doc.fail(where, f"path {name!r} leaves {folder} ({str(root.resolve())!r}); "
                                  f"keep the file inside it, or {escape}.")
    if resolved.is_dir():
        raise doc.fail(where, f"{what} {name!r} is a folder ({resolved}); name a file.")
    if not resolved.is_file():
        raise doc.fail(where, f"{what} {name!r} does not exist ({resolved}). Paths are "
                              f"relative to the file that names them ({Path(doc.name).name}).")
    return resolved


def suggest(word: str, choices: Any) -> str | None:
    """The allowed word closest to a misspelt one, if any is close.

    >>> suggest("scael", ["name", "scale", "kind"]), suggest("zzz", ["name"])
    ('scale', None)
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return close[0] if close else None


def _listed(options: Any) -> str:
    return ", ".join(repr(o) for o in options)


# ---------------------------------------------------------------------- types

class Type:
    """A value type: ``what`` describes it in messages, ``plural`` inside a list's."""

    what = "a value"
    plural = "values"
    hint = ""

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self, keys: list[str]) -> str:
        return self.what

    def check(self, value: Any, path: KeyPath, doc: Doc) -> Any:
        if not self.accepts(value):
            raise _wrong(self, value, path, doc)
        return value


def _wrong(typ: Type, value: Any, path: KeyPath, doc: Doc, hint: str = "") -> SipasError:
    keys = [str(p) for p in path if not isinstance(p, int)]
    if not path:
        return doc.error(message(doc.name, "a table of keys", type(value).__name__))
    return doc.fail(path[:-1], message(str(path[-1]), typ.describe(keys), value,
                                       hint or typ.hint))


@dataclass(frozen=True, eq=False)
class _Scalar(Type):
    kinds: tuple[type, ...]
    what: str
    plural: str
    nonempty: bool = False

    def accepts(self, value: Any) -> bool:
        # TOML booleans are not numbers, though Python's bool is an int
        if isinstance(value, bool) and bool not in self.kinds:
            return False
        if self.nonempty and isinstance(value, str) and not value.strip():
            return False
        return isinstance(value, self.kinds)


ANY = Type()
STR = _Scalar((str,), "a string", "strings")
NAME = _Scalar((str,), "a non-empty string", "non-empty strings", nonempty=True)
INT = _Scalar((int,), "an integer", "integers")
FLOAT = _Scalar((int, float), "a number", "numbers")  # 5 is a fine number
BOOL = _Scalar((bool,), "true or false", "true/false values")


class Choice(Type):
    """One of a closed set of strings; a near miss gets a "did you mean"."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.what = f"one of {_listed(options)}"
        self.plural = f"values among {_listed(options)}"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def check(self, value: Any, path: KeyPath, doc: Doc) -> Any:
        if not self.accepts(value):
            close = suggest(value, self.options) if isinstance(value, str) else None
            raise _wrong(self, value, path, doc, f"Did you mean {close!r}?" if close else "")
        return value


class Either(Type):
    """The first of several leaf types that accepts the value (``what`` describes them)."""

    def __init__(self, *options: Type, what: str, plural: str = "", hint: str = "") -> None:
        self.options, self.what, self.hint = options, what, hint
        self.plural = plural or what

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)


class ListOf(Type):
    """A list of one type: a list of leaves is judged whole, a list of tables entry by entry."""

    def __init__(self, item: Type, what: str = "", hint: str = "") -> None:
        self.item, self.hint = item, hint
        self.tables = isinstance(item, (Table, TableOf, Tagged))
        self.what = what or ("an array of tables" if self.tables else f"a list of {item.plural}")
        self.plural = f"lists of {item.plural}"

    def describe(self, keys: list[str]) -> str:
        return f"{self.what} ([[{_header(keys)}]])" if self.tables else self.what

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(self.item.accepts(v) for v in value)

    def check(self, value: Any, path: KeyPath, doc: Doc) -> Any:
        if not self.accepts(value):
            raise _wrong(self, value, path, doc)
        if not self.tables:
            return list(value)
        return [self.item.check(v, (*path, i), doc) for i, v in enumerate(value)]


class TableOf(Type):
    """A table with free keys and values of one type (``[scales.<name>]``, labels by language)."""

    def __init__(self, value: Type, what: str = "", hint: str = "") -> None:
        self.value, self.hint = value, hint
        self.tables = isinstance(value, (Table, Tagged))
        self.what = what or ("a table of tables" if self.tables else f"a table of {value.plural}")
        self.plural = f"tables of {value.plural}"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping) and (self.tables or all(
            self.value.accepts(v) for v in value.values()))

    def check(self, value: Any, path: KeyPath, doc: Doc) -> Any:
        if not self.accepts(value):
            raise _wrong(self, value, path, doc)
        if not self.tables:
            return dict(value)
        return {k: self.value.check(v, (*path, k), doc) for k, v in value.items()}


_NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class Key:
    """A key of a :class:`Table`: its type, whether it is required, its default.

    ``hint`` is added to the message when the key is missing. A key whose value is ``None``
    counts as absent (TOML has no null; Python callers use ``None`` for "not given").
    """

    type: Type
    required: bool = False
    default: Any = _NO_DEFAULT
    hint: str = ""


@dataclass(eq=False)
class Table(Type):
    """A table with a fixed set of keys (a bare :class:`Type` is an optional key)."""

    keys: Mapping[str, Key | Type]
    what: str = "a table"
    plural: str = "tables"
    fields: dict[str, Key] = field(init=False)

    def __post_init__(self) -> None:
        self.fields = {k: v if isinstance(v, Key) else Key(v) for k, v in self.keys.items()}

    def describe(self, keys: list[str]) -> str:
        return f"{self.what} ([{_header(keys)}])"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def check(self, value: Any, path: KeyPath, doc: Doc) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _wrong(self, value, path, doc)
        for key in value:
            if key not in self.fields:
                close = suggest(key, self.fields)
                said = (f"did you mean {close!r}?" if close else
                        f"allowed keys: {_listed(sorted(self.fields))}.")
                raise doc.fail(path, f"key {key!r} is not allowed; {said}")
        out: dict[str, Any] = {}
        for key, spec in self.fields.items():
            got = value.get(key)
            if got is not None:
                out[key] = spec.type.check(got, (*path, key), doc)
            elif spec.required:
                keys = [str(p) for p in path if not isinstance(p, int)] + [key]
                text = (f"required key {key!r} is missing; it must be "
                        f"{spec.type.describe(keys)}.")
                raise doc.fail(path, f"{text} {spec.hint}" if spec.hint else text)
            elif spec.default is not _NO_DEFAULT:
                # through the type: a table's default gets its keys' defaults, a list a copy
                out[key] = spec.type.check(spec.default, (*path, key), doc)
        return out


class Tagged(Type):
    """A table whose keys depend on one of them (a weighting step's ``method``)."""

    what, plural = "a table", "tables"

    def __init__(self, tag: str, variants: Mapping[str, Mapping[str, Key | Type]]) -> None:
        self.tag = tag
        choice = Choice(*sorted(variants))
        self.variants = {name: Table({tag: Key(choice, required=True), **keys})
                         for name, keys in variants.items()}
        self.tag_only = Table({tag: Key(choice, required=True)})

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def check(self, value: Any, path: KeyPath, doc: Doc) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _wrong(self, value, path, doc)
        # the tag first: a misspelt method must not read as a list of unknown keys
        self.tag_only.check({self.tag: value.get(self.tag)}, path, doc)
        return self.variants[value[self.tag]].check(value, path, doc)


# ---------------------------------------------------------------------- entry points

def validate(schema: Table, doc: Doc) -> dict[str, Any]:
    """Check ``doc.data`` against ``schema``; return it with the defaults filled in.

    Parameters
    ----------
    schema : Table
        The keys of the document's top level.
    doc : Doc
        The document (its name, parsed data and error class).

    Returns
    -------
    dict
        The data, tables copied, optional keys with a default filled in.

    Raises
    ------
    SipasError
        ``doc.error`` at the first mistake: an unknown key, a missing required key, a value
        of the wrong type or outside its set of values.

    Examples
    --------
    >>> shape = Table({"level": Key(FLOAT, default=0.95), "by": ListOf(STR)})
    >>> validate(shape, Doc("job.toml", {"by": ["district"]}))
    {'level': 0.95, 'by': ['district']}
    >>> try:
    ...     validate(Table({"n": INT}), Doc("job.toml", {"n": True}))
    ... except SpecError as exc:
    ...     print(exc)
    job.toml: n must be an integer; got True.
    """
    return schema.check(doc.data, (), doc)


def read_toml(path: Path, what: str,
              error: type[SipasError] = SpecError) -> tuple[dict[str, Any], bytes]:
    """Read a UTF-8 TOML file (a byte-order mark is fine); return its data and its bytes.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What the file is (``spec``, ``pipeline``, ``PAR scheme``), for messages.
    error : type
        The error class raised.

    Returns
    -------
    (dict, bytes)
        The parsed document and the raw bytes (for a hash).

    Raises
    ------
    SipasError
        The file does not exist, is a folder, cannot be read, is not UTF-8 (the message
        gives the line), or is not valid TOML (the message gives line and column).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "job.toml"
    >>> _ = bad.write_text('[input]\\ndata = demo.sav\\n', encoding="utf-8")
    >>> try:
    ...     read_toml(bad, "pipeline")
    ... except SpecError as exc:
    ...     print(str(exc).replace(str(bad), "job.toml"))  # doctest: +ELLIPSIS
    job.toml: line 2, column 8: not valid TOML (Invalid value). Check quotes, ...
    """
    path = Path(path)
    if path.is_dir():
        raise error(message(f"{what} file", "a .toml file", str(path), "It is a folder."))
    if not path.is_file():
        raise error(f"{what} file {str(path)!r} does not exist (relative paths start at "
                    f"{str(Path.cwd())!r}). Check the path.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{what} file {str(path)!r} cannot be read ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8-sig")  # Notepad and Excel add a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}: {what} file must be UTF-8 text; got byte "
                    f"{raw[exc.start:exc.start + 1]!r} at line {line}. Save it as UTF-8 "
                    "(Vietnamese labels are garbled otherwise).") from None
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_PLACE.match(str(exc))
        reason, where = (found.group(1), found.group(2)) if found else (str(exc), "")
        where = "at the end of the file" if where == "end of document" else where
        raise error(f"{path}: {where + ': ' if where else ''}not valid TOML ({reason}). "
                    "Check quotes, brackets and '=' on that line.") from None
