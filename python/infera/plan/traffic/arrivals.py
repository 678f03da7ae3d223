"""Seeded sampling of request streams from a traffic description.

Sampling is vectorised (numpy's PCG64 generator), so a million requests take well under a second, and
deterministic: the stream depends only on the traffic block and the run's seed, drawn in a fixed order
(arrival gaps, then prompt lengths, then output lengths, then a closed loop's send delays; a mix of classes
in the order :mod:`.mix` documents).
"""

from __future__ import annotations

import zlib

import numpy as np

from infera.plan.traffic.lengths import sample_pair
from infera.plan.traffic.processes import ARRIVALS
from infera.plan.traffic.stream import Stream, TrafficSpec


def rng_for(traffic: str, seed: int) -> np.random.Generator:
    """The generator of one traffic block under one seed (independent of other blocks in the file)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(traffic.encode())])))


def sample_one(spec: TrafficSpec, rng: np.random.Generator) -> Stream:
    """One class's stream: its arrival times (the kind's sampler in :data:`.processes.ARRIVALS`), then its
    prompt and output lengths, then a closed loop's send delays."""
    arrival = ARRIVALS[spec.arrivals](spec, rng)
    n = len(arrival)
    prompt, output = sample_pair(spec.prompt, spec.output, spec.correlation, rng, n)
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
