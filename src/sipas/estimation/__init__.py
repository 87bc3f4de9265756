"""Design-based estimators and their result: mean, total, proportion, ratio, quantile,
linear and nonlinear contrasts, all returning an :class:`Estimate` built by one builder.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> sipas.mean(d, "p03").statistic
'mean'
"""

from sipas.estimation.contrast import contrast
from sipas.estimation.estimate import Estimate
from sipas.estimation.estimators import mean, proportion, ratio, total
from sipas.estimation.nonlinear import nonlinear_contrast
from sipas.estimation.quantiles import quantile

__all__ = ["Estimate", "contrast", "mean", "nonlinear_contrast", "proportion", "quantile",
           "ratio", "total"]
