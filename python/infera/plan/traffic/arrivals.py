"""Seeded sampling of request streams from a traffic description.

Sampling is vectorised (numpy's PCG64 generator), so a million requests take well under a second, and
deterministic: the stream depends only on the traffic block and the run's seed, drawn in a fixed order
(arrival gaps, then prompt lengths, then output lengths, then a closed loop's send delays).
"""

from __future__ import annotations

import zlib

import numpy as np

from infera.plan.traffic import sessions
from infera.plan.traffic.stream import Stream, TrafficSpec


def rng_for(traffic: str, seed: int) -> np.random.Generator:
    """The generator of one traffic block under one seed (independent of other blocks in the file)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(traffic.encode())])))


def sample(spec: TrafficSpec, seed: int) -> Stream:
    if spec.trace is not None:
        return spec.trace
    if spec.session is not None or spec.system_prompt is not None:
        return sessions.sample(spec, seed, sample)
    rng = rng_for(spec.name, seed)
    if spec.arrivals == "poisson":
        if spec.requests is not None:
            arrival = poisson_arrivals(rng.standard_exponential(spec.requests), spec.rate)
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
    delay = closed_loop_delays(spec, rng, n) if spec.arrivals == "closed" else None
    return Stream(arrival, prompt, output, delay)


def closed_loop_delays(spec: TrafficSpec, rng: np.random.Generator, n: int) -> np.ndarray | None:
    """Each closed-loop request's send delay: user ``u`` (who sends request ``u`` first) starts at
    ``u / users`` of the ramp-up, and every request waits an exponential client delay of mean ``jitter``.
    ``None`` when both are zero, so such a stream draws nothing more than it did before either existed."""
    if spec.ramp_up_s == 0.0 and spec.jitter_s == 0.0:
        return None
    delay = rng.standard_exponential(n) * spec.jitter_s
    first = min(spec.users, n)
    delay[:first] += np.arange(first) * (spec.ramp_up_s / max(spec.users, 1))
    return delay


def poisson_arrivals(unit_gaps: np.ndarray, rate: float) -> np.ndarray:
    """Arrival times at ``rate`` from the gaps of the same stream at rate 1 (standard exponential draws).

    Numpy's ``exponential(1 / rate)`` is ``1 / rate`` times its standard draw, so this is bit for bit the
    stream drawn at ``rate`` directly; a rate search keeps the unit gaps and only rescales them.
    """
    return np.cumsum(unit_gaps * (1.0 / rate))


def unit_gaps(spec: TrafficSpec, seed: int) -> np.ndarray | None:
    """The rate-1 gaps of a Poisson stream whose requests, apart from their spacing, do not depend on the
    rate (a fixed count and no duration), drawn as :func:`sample` draws them; ``None`` for any other stream
    (with a duration, the rate decides how many requests arrive in time and so what is drawn after)."""
    if (spec.arrivals != "poisson" or spec.requests is None or spec.duration_s is not None
            or spec.session is not None or spec.system_prompt is not None):
        return None
    return rng_for(spec.name, seed).standard_exponential(spec.requests)
