"""Sampling a mix of traffic classes (``class`` sub-blocks, :class:`~.stream.ClassSpec`).

Shared arrivals: the block's generator draws the arrival times, then one uniform per request picks its
class by weight, then each class in order draws its requests' prompt and output lengths. Own arrivals:
each class is sampled as a traffic of its own (its generator named ``block/class``), and the streams are
merged by arrival time, stably (equal times keep class order, then each class's own order); the block's
``requests`` keeps the first N of the merged stream.
"""

from __future__ import annotations

import numpy as np

from infera.plan.traffic.arrivals import rng_for, sample_one
from infera.plan.traffic.lengths import sample_pair
from infera.plan.traffic.processes import ARRIVALS
from infera.plan.traffic.stream import Stream, TrafficSpec


def sample_mix(spec: TrafficSpec, seed: int) -> Stream:
    if spec.arrivals == "mix":
        return _superposed(spec, seed)
    rng = rng_for(spec.name, seed)
    arrival = ARRIVALS[spec.arrivals](spec, rng)
    n = len(arrival)
    w = np.asarray([c.weight for c in spec.classes], dtype=np.float64)
    klass = np.searchsorted(np.cumsum(w / w.sum())[:-1], rng.random(n), side="right").astype(np.uint32)
    prompt = np.empty(n, dtype=np.uint32)
    output = np.empty(n, dtype=np.uint32)
    for c, cl in enumerate(spec.classes):
        at = np.flatnonzero(klass == c)
        prompt[at], output[at] = sample_pair(cl.traffic.prompt, cl.traffic.output, cl.traffic.correlation, rng,
                                             len(at))
    return Stream(arrival, prompt, output, klass=klass)


def _superposed(spec: TrafficSpec, seed: int) -> Stream:
    parts = [sample_one(c.traffic, rng_for(c.traffic.name, seed)) for c in spec.classes]
    arrival = np.concatenate([p.arrival_s for p in parts])
    order = np.argsort(arrival, kind="stable")
    if spec.requests is not None:
        order = order[: spec.requests]
    klass = np.concatenate([np.full(len(p.arrival_s), c, dtype=np.uint32) for c, p in enumerate(parts)])
    return Stream(arrival[order], np.concatenate([p.prompt_tokens for p in parts])[order],
                  np.concatenate([p.output_tokens for p in parts])[order], klass=klass[order])
