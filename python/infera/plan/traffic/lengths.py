"""Token-length distributions of prompts and outputs.

Every distribution draws its marginal sample with :meth:`sample` and, for an output length drawn
conditional on the prompt (a Gaussian copula, :func:`sample_pair`), maps standard normal draws to lengths
with the same marginal through :meth:`from_normal`. Each is clipped to ``[min, max]`` and rounded to whole
tokens (at least 1).
The original three kinds (``fixed``, ``lognormal``, ``uniform``) keep their exact draws, so streams sampled
before the others existed are bit-identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Most prompt or output tokens of one request (the core's limit); longer samples are clipped to it.
MAX_TOKENS = 100_000_000


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF, vectorised: erfc by the Chebyshev fit of Numerical Recipes (Press et al.,
    2nd ed., section 6.2, fractional error below 1.2e-7 everywhere), which numpy lacks."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(-x * x + poly)
    return np.where(z >= 0, 1.0 - 0.5 * erfc, 0.5 * erfc)


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution: ``fixed``, ``lognormal`` (median, sigma) or ``uniform``; clipped to
    ``[min, max]`` and rounded to whole tokens (at least 1). The other kinds are subclasses."""

    kind: str
    value: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    min: float = 1.0
    max: float = math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            x = np.full(n, self.value, dtype=np.float64)
        elif self.kind == "lognormal":
            with np.errstate(over="ignore"):  # a huge median or sigma overflows to inf, clipped below
                x = np.exp(math.log(self.median) + self.sigma * rng.standard_normal(n))
        else:  # uniform
            x = rng.integers(int(self.min), int(self.max), size=n, endpoint=True).astype(np.float64)
        return self.clip(x)

    def from_normal(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Lengths with this distribution, one per standard normal draw in ``z`` and increasing in it: the
        distribution's quantile at the normal's CDF (``rng`` serves the kinds that need more draws)."""
        if self.kind == "fixed":
            x = np.full(len(z), self.value, dtype=np.float64)
        elif self.kind == "lognormal":
            with np.errstate(over="ignore"):
                x = np.exp(math.log(self.median) + self.sigma * z)
        else:
            lo, hi = int(self.min), int(self.max)
            x = np.minimum(lo + np.floor(normal_cdf(z) * (hi - lo + 1)), hi)
        return self.clip(x)

    def clip(self, x: np.ndarray) -> np.ndarray:
        x = np.clip(np.rint(x), max(1.0, self.min), min(self.max, MAX_TOKENS))
        return x.astype(np.uint32)

    @property
    def upper(self) -> float:
        """The largest length this distribution can produce."""
        return self.value if self.kind == "fixed" else self.max


@dataclass(frozen=True)
class Normal(LengthDist):
    """``normal(mean, sd)``: a Gaussian, clipped (so at least 1 token)."""

    mean: float = 0.0
    sd: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.clip(self.mean + self.sd * rng.standard_normal(n))

    def from_normal(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.clip(self.mean + self.sd * z)


@dataclass(frozen=True)
class Zipf(LengthDist):
    """``zipf(s, min, max)``: P(k) proportional to k^-s on the whole numbers ``min..max`` (bounded, so any
    exponent s > 0 is a distribution), drawn by inverting its cumulative weights."""

    s: float = 1.0

    def _cdf(self) -> np.ndarray:
        k = np.arange(int(self.min), int(self.max) + 1, dtype=np.float64)
        w = np.cumsum(k ** -self.s)
        return w / w[-1]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._at(rng.random(n))

    def from_normal(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._at(normal_cdf(z))

    def _at(self, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self._cdf(), u, side="right")
        return self.clip(int(self.min) + np.minimum(idx, int(self.max) - int(self.min)).astype(np.float64))


@dataclass(frozen=True)
class Empirical(LengthDist):
    """``empirical("file.csv", column = "x")``: the lengths of one column of a file, each equally likely."""

    values: np.ndarray = field(default_factory=lambda: np.ones(1))
    source: str = ""
    #: An output length drawn from the same row as the prompt's (a joint empirical table; the prompt is an
    #: empirical column of the same file, checked at compile time).
    paired: bool = False

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.clip(self.values[rng.integers(0, len(self.values), size=n)])

    def from_normal(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = normal_cdf(z)
        ordered = np.sort(self.values)
        idx = np.minimum((u * len(ordered)).astype(np.int64), len(ordered) - 1)
        return self.clip(ordered[idx])

    @property
    def upper(self) -> float:
        return float(min(self.max, self.values.max()))


@dataclass(frozen=True)
class Mixture(LengthDist):
    """``mixture(weights = [...], of = [...])``: each request's length comes from one component, picked
    with the (normalised) weights; the components' own clipping applies, then the mixture's."""

    weights: tuple[float, ...] = ()
    parts: tuple[LengthDist, ...] = ()

    def _pick(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = np.asarray(self.weights, dtype=np.float64)
        return np.searchsorted(np.cumsum(p / p.sum())[:-1], rng.random(n), side="right")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        which = self._pick(rng, n)
        x = np.empty(n, dtype=np.float64)
        for c, part in enumerate(self.parts):
            at = np.flatnonzero(which == c)
            x[at] = part.sample(rng, len(at))
        return self.clip(x)

    def from_normal(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Correlated draws of a mixture: the component is picked by weight (one uniform draw each, as in
        :meth:`sample`), and the length is that component's own transform of ``z``; the marginal is exactly
        the mixture, and within each component longer prompts go with longer outputs."""
        which = self._pick(rng, len(z))
        x = np.empty(len(z), dtype=np.float64)
        for c, part in enumerate(self.parts):
            at = np.flatnonzero(which == c)
            x[at] = part.from_normal(z[at], rng)
        return self.clip(x)

    @property
    def upper(self) -> float:
        return min(self.max, max(p.upper for p in self.parts))


def sample_pair(prompt: LengthDist, output: LengthDist, rho: float | None, rng: np.random.Generator,
                n: int) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output lengths of ``n`` requests. Without ``rho`` the two are independent (prompts drawn
    first). With it they are joined by a Gaussian copula: each request's two standard normals have
    correlation ``rho``, and each length is its distribution's quantile at the normal's CDF, so the marginals
    are exactly the two distributions and longer prompts go with longer outputs when ``rho`` > 0."""
    if isinstance(output, Empirical) and output.paired:
        assert isinstance(prompt, Empirical) and len(prompt.values) == len(output.values)
        # The same integers the prompt alone would draw, so pairing leaves the prompts as they were.
        rows = rng.integers(0, len(prompt.values), size=n)
        return prompt.clip(prompt.values[rows]), output.clip(output.values[rows])
    if rho is None:
        return prompt.sample(rng, n), output.sample(rng, n)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(max(0.0, 1.0 - rho * rho)) * rng.standard_normal(n)
    return prompt.from_normal(z1, rng), output.from_normal(z2, rng)
