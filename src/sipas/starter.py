"""A starting spec and pipeline file guessed from a survey file's labels (``sipas init``).

The guesses come from what the file says about itself: answer scales from shared value labels
("Hài lòng", "Đồng ý", "Có"), missing codes from labels such as "Không biết" or "Từ chối",
the respondent id (a column unique in every row), design weights, strata and clusters, and
domain columns from variable labels ("Trọng số", "Huyện", "Xã", "Giới tính"). Every guess is
written as a comment beside the key it sets, marked ``TODO(sipas init)`` where a person must
decide, and returned as a list; ``sipas validate`` then shows the open TODOs.

Examples
--------
>>> from sipas.datasets import demo_path
>>> start = starter(demo_path())
>>> start.guesses[0]
'respondent id: resp_id (unique in every row; label "Mã người trả lời (DỮ LIỆU GIẢ LẬP)")'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sipas._validate import plain
from sipas.errors import SipasError
from sipas.io import SurveyData, read_survey

__all__ = ["TODO", "Starter", "open_questions", "starter", "write_starter"]

TODO = "TODO(sipas init)"
#: label words (accents removed, lower case) -> missing kind
MISSING_WORDS = {"khong biet": "dont_know", "dont know": "dont_know", "don't know": "dont_know",
                 "khong ap dung": "not_applicable", "not applicable": "not_applicable",
                 "tu choi": "refused", "refused": "refused",
                 "khong duoc hoi": "not_asked", "not asked": "not_asked"}
ROLE_WORDS = {
    "weights": ("trong so", "weight"),
    "strata": ("huyen", "district", "strat", "tang"),
    "cluster": ("xa/phuong", "xa", "commune", "ward", "cluster", "psu"),
    "domain": ("khu vuc", "gioi tinh", "tuoi", "dan toc", "linh vuc", "cap ", "urban", "sex",
               "age", "ethnic", "service", "tinh/thanh", "province"),
}


def _plain_text(text: Any) -> str:
    import unicodedata

    text = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower()


@dataclass(frozen=True)
class Starter:
    """A starting spec and pipeline file, as TOML text, and the guesses behind them."""

    spec_text: str
    pipeline_text: str
    guesses: tuple[str, ...]


def starter(path: str | Path, *, name: str | None = None) -> Starter:
    """Guess a spec and pipeline file from a survey file's variable and value labels.

    Parameters
    ----------
    path : str or Path
        A ``.sav`` or ``.dta`` file (labels are what the guesses rest on; a CSV gives few).
    name : str, optional
        Survey name; default the file's stem.

    Returns
    -------
    Starter

    Raises
    ------
    ReadError
        The file cannot be read.
    SipasError
        No column looks like an answer scale (no value labels shared by items).
    """
    data = read_survey(path)
    g = _Guesser(data)
    spec = g.spec(name or Path(path).stem)
    return Starter(spec, g.pipeline(Path(path)), tuple(g.guesses))


class _Guesser:
    def __init__(self, data: SurveyData) -> None:
        self.data, self.frame, self.meta = data, data.frame, data.meta
        self.guesses: list[str] = []
        self.label = {c: str(self.meta.variable_labels.get(c) or "")
                      for c in map(str, self.frame.columns)}

    def _has(self, col: str, role: str) -> bool:
        text = f" {_plain_text(self.label[col])} {col.lower()} "
        return any(w in text for w in ROLE_WORDS[role])

    def _id(self) -> str:
        for col in self.frame.columns:
            values = self.frame[col]
            if values.notna().all() and values.is_unique and col not in self.meta.value_labels:
                self.guesses.append(f'respondent id: {col} (unique in every row; label '
                                    f'"{self.label[col]}")')
                return col
        raise SipasError("no column is unique in every row: the spec needs a respondent id. "
                         "Add one to the file (e.g. the interview number).")

    def _answer_columns(self) -> list[str]:
        """Columns whose value labels read like answers (not interview status or places)."""
        out = []
        for col, labels in self.meta.value_labels.items():
            words = _plain_text(" ".join(map(str, labels.values())))
            if any(w in words for w in ("hai long", "dong y", "satisf", "agree")) or \
                    "co" in re.split(r"[^a-z]+", words):
                out.append(col)
        return out

    def _missing(self) -> dict[float, list[str]]:
        codes: dict[float, list[str]] = {}
        for col in self._answer_columns():
            labels = self.meta.value_labels[col]
            for code, text in labels.items():
                kinds = [k for w, k in MISSING_WORDS.items() if w in _plain_text(text)]
                for kind in dict.fromkeys(kinds):
                    codes.setdefault(plain(code), [])
                    if kind not in codes[plain(code)]:
                        codes[plain(code)].append(kind)
        return codes

    def _missing_label(self, code: float) -> str:
        """The first value label of ``code`` among the answer columns."""
        for col in self._answer_columns():
            for c, text in self.meta.value_labels[col].items():
                if plain(c) == code:
                    return str(text).replace('"', "'")
        return ""

    def spec(self, name: str) -> str:
        rid = self._id()
        missing = self._missing()
        scales: dict[tuple, str] = {}
        items: list[tuple[str, str, str]] = []
        domains: list[str] = []
        for col, labels in self.meta.value_labels.items():
            valid = tuple(sorted((plain(c), t) for c, t in labels.items() if plain(c) not in
                                 missing))
            answers = _plain_text(" ".join(t for _, t in valid))
            scale_like = any(w in answers for w in ("hai long", "dong y", "satisf", "agree")) \
                or (len(valid) == 2 and "co" in re.split(r"[^a-z]+", answers))
            if scale_like and col != rid:
                scales.setdefault(valid, f"scale{len(scales) + 1}")
                items.append((col, scales[valid], self.label[col]))
            elif col != rid and (self._has(col, "domain") or self._has(col, "strata")):
                domains.append(col)
        if not items:
            raise SipasError("no column looks like an answer scale (value labels such as "
                             "'Hài lòng', 'Đồng ý', 'Có'); write the [scales] and [[items]] of "
                             "the spec by hand (docs/spec.md).")
        return self._spec_text(name, rid, missing, scales, items, domains)

    def _design(self) -> dict[str, str]:
        numeric = [c for c in map(str, self.frame.columns) if c not in self.meta.value_labels
                   and pd.api.types.is_numeric_dtype(self.frame[c])]
        design: dict[str, str] = {}
        for col in numeric:
            if "weights" not in design and self._has(col, "weights"):
                design["weights"] = col
        for col in map(str, self.frame.columns):
            if "strata" not in design and self._has(col, "strata") and \
                    self.frame[col].nunique() < len(self.frame) / 10:
                design["strata"] = col
            elif "cluster" not in design and self._has(col, "cluster") and \
                    self.frame[col].nunique() < len(self.frame) / 2:
                design["cluster"] = col
        return design

    def _spec_text(self, name: str, rid: str, missing: dict[float, list[str]],
                   scales: dict[tuple, str], items: list[tuple[str, str, str]],
                   domains: list[str]) -> str:
        out = [f"# Starting spec written by `sipas init` from {Path(self.meta.source).name}.",
               "# Every guess is commented; lines marked TODO need a person's decision",
               "# (sipas validate lists them).",
               "# Keys: docs/spec.md. Walk-through: docs/your-survey.md.", "",
               "[survey]", f'name = "{name}"', f'respondent_id = "{rid}"',
               f'title = "{name}"  # {TODO}: the survey title, or {{ vi = "...", en = "..." }}',
               'language = "vi"',
               f"# year = 2026  # {TODO}: the survey's year (every chart's caption names it)",
               '# source = "..."  # who produced the data (captions; default: the file name)',
               ""]
        out += ["# Missing codes, from value labels such as 'Không biết'. A code whose label",
                "# names several kinds is listed under each: its answers are counted once,",
                "# as the combined kind (e.g. dont_know_or_not_applicable).", "[missing]"]
        by_kind: dict[str, list[float]] = {}
        for code, kinds in sorted(missing.items()):
            for kind in kinds:
                by_kind.setdefault(kind, []).append(code)
            if len(kinds) > 1:
                out.append(f'# code {code} ("{self._missing_label(code)}") means '
                           f"{' or '.join(kinds)}: listed under each.")
        out += [f"{k} = {sorted(v)}" for k, v in by_kind.items()]
        if by_kind:
            self.guesses.append(f"missing codes: {by_kind} (value labels)")
        out.append("")
        item_kinds = {}
        for valid, sname in scales.items():
            codes = [c for c, _ in valid]
            words = _plain_text(" ".join(t for _, t in valid))
            top = codes[:1] if len(codes) == 2 else codes[-2:]
            kind = "satisfaction" if "hai long" in words or "satisf" in words else "perception"
            item_kinds[sname] = kind
            out += [f"# answer labels: {', '.join(t for _, t in valid)}",
                    f"[scales.{sname}]", f"codes = {codes}",
                    f"satisfied = {top}  # guessed; {TODO}: check which codes count as satisfied",
                    f"labels.vi = {[t for _, t in valid]}".replace("'", '"'), ""]
        self.guesses.append(f"answer scales: {len(scales)} ({', '.join(scales.values())}), "
                            f"satisfied = the top codes")
        overall = None
        for col, sname, label in items:
            kind = item_kinds[sname]
            if "mong muon" in _plain_text(label) or "expect" in _plain_text(label):
                kind = "expectation"
            if kind == "satisfaction" and overall is None and "chung" in _plain_text(label):
                overall = col
            label_text = label.replace('"', "'")
            out += ["[[items]]", f'name = "{col}"', f'label = "{label_text}"',
                    f'scale = "{sname}"', f'kind = "{kind}"', ""]
        self.guesses.append(f"items: {len(items)} columns with answer-scale value labels")
        factor = [c for c, s, _ in items if item_kinds[s] == "satisfaction" and c != overall]
        out += [f"# {TODO}: one factor holds every satisfaction item; split it into the",
                "# survey's factors (a [[factors]] block each, with name, label and items).",
                "[[factors]]", 'name = "all"',
                'label = { vi = "Tất cả câu hỏi", en = "All items" }',
                f"items = {factor}".replace("'", '"'), ""]
        if overall:
            out += [f"# guessed from its label: {self.label[overall]}", "[overall]",
                    f'item = "{overall}"', ""]
            self.guesses.append(f"overall item: {overall} (label says 'chung')")
        design = self._design()
        out += ["# Design columns guessed from variable labels; "
                f"{TODO}: check the design columns against the sampling plan.", "[design]"]
        if "cluster" in design:
            out.append(f'ids = ["{design["cluster"]}", "{rid}"]  # clusters, then respondents')
        if "strata" in design:
            out += [f'strata = "{design["strata"]}"', "nest = true"]
        if "weights" in design:
            out.append(f'weights = "{design["weights"]}"')
        out.append("# fpc = [...]  # population sizes per stage, if the file has them")
        out.append("")
        self.guesses.append(f"design: {design or 'none found'}")
        out += ["[domains]", f"columns = {domains}".replace("'", '"'), ""]
        self.guesses.append(f"domains: {domains} (variable labels)")
        self.domains = domains
        return "\n".join(out)

    def pipeline(self, data: Path) -> str:
        by = [d for d in self.domains][:3]
        return "\n".join([
            "# Starting pipeline written by `sipas init`; keys: docs/pipeline.md.",
            "[pipeline]", f'name = "{data.stem}"', "", "[input]",
            f'data = "{data.name}"  # {TODO}: path relative to this file', 'spec = "spec.toml"',
            "", f"# {TODO}: weighting steps (non-response, raking to population margins):",
            "# [[weighting.steps]] ... see docs/weighting.md", "", "[indices]",
            f"by = {by}".replace("'", '"'), "", "[report]", 'lang = "vi"',
            'formats = ["csv", "xlsx", "png", "docx"]', ""])


def write_starter(path: str | Path, out: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write ``spec.toml`` and ``pipeline.toml`` guessed from ``path`` into folder ``out``.

    Parameters
    ----------
    path : str or Path
        The survey file.
    out : str or Path
        Folder to write into (made if missing).
    overwrite : bool
        Replace existing ``spec.toml`` / ``pipeline.toml``.

    Returns
    -------
    list of Path
        The two files written.

    Raises
    ------
    SipasError
        A file exists and ``overwrite`` is false; the guesses failed (see :func:`starter`).
    """
    start = starter(path)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path, pipe_path = folder / "spec.toml", folder / "pipeline.toml"
    for p in (spec_path, pipe_path):
        if p.exists() and not overwrite:
            raise SipasError(f"{p} exists; pass --overwrite to replace it, or choose another "
                             "--out folder.")
    data = Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    todo = f"{TODO}: path relative to this file"
    if data.startswith("../"):
        # a pipeline reads only inputs beside it (docs/pipeline.md): the file must be copied
        data = Path(path).name
        todo = f"{TODO}: copy {Path(path).name} into this folder (inputs sit beside the pipeline)"
    spec_path.write_text(start.spec_text, encoding="utf-8")
    pipe_path.write_text(start.pipeline_text.replace(
        f'data = "{Path(path).name}"  # {TODO}: path relative to this file',
        f'data = "{data}"  # {todo}'), encoding="utf-8")
    return [spec_path, pipe_path]


def open_questions(path: str | Path) -> list[str]:
    """The ``TODO(sipas init)`` lines still in a spec or pipeline file.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "spec.toml"
    >>> _ = f.write_text('x = 1  # TODO(sipas init): check\\n', encoding="utf-8")
    >>> open_questions(f)
    ['spec.toml:1: check']
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [f"{Path(path).name}:{i}: {line.split(TODO, 1)[1].lstrip(': ').strip()}"
            for i, line in enumerate(lines, 1) if TODO in line]

