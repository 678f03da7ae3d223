"""Seeded sampling of request streams from a traffic description.

Sampling is vectorised (numpy's PCG64 generator), so a million requests take well under a second, and
deterministic: the stream depends only on the traffic block and the run's seed, drawn in a fixed order
(arrival gaps, then prompt lengths, then output lengths).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np


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
            x = np.exp(math.log(self.median) + self.sigma * rng.standard_normal(n))
        elif self.kind == "uniform":
            x = rng.integers(int(self.min), int(self.max), size=n, endpoint=True).astype(np.float64)
        else:  # pragma: no cover - the compiler only builds the kinds above
            raise ValueError(self.kind)
        x = np.clip(np.rint(x), max(1.0, self.min), self.max)
        return x.astype(np.uint32)

    @property
    def upper(self) -> float:
        """The largest length this distribution can produce."""
        return self.value if self.kind == "fixed" else self.max


@dataclass(frozen=True)
class TrafficSpec:
    """A compiled ``traffic`` block."""

    name: str
    arrivals: str  # poisson | burst | closed
    rate: float = 0.0
    users: int = 0
    think_time_s: float = 0.0
    requests: int | None = None
    duration_s: float | None = None
    prompt: LengthDist = LengthDist("fixed", value=1)
    output: LengthDist = LengthDist("fixed", value=1)


@dataclass
class Stream:
    arrival_s: np.ndarray  # NaN for closed-loop streams (the engine sets arrivals)
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray


def rng_for(traffic: str, seed: int) -> np.random.Generator:
    """The generator of one traffic block under one seed (independent of other blocks in the file)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(traffic.encode())])))


def sample(spec: TrafficSpec, seed: int) -> Stream:
    rng = rng_for(spec.name, seed)
    if spec.arrivals == "poisson":
        if spec.requests is not None:
            gaps = rng.exponential(1.0 / spec.rate, spec.requests)
            arrival = np.cumsum(gaps)
            if spec.duration_s is not None:
                arrival = arrival[arrival < spec.duration_s]
        else:
            assert spec.duration_s is not None
            # Draw in blocks until the stream passes the duration, so the result does not depend on a guess.
            chunks, t = [], 0.0
            expected = int(spec.rate * spec.duration_s * 1.1) + 16
            while t < spec.duration_s:
                block = t + np.cumsum(rng.exponential(1.0 / spec.rate, expected))
                chunks.append(block)
                t = float(block[-1])
            arrival = np.concatenate(chunks)
            arrival = arrival[arrival < spec.duration_s]
    elif spec.arrivals == "burst":
        assert spec.requests is not None
        arrival = np.zeros(spec.requests)
    else:  # closed loop: the engine issues requests as users finish
        assert spec.requests is not None
        arrival = np.full(spec.requests, np.nan)
    n = len(arrival)
    prompt = spec.prompt.sample(rng, n)
    output = spec.output.sample(rng, n)
    return Stream(arrival, prompt, output)
