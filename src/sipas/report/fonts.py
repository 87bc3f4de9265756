"""Fonts for charts: one whose character map has every character of the labels.

Vietnamese needs the Latin Extended Additional block (ắ, ề, ữ ...). matplotlib bundles
"DejaVu Sans", which has it, so it is the first candidate: the same font, hence the same
pixels, on every machine. :func:`choose_font` checks each candidate's character map with
``matplotlib.ft2font`` and falls back, with a warning naming the missing characters, when no
candidate covers the text.

Examples
--------
>>> choose_font(["Dữ liệu giả lập: Thạch An, Trùng Khánh"]).name
'DejaVu Sans'
>>> missing_glyphs(choose_font(["x"]).path, ["Bắc Kạn", "漢"])
('漢',)
"""

from __future__ import annotations

import functools
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib import font_manager, ft2font

__all__ = ["FONT_CANDIDATES", "FontChoice", "choose_font", "missing_glyphs"]

FONT_CANDIDATES = ("DejaVu Sans", "Noto Sans", "Arial", "Liberation Sans")


@dataclass(frozen=True)
class FontChoice:
    """The font family used, its file and the characters it lacks (empty when complete)."""

    name: str
    path: str
    missing: tuple[str, ...] = ()


@functools.lru_cache(maxsize=16)
def _charmap(path: str) -> frozenset[int]:
    return frozenset(ft2font.FT2Font(path).get_charmap())


def missing_glyphs(path: str, texts: Iterable[str]) -> tuple[str, ...]:
    """Characters of ``texts`` (NFC) that the font file at ``path`` has no glyph for."""
    chars = {c for t in texts for c in unicodedata.normalize("NFC", str(t))
             if not c.isspace() and unicodedata.category(c)[0] != "C"}
    cmap = _charmap(path)
    return tuple(sorted(c for c in chars if ord(c) not in cmap))


def choose_font(texts: Iterable[str], candidates: Sequence[str] = FONT_CANDIDATES) -> FontChoice:
    """The first candidate font that has a glyph for every character of ``texts``.

    Parameters
    ----------
    texts : iterable of str
        Every label, title and footer of a chart.
    candidates : list of str
        Font families, in order of preference.

    Returns
    -------
    FontChoice
        With ``missing`` empty, or (after a warning) the candidate missing fewest characters.
    """
    texts = list(texts)
    best: FontChoice | None = None
    for family in candidates:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family),
                                         fallback_to_default=False)
        except ValueError:
            continue
        choice = FontChoice(family, path, missing_glyphs(path, texts))
        if not choice.missing:
            return choice
        if best is None or len(choice.missing) < len(best.missing):
            best = choice
    if best is None:
        path = font_manager.findfont(font_manager.FontProperties())
        best = FontChoice("sans-serif", path, missing_glyphs(path, texts))
    warnings.warn(f"no candidate font has every character of the chart labels; using "
                  f"{best.name!r}, which lacks {''.join(best.missing)!r}. Install a font that "
                  "covers them (e.g. Noto Sans).", UserWarning, stacklevel=2)
    return best
