"""Satisfaction indices: item -> factor -> overall, each with its design-based uncertainty.

An item index is a ratio of weighted sums over the item's valid answers (share in the
satisfied codes, or a mean, or a mean rescaled to [0, 1]); a factor index is a linear
combination of item indices (``aggregate="items"``) or the mean of per-respondent factor
scores (``aggregate="respondents"``); the overall index is a linear combination of factor
indices or a separately asked item. Everything is computed from one reduction of the data, so
every index in every domain gets its SE, CI, df, design effect and n from the same variance
engine, and covariances between indices are available for comparisons and PAR points.

Shares and rescaled means are in [0, 1] inside results (0.748, not 74.8); ``measure="mean"``
stays on the item scale (3.74). The report layer turns them into percentages.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> f = sipas.factor_index(d, ["q01", "q02", "q03", "q04"], satisfied=[4, 5]).to_frame()
>>> bool(0.5 < f["estimate"][0] < 1)
True
"""

from sipas.indices.factor import factor_index
from sipas.indices.satisfaction import IndexResult, satisfaction_index
from sipas.indices.scores import ItemScores, item_scores

__all__ = ["IndexResult", "ItemScores", "factor_index", "item_scores", "satisfaction_index"]
