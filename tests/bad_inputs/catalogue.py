"""The case type of the bad-input catalogue and the one check every case goes through.

A case passes when its builder, run in a fresh temporary folder, finishes within its time
limit and either raises exactly the expected :class:`sipas.SipasError` subclass with a
one-line message that contains every expected word (and no numpy reprs such as
``np.float64(5.0)``), or, for a case whose bad input must be handled without an error
(``error=None``), returns normally after its own assertions.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sipas.errors import SipasError

__all__ = ["AREAS", "Case", "all_cases", "check", "outcome", "params"]

#: the areas, in the order of the docs page, and the module that holds each area's cases
AREAS = {"reading": "test_reading", "spec": "test_spec", "design": "test_design",
         "weighting": "test_weighting", "indices": "test_indices", "PAR": "test_par",
         "pipeline": "test_pipeline", "tables": "test_tables", "units": "test_units",
         "drivers": "test_drivers"}
DEFAULT_SECONDS = 60.0
NUMPY_REPR = re.compile(r"\bnp\.(?:float|int|uint|bool|str)\w*\(")


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes
    ----------
    area : str
        One of :data:`AREAS`.
    id : str
        Short unique name (the pytest id and the anchor in the docs page).
    case : str
        What is wrong with the input, in a few words.
    build : callable
        ``build(tmp_path)`` makes the bad input and hands it to sipas. For ``error=None``
        it asserts the outcome itself and returns a short description of it.
    error : type or None
        The exact :class:`SipasError` subclass expected (``None``: no error).
    words : tuple of str
        Words the message must contain.
    xfail : str or None
        Why the case fails today (a known bug in a module this catalogue may not change).
    seconds : float
        Time limit: the builder must finish within it (no hang).
    """

    area: str
    id: str
    case: str
    build: Callable[[Path], Any]
    error: type[SipasError] | None
    words: tuple[str, ...] = ()
    xfail: str | None = None
    seconds: float = DEFAULT_SECONDS


def outcome(case: Case, tmp_path: Path) -> tuple[BaseException | None, Any]:
    """Run the builder in a daemon thread; return (exception or None, return value).

    A builder that does not finish within ``case.seconds`` fails the test instead of
    hanging the run.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = case.build(tmp_path)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"bad-input-{case.id}", daemon=True)
    thread.start()
    thread.join(case.seconds)
    if thread.is_alive():
        pytest.fail(f"{case.id}: did not finish within {case.seconds:g} s (a hang?)")
    return box.get("error"), box.get("result")


def check(case: Case, tmp_path: Path) -> None:
    """The assertions every case goes through (see the module docstring)."""
    error, result = outcome(case, tmp_path)
    if case.error is None:
        if error is not None:
            raise error
        return
    if error is None:
        pytest.fail(f"{case.id}: no error; expected {case.error.__name__}. Got {result!r:.300}")
    if not isinstance(error, SipasError):
        raise error  # a bare third-party traceback: show it
    text = str(error)
    assert type(error) is case.error, (
        f"{case.id}: expected {case.error.__name__}, got {type(error).__name__}: {text}")
    missing = [w for w in case.words if w not in text]
    assert not missing, f"{case.id}: {missing} not in the message: {text}"
    assert "\n" not in text and "Traceback" not in text, f"{case.id}: multi-line: {text}"
    assert not NUMPY_REPR.search(text), f"{case.id}: numpy repr in the message: {text}"


def params(cases: Iterable[Case]) -> list[Any]:
    """``pytest.param`` per case, marked ``xfail(strict=True)`` where the case says so."""
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def all_cases() -> list[Case]:
    """Every case of every area, in the order of :data:`AREAS`."""
    cases = []
    for area, module in AREAS.items():
        mod = importlib.import_module(f"bad_inputs.{module}")
        assert all(c.area == area for c in mod.CASES), f"{module}: a case of another area"
        cases += mod.CASES
    return cases
