"""Small-area estimates: the Fay–Herriot area-level model on sipas's direct estimates."""

from __future__ import annotations

from sipas.small_area.fay_herriot import FayHerriot, fay_herriot
from sipas.small_area.smoothing import smooth_variances
from sipas.small_area.workflow import AreaEstimates, area_estimates

__all__ = ["AreaEstimates", "FayHerriot", "area_estimates", "fay_herriot", "smooth_variances"]
