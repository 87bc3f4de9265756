"""Calibrated unit totals kept as their parts: ``base - loads @ coef``.

After calibration (raking, post-stratification, GREG) the influence totals of k estimates are
``t0 - G C``: the uncalibrated totals ``t0`` less the unit loadings ``G`` (units x L, one
column per calibration level) times their coefficients ``C`` (L x k). The product is dense —
every unit has a value for every estimate — which for an element design by many domains is
rows x estimates numbers. Kept apart, a variance is
``V(t0) - 2 diag(Cov(t0, G) C) + diag(C' V(G) C)`` (the multistage variance is a quadratic
form), and linear maps act on ``t0`` and ``C`` only.

Examples
--------
>>> import numpy as np
>>> t = Calibrated(np.array([[1.0], [3.0]]), np.ones((2, 1)), np.array([[2.0]]))
>>> t.shape, t.toarray().ravel().tolist()
((2, 1), [-1.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sipas.engine.domainrows import DomainRows

__all__ = ["Calibrated"]


@dataclass(frozen=True, eq=False)
class Calibrated:
    """Unit totals ``base - loads @ coef``.

    Attributes
    ----------
    base : numpy.ndarray, scipy.sparse.csr_matrix or DomainRows
        (units x k) uncalibrated unit totals.
    loads : numpy.ndarray or scipy.sparse.csr_matrix
        (units x L) unit loadings of the calibration levels.
    coef : numpy.ndarray
        (L x k) their coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> t = Calibrated(np.eye(2), np.ones((2, 1)), np.array([[0.5, 0.5]]))
    >>> t.toarray().tolist()
    [[0.5, -0.5], [-0.5, 0.5]]
    """

    base: np.ndarray | sparse.csr_matrix | DomainRows
    loads: np.ndarray | sparse.csr_matrix
    coef: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(units, estimates)."""
        return self.base.shape[0], self.coef.shape[1]

    @property
    def data(self) -> np.ndarray:
        """The coefficients (the part that is read-only with the basis)."""
        return self.coef

    def toarray(self) -> np.ndarray:
        """The dense (units x k) totals.

        Examples
        --------
        >>> import numpy as np
        >>> Calibrated(np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1))).toarray().tolist()
        [[-1.0]]
        """
        base = self.base if isinstance(self.base, np.ndarray) else self.base.toarray()
        return np.asarray(base - self.loads @ self.coef)

    def times(self, weights: np.ndarray) -> np.ndarray:
        """``self @ weights`` for a vector or a narrow (k x q) matrix, as a dense array.

        Examples
        --------
        >>> import numpy as np
        >>> t = Calibrated(np.eye(2), np.ones((2, 1)), np.array([[0.5, 0.5]]))
        >>> t.times(np.array([1.0, -1.0])).tolist()
        [1.0, -1.0]
        """
        base = self.base.tocsr() if isinstance(self.base, DomainRows) else self.base
        return np.asarray(base @ weights - self.loads @ (self.coef @ weights))
