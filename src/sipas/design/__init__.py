"""Survey designs: the one object that carries strata, clusters, weights, fpc or replicates.

:class:`Design` (linearization) and :class:`ReplicateDesign` (replicate weights) both
implement :class:`~sipas.design.protocol.SurveyDesign`, which is all that estimators and
weighting steps ask of a design; :func:`replicate` makes replicate weights from a design.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> type(sipas.replicate(d, "jkn")).__name__
'ReplicateDesign'
"""

from sipas.design.design import Design
from sipas.design.protocol import Reweighting, SurveyDesign, WeightingStep
from sipas.design.replicate import ReplicateDesign
from sipas.design.resampling import replicate
from sipas.design.stages import LonelyPSU

__all__ = ["Design", "LonelyPSU", "ReplicateDesign", "Reweighting", "SurveyDesign",
           "WeightingStep", "replicate"]
