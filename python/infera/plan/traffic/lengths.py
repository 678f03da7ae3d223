"""Token-length distributions of prompts and outputs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Most prompt or output tokens of one request (the core's limit); longer samples are clipped to it.
MAX_TOKENS = 100_000_000


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution: ``fixed``, ``lognormal`` (median, sigma) or ``uniform``; clipped to
    ``[min, max]`` and rounded to whole tokens (at least 1)."""

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
        x = np.clip(np.rint(x), max(1.0, self.min), min(self.max, MAX_TOKENS))
        return x.astype(np.uint32)

    @property
    def upper(self) -> float:
        """The largest length this distribution can produce."""
        return self.value if self.kind == "fixed" else self.max
