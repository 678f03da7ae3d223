"""Chained prefix identities: an id that stands for a whole prefix, so equal ids mean equal prefixes.

Traces and sessions name each segment of a prompt (a 512-token block of a Mooncake trace, a system prompt, a
turn of a conversation). A segment's name says nothing about what came before it, so the identity of
segment j is mixed from the identity of segment j - 1 and segment j's name: two prompts share their first j
segments exactly when their j-th chained ids are equal (up to 64-bit hash collisions).
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(prev: np.ndarray, name: np.ndarray) -> np.ndarray:
    """The chained id of a segment called ``name`` after the prefix ``prev`` (splitmix64 finaliser); never 0,
    which stands for "no segment"."""
    with np.errstate(over="ignore"):
        z = (prev * _GOLDEN) ^ (name + _GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return np.where(z == 0, np.uint64(1), z)


def chain(offsets: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Chained ids of every request's segments, given each request's segment names in CSR form
    (``names[offsets[i]:offsets[i + 1]]``). Vectorised over requests, one pass per segment position."""
    offsets = np.asarray(offsets, dtype=np.int64)
    names = np.asarray(names, dtype=np.uint64)
    out = np.empty_like(names)
    counts = np.diff(offsets)
    if len(names) == 0:
        return out
    starts = offsets[:-1]
    prev = np.zeros(len(counts), dtype=np.uint64)
    for j in range(int(counts.max())):
        live = np.flatnonzero(counts > j)
        at = starts[live] + j
        prev[live] = mix(prev[live], names[at])
        out[at] = prev[live]
    return out
