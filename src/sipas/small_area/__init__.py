"""Small-area estimates: the Fay–Herriot area-level model on sipas's direct estimates."""

from __future__ import annotations

from sipas.small_area.fay_herriot import FayHerriot, fay_herriot

__all__ = ["FayHerriot", "fay_herriot"]
