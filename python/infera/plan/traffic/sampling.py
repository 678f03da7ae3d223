"""The stream of a compiled traffic block: replayed, a mix of classes (:mod:`.mix`), sessions or shared
system prompts (:mod:`.sessions`), or one process's arrivals and lengths (:mod:`.arrivals`)."""

from __future__ import annotations

from infera.plan.traffic import sessions
from infera.plan.traffic.arrivals import rng_for, sample_one
from infera.plan.traffic.mix import sample_mix
from infera.plan.traffic.stream import Stream, TrafficSpec


def sample(spec: TrafficSpec, seed: int) -> Stream:
    if spec.trace is not None:
        return spec.trace
    if spec.classes:
        return sample_mix(spec, seed)
    if spec.session is not None or spec.system_prompt is not None:
        return sessions.sample(spec, seed, sample)
    return sample_one(spec, rng_for(spec.name, seed))
