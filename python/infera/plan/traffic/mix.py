"""Sampling a mix of traffic classes (``class`` sub-blocks, :class:`~.stream.ClassSpec`).

Shared arrivals: the block's generator draws the arrival times, then one uniform per request picks its
class by weight, then each class in order draws its requests' prompt and output lengths. Own arrivals:
each class is sampled as a traffic of its own (its generator named ``block/class``), and the streams are
merged by arrival time, stably (equal times keep class order, then each class's own order); the block's
``requests`` keeps the first N of the merged stream.
"""

from __future__ import annotations

import numpy as np

from infera.plan.traffic import sessions
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
    parts = [_users_as_chains(c.traffic, s) if c.traffic.arrivals == "closed" else s
             for c, s in ((c, _class_stream(c.traffic, seed)) for c in spec.classes)]
    if any(p.after is not None or p.prefix_ids is not None for p in parts):
        return _concatenated(parts)
    arrival = np.concatenate([p.arrival_s for p in parts])
    order = np.argsort(arrival, kind="stable")
    if spec.requests is not None:
        order = order[: spec.requests]
    klass = np.concatenate([np.full(len(p.arrival_s), c, dtype=np.uint32) for c, p in enumerate(parts)])
    return Stream(arrival[order], np.concatenate([p.prompt_tokens for p in parts])[order],
                  np.concatenate([p.output_tokens for p in parts])[order], klass=klass[order])


def _plain(spec: TrafficSpec, seed: int) -> Stream:
    return sample_one(spec, rng_for(spec.name, seed))


def _class_stream(spec: TrafficSpec, seed: int) -> Stream:
    """A class with arrivals of its own, sampled as a traffic of its own (its generator named
    ``block/class``), with its sessions or system prompt when it has them."""
    if spec.session is not None or spec.system_prompt is not None:
        return sessions.sample(spec, seed, _plain)
    return _plain(spec, seed)


def _concatenated(parts: list[Stream]) -> Stream:
    """The classes' streams one after another, in class order, when some have sessions or shared prompts:
    a request's dependencies and prefix segments stay its own (indices shifted by the classes before it).
    The core issues open-loop requests by their times whatever their order in the table, so nothing needs
    sorting; a request that waits has no time of its own."""
    def cat(xs: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype=dtype)

    n = [len(p.arrival_s) for p in parts]
    base = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    out = Stream(cat([p.arrival_s for p in parts], np.float64), cat([p.prompt_tokens for p in parts], np.uint32),
                 cat([p.output_tokens for p in parts], np.uint32),
                 klass=cat([np.full(k, c) for c, k in enumerate(n)], np.uint32))
    if any(p.send_delay_s is not None for p in parts):
        out.send_delay_s = cat([p.delays() for p in parts], np.float64)
    if any(p.after is not None for p in parts):
        offsets, after, think, at = [np.zeros(1, dtype=np.int64)], [], [], 0
        for p, b, k in zip(parts, base, n):
            if p.after is None or p.after_offsets is None or p.think_s is None:
                offsets.append(np.full(k, at, dtype=np.int64))
                think.append(np.zeros(k))
                continue
            offsets.append(p.after_offsets[1:].astype(np.int64) + at)
            after.append(p.after.astype(np.int64) + b)
            think.append(p.think_s)
            at += len(p.after)
        out.after_offsets, out.after = np.concatenate(offsets), cat(after, np.uint32)
        out.think_s = cat(think, np.float64)
    if any(p.prefix_ids is not None for p in parts):
        offsets, ids, tokens, outs, at = [np.zeros(1, dtype=np.int64)], [], [], [], 0
        for p, k in zip(parts, n):
            if p.prefix_ids is None or p.prefix_offsets is None or p.prefix_tokens is None:
                offsets.append(np.full(k, at, dtype=np.int64))
                outs.append(np.zeros(k, dtype=np.uint64))
                continue
            offsets.append(p.prefix_offsets[1:].astype(np.int64) + at)
            ids.append(p.prefix_ids)
            tokens.append(p.prefix_tokens)
            outs.append(np.zeros(k, dtype=np.uint64) if p.output_prefix_id is None else p.output_prefix_id)
            at += len(p.prefix_ids)
        out.prefix_offsets = np.concatenate(offsets)
        out.prefix_ids, out.prefix_tokens = cat(ids, np.uint64), cat(tokens, np.uint32)
        out.output_prefix_id = cat(outs, np.uint64)
    return out


def _users_as_chains(spec: TrafficSpec, s: Stream) -> Stream:
    """A closed-loop class as request dependencies, so it can share a workload with other classes: user u
    sends requests u, u + users, u + 2 users, ..., each its think time and client delay after the one before
    it left; the first ``users`` arrive at their ramp-up offsets plus client delay. Lengths are drawn
    independently per request, so which user sends which request does not change what the users send, but
    unlike the plain closed loop a request turned away ends its user's loop (docs/dsl.md)."""
    n = len(s.arrival_s)
    users = min(spec.users, n)
    delay = s.delays()
    arrival = np.full(n, np.nan)
    arrival[:users] = delay[:users]
    waits = np.arange(n) >= users
    offsets = np.concatenate([[0], np.cumsum(waits)]).astype(np.int64)
    think = np.where(waits, spec.think_time_s + delay, 0.0)
    return Stream(arrival, s.prompt_tokens, s.output_tokens, after_offsets=offsets,
                  after=(np.flatnonzero(waits) - users).astype(np.uint32), think_s=think)
