"""Models on a survey design: generalised linear models (R ``svyglm``), Wald and working
likelihood-ratio tests of terms (R ``regTermTest``), predictive margins (R ``svypredmeans``)
and the proportional-odds model (R ``svyolr``), all with design-based standard errors.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> sipas.glm(d, "p03 ~ p01").terms
('(Intercept)', 'p01')
"""

from sipas.models.glm import glm
from sipas.models.margins import margins
from sipas.models.ordinal import ordinal
from sipas.models.result import ModelResult, ModelSummary
from sipas.models.wald import TermTest, wald_test

__all__ = ["ModelResult", "ModelSummary", "TermTest", "glm", "margins", "ordinal", "wald_test"]
