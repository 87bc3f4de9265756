"""The error families of a generalised linear model, with their canonical links.

Each family says how the mean depends on the linear predictor (the inverse link and its
derivative), how the variance depends on the mean, which responses it accepts, where the
iterations start (as R's ``family$initialize``) and the deviance. The quasi families have the
same estimating equations as their parents, so the same coefficients and design-based SEs.

Examples
--------
>>> import numpy as np
>>> fam = FAMILIES["binomial"]
>>> fam.linkinv(np.array([0.0])).tolist(), fam.variance(np.array([0.5])).tolist()
([0.5], [0.25])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from sipas.errors import EstimationError

__all__ = ["FAMILIES", "Family", "FamilyName"]

FamilyName = Literal["gaussian", "binomial", "quasibinomial", "poisson", "quasipoisson"]


@dataclass(frozen=True)
class Family:
    """An error family with its canonical link (``identity``, ``logit``, ``log``).

    Attributes
    ----------
    name : str
        As R names it.
    link : str
        The link function.
    """

    name: str
    link: str

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """The mean from the linear predictor."""
        if self.link == "identity":
            return eta
        if self.link == "logit":
            return _expit(eta)
        return np.exp(eta)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """d mean / d eta."""
        if self.link == "identity":
            return np.ones_like(eta)
        if self.link == "logit":
            p = _expit(eta)
            return np.maximum(p * (1 - p), np.finfo(float).eps)
        return np.maximum(np.exp(eta), np.finfo(float).eps)

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """The linear predictor from the mean."""
        if self.link == "identity":
            return mu
        if self.link == "logit":
            return special.logit(mu)
        return np.log(mu)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """The variance function V(mu)."""
        if self.link == "identity":
            return np.ones_like(mu)
        tiny = np.finfo(float).tiny
        if self.link == "logit":
            return np.maximum(mu * (1 - mu), tiny)
        return np.maximum(mu, tiny)

    def start(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Starting means, as R's ``family$initialize`` (binomial: (w y + 1/2)/(w + 1))."""
        if self.link == "identity":
            return y.copy()
        if self.link == "logit":
            return (w * y + 0.5) / (w + 1)
        return y + 0.1

    def deviance(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
        """The (weighted) deviance."""
        if self.link == "identity":
            return float(w @ (y - mu) ** 2)
        if self.link == "logit":
            dev = _ylog(y, mu) + _ylog(1 - y, 1 - mu)
            dev = np.where(w > 0, dev, 0.0)
            return float(2 * w @ dev)
        return float(2 * w @ (_ylog(y, mu) - (y - mu)))

    def check(self, y: np.ndarray, response: str) -> None:
        """Refuse responses outside the family's range (named, with what to do)."""
        if self.link == "logit" and (np.any(y < 0) or np.any(y > 1)):
            bad = y[(y < 0) | (y > 1)]
            raise EstimationError(
                f"response {response!r} must be in [0, 1] for family {self.name!r} (a 0/1 "
                f"indicator or a proportion); got values such as {bad[:5].tolist()}. Code "
                "the event as 1 and the rest as 0, e.g. 'I(q1 >= 4) ~ ...' or a 0/1 column.")
        if self.link == "log" and np.any(y < 0):
            bad = y[y < 0]
            raise EstimationError(
                f"response {response!r} must be a count or rate >= 0 for family "
                f"{self.name!r}; got values such as {bad[:5].tolist()}. Use "
                "family='gaussian' for a response that can be negative.")


def _expit(eta: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-eta))`` (scipy's ``expit``, with numpy's vectorised ``exp``)."""
    return 1.0 / (1.0 + np.exp(-eta))


def _ylog(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y log(y / mu)``, zero where ``y`` is zero (scipy's ``xlogy(y, y / mu)``, with numpy's
    vectorised ``log``)."""
    # where y = 0 the ratio is 1 / mu, finite (mu >= tiny), and its log is multiplied by 0
    ratio = (y + (y == 0)) / np.maximum(mu, np.finfo(float).tiny)
    return y * np.log(ratio)


FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", "identity"),
    "binomial": Family("binomial", "logit"),
    "quasibinomial": Family("quasibinomial", "logit"),
    "poisson": Family("poisson", "log"),
    "quasipoisson": Family("quasipoisson", "log"),
}
