"""Kinds of missing answers, and codes that carry several kinds at once.

A questionnaire often gives one code to more than one kind of missing answer: ``9 = "Không
biết / Không áp dụng"`` (don't know / not applicable) says only that the respondent gave no
answer for one of two reasons, not which. The spec says so by listing the code under both
kinds (``dont_know = [9]`` and ``not_applicable = [9]``); the answer then has the *combined*
kind ``dont_know_or_not_applicable``, counted once, never split between the two and never
counted as the first. Its label joins the labels of its kinds.

Examples
--------
>>> kind_name(["not_applicable", "dont_know"])
'dont_know_or_not_applicable'
>>> kind_label("dont_know_or_not_applicable", "vi")
'Không biết / Không áp dụng'
>>> kinds_by_code({"dont_know": (8, 9), "not_applicable": (9,)})
{8: 'dont_know', 9: 'dont_know_or_not_applicable'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, get_args

__all__ = ["KIND_LABELS", "MISSING_KINDS", "MissingKind", "kind_label", "kind_name",
           "kind_parts", "kinds_by_code"]

MissingKind = Literal["dont_know", "not_applicable", "refused", "not_asked"]
MISSING_KINDS: tuple[str, ...] = get_args(MissingKind)
#: a combined kind joins its kinds with this, in the order of MISSING_KINDS
JOIN = "_or_"
#: kind -> {language: label}; ``system`` is an empty cell
KIND_LABELS: dict[str, dict[str, str]] = {
    "dont_know": {"vi": "Không biết", "en": "Don't know"},
    "not_applicable": {"vi": "Không áp dụng", "en": "Not applicable"},
    "refused": {"vi": "Từ chối trả lời", "en": "Refused"},
    "not_asked": {"vi": "Không được hỏi", "en": "Not asked"},
    "system": {"vi": "Để trống", "en": "Blank"},
    "user_missing": {"vi": "Khai báo thiếu trong tệp", "en": "Declared missing in the file"},
}


def kind_name(kinds: Iterable[str]) -> str:
    """The name of the kind of a code declared under ``kinds`` (one kind: itself).

    Parameters
    ----------
    kinds : iterable of str
        Kinds of :data:`MISSING_KINDS`, in any order.

    Returns
    -------
    str
        The kinds in the order of :data:`MISSING_KINDS`, joined with ``_or_``.

    Examples
    --------
    >>> kind_name(["refused"]), kind_name(["refused", "dont_know", "refused"])
    ('refused', 'dont_know_or_refused')
    """
    unique = set(kinds)
    return JOIN.join(k for k in (*MISSING_KINDS, "system") if k in unique)


def kind_parts(kind: str) -> tuple[str, ...]:
    """The kinds a (combined) kind is made of.

    Examples
    --------
    >>> kind_parts("dont_know_or_not_applicable"), kind_parts("refused")
    (('dont_know', 'not_applicable'), ('refused',))
    """
    return tuple(kind.split(JOIN))


def kind_label(kind: str, lang: str = "en") -> str:
    """The label of a kind in ``lang``: the labels of its parts joined with ``" / "``.

    Examples
    --------
    >>> kind_label("dont_know_or_refused", "en"), kind_label("system", "vi")
    ("Don't know / Refused", 'Để trống')
    """
    return " / ".join(KIND_LABELS.get(k, {}).get(lang, k) for k in kind_parts(kind))


def kinds_by_code(missing: Mapping[str, Iterable[int | float]]) -> dict[int | float, str]:
    """Code -> its kind, from kind -> codes; a code under several kinds gets their combined
    kind.

    Examples
    --------
    >>> kinds_by_code({"refused": [7], "dont_know": [9], "not_applicable": [9]})
    {7: 'refused', 9: 'dont_know_or_not_applicable'}
    """
    kinds: dict[int | float, list[str]] = {}
    for kind, codes in missing.items():
        for code in codes:
            kinds.setdefault(code, []).append(kind)
    return {code: kind_name(k) for code, k in kinds.items()}
