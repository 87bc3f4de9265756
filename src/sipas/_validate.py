"""Argument checks shared by every layer: one wording for every message.

The wording is ``"{name} must be {expectation}; got {value!r}."`` followed by a hint.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from sipas.errors import DesignError, SipasError

T = TypeVar("T")


def plain(value: Any) -> Any:
    """A value as a message shows it: numpy scalars as Python values, integral floats as ints.

    >>> import numpy as np
    >>> [plain(np.float64(5.0)), plain(np.int64(2)), plain(0.5), plain("a")]
    [5, 2, 0.5, 'a']
    """
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and \
            getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def message(name: str, expectation: str, value: Any, hint: str = "") -> str:
    """Build the house error message.

    >>> message("level", "in (0, 1)", 95, "Use 0.95 for a 95% interval.")
    'level must be in (0, 1); got 95. Use 0.95 for a 95% interval.'
    """
    text = f"{name} must be {expectation}; got {value!r}."
    return f"{text} {hint}" if hint else text


def check_choice(
    name: str, value: T, allowed: Iterable[T], error: type[SipasError] = DesignError
) -> T:
    """Return ``value`` if it is one of ``allowed``, else raise ``error`` listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise error(message(name, f"one of {listed}", value))
    return value


def check_level(level: float) -> float:
    """Check a confidence level in (0, 1)."""
    if not isinstance(level, (int, float)) or not 0 < float(level) < 1:
        raise DesignError(message("level", "a number in (0, 1)", level,
                                  "Use 0.95 for a 95% interval."))
    return float(level)


def check_df(df: float | None) -> float | None:
    """Check a degrees-of-freedom override (``None`` = the design's, ``math.inf`` = normal)."""
    if df is None:
        return None
    if not isinstance(df, (int, float)) or math.isnan(df) or df <= 0:
        raise DesignError(message("df", "a positive number, math.inf or None", df))
    return float(df)


def generator(rng: Any, error: type[SipasError] = DesignError,
              name: str = "rng") -> np.random.Generator:
    """A numpy random generator from a seed (a non-negative integer), a generator or None.

    >>> int(generator(1).integers(10)) == int(generator(1).integers(10))
    True
    >>> generator(-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    sipas.errors.DesignError: rng must be a non-negative integer seed, ...; got -1.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer))
                            or rng < 0):
        raise error(message(name, "a non-negative integer seed, a numpy Generator or None",
                            plain(rng)))
    return np.random.default_rng(rng)


def _fold(name: str) -> str:
    return "".join(name.casefold().split()).replace("_", "")


def as_name_list(name: str, value: str | Sequence[str] | None) -> list[str]:
    """Normalise ``None``, one column name or a list of names to a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DesignError(message(name, "a column name or a list of column names", value))


def require_columns(frame_columns: Iterable[str], names: Iterable[str], role: str,
                    error: type[SipasError] = DesignError, where: str = "the data") -> None:
    """Raise ``error`` naming every column of ``names`` missing from ``frame_columns``."""
    present = set(frame_columns)
    missing = [n for n in names if n not in present]
    if missing:
        close = sorted(present)[:12]
        hint = did_you_mean(missing, present)
        raise error(
            f"{role} column(s) {missing} not found in {where}. "
            f"Available columns include: {close}{' ...' if len(present) > 12 else ''}"
            f"{'.' + hint if hint else ''}"
        )


def did_you_mean(missing: Iterable[str], present: Iterable[str]) -> str:
    """A hint naming, for each missing column, the present one it most resembles ("" if
    none is close): a misspelling, another case, a space inside the name.

    >>> did_you_mean(["distrct", "zzz"], ["district", "commune"])
    " Did you mean 'district' (for 'distrct')?"
    """
    present = [str(p) for p in present]
    folded = {_fold(p): p for p in present}
    pairs = []
    for name in missing:
        same = folded.get(_fold(str(name)))
        close = [same] if same else difflib.get_close_matches(str(name), present, n=1,
                                                               cutoff=0.75)
        if close:
            pairs.append(f"{close[0]!r} (for {name!r})")
    return f" Did you mean {', '.join(pairs)}?" if pairs else ""


def deprecated_alias(old_name: str, old_value: Any, new_name: str, new_value: T,
                     default: T) -> T:
    """The value of an argument that has an old spelling kept for one release.

    Returns ``new_value`` unless the old spelling was given: then warns
    (:class:`DeprecationWarning`, pointing at the caller's caller) and returns
    ``old_value``. Giving both is refused.

    >>> deprecated_alias("method", None, "ci", "wald", default="logit")
    'wald'
    """
    if old_value is None:
        return new_value
    if new_value != default:
        raise DesignError(f"give {new_name}= only ({old_name}= is its old spelling).")
    warnings.warn(f"{old_name}= is deprecated; use {new_name}= (same values).",
                  DeprecationWarning, stacklevel=3)
    return old_value
