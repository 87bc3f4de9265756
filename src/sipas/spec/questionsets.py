"""Question sets of a spec (``[[question_sets]]``): multiple-response questions ("what should
be improved? tick all that apply"), one column per option.

Examples
--------
>>> import sipas
>>> qs = sipas.load_spec("demo").question_set("needs")
>>> qs.options, qs.selected
(('e1', 'e2', 'e3', 'e4', 'e5'), (1,))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sipas._validate import message
from sipas.schema import FLOAT, NAME, STR, Doc, Either, Key, ListOf, Table, TableOf

__all__ = ["QUESTION_SET", "QuestionSet", "question_set"]

#: the keys of one ``[[question_sets]]`` entry
QUESTION_SET = Table({
    "name": Key(NAME, required=True),
    "label": Either(STR, TableOf(STR), what='a string or {vi = "...", en = "..."}'),
    "options": Key(ListOf(NAME, what="a list of column names"), required=True,
                   hint="List the column of every option, e.g. options = [\"e1\", \"e2\"]."),
    "selected": Key(Either(FLOAT, ListOf(FLOAT), what="a list of numeric codes"),
                    default=[1], hint="The code(s) of a ticked option, e.g. selected = [1]."),
    "option_labels": TableOf(ListOf(STR), what="a table {en = [...], vi = [...]}"),
})


@dataclass(frozen=True)
class QuestionSet:
    """A multiple-response question: one column per option, ``selected`` codes mean ticked.

    Attributes
    ----------
    name : str
        Name of the set.
    label : mapping
        Language -> question text.
    options : tuple of str
        Option columns, in questionnaire order.
    selected : tuple of float
        Codes that mean the option was ticked (default ``(1,)``); other valid answers mean
        not ticked.
    option_labels : mapping
        Language -> one label per option (items of the spec give their own labels).

    Examples
    --------
    >>> QuestionSet("needs", {}, ("e1", "e2")).selected
    (1,)
    """

    name: str
    label: Mapping[str, str]
    options: tuple[str, ...]
    selected: tuple[int | float, ...] = (1,)
    option_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def question_set(doc: Doc, index: int, raw: Mapping[str, Any]) -> QuestionSet:
    """The question set of ``[[question_sets]]`` entry ``index`` (checked against
    :data:`QUESTION_SET`).

    Raises
    ------
    SpecError
        Fewer than two options, an option twice, no selected code, option labels that are
        not one per option.
    """
    path = ("question_sets", index)
    options = list(raw["options"])
    if len(options) < 2:
        raise doc.fail(path, message("options", "at least two option columns", options,
                                     "A question with one option is a yes/no item: declare "
                                     "it in [[items]] instead."))
    dup = sorted({o for o in options if options.count(o) > 1})
    if dup:
        raise doc.fail(path, f"option(s) {dup} listed more than once. List each column once.")
    selected = raw["selected"] if isinstance(raw["selected"], list) else [raw["selected"]]
    if not selected:
        raise doc.fail(path, message("selected", "at least one code", selected))
    labels = {}
    for lang, lab in raw.get("option_labels", {}).items():
        if len(lab) != len(options):
            raise doc.fail(path, message(f"option_labels.{lang}",
                                         f"a list of {len(options)} strings (one per option)",
                                         lab))
        labels[lang] = tuple(lab)
    label = raw.get("label")
    return QuestionSet(name=raw["name"],
                       label={"vi": label, "en": label} if isinstance(label, str)
                       else dict(label or {}),
                       options=tuple(options), selected=tuple(selected), option_labels=labels)
