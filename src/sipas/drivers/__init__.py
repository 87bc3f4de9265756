"""Key-driver analysis: what drives overall satisfaction, as design-based standardised
coefficients, relative importance that adds up to R² (Shapley/LMG or Johnson's relative
weights), impact scores and the importance-performance matrix, with intervals from
replicates.

Examples
--------
>>> import sipas
>>> sd = sipas.datasets.load_demo()
>>> d = sipas.Design.from_spec(sd).subset(sd.frame["response"] == 1)
>>> sipas.drivers(d, "q23", ["access"], spec=sd.spec, replicates=20, rng=1).drivers
('access',)
"""

from sipas.drivers.keydrivers import Importance, drivers
from sipas.drivers.result import DriverResult

__all__ = ["DriverResult", "Importance", "drivers"]
