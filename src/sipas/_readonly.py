"""Results that hand out copies of their tables, so they cannot be changed through them.

Examples
--------
>>> from dataclasses import dataclass
>>> import pandas as pd
>>> @dataclass(frozen=True)
... class Result(CopiedFrames):
...     table: pd.DataFrame
...     _frames = frozenset({"table"})
>>> r = Result(pd.DataFrame({"x": [1.0]}))
>>> r.table.loc[0, "x"] = -1.0
>>> float(r.table.loc[0, "x"])
1.0
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["CopiedFrames"]


class CopiedFrames:
    """Mixin for frozen dataclasses: the fields named in ``_frames`` are stored as copies of
    what the constructor was given and read as copies.

    Examples
    --------
    >>> CopiedFrames._frames
    frozenset()
    """

    _frames: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for name in type(self)._frames:
            object.__setattr__(self, name, object.__getattribute__(self, name).copy())

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in type(self)._frames:
            return value.copy()
        return value
