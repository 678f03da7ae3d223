"""Serving-stack profiles: the defaults a pool takes from the stack it imitates (``stack = vllm``).

Each profile (one module here, one entry in :data:`STACKS`) is what that stack's server does when launched
with only a model and its parallelism flags, for the version it names, with the source of every value. A pool
may override any of them. Without ``stack`` a pool keeps infera's generic defaults (``specs.DEFAULT_*``), under
which every step is priced as a captured graph. docs/stacks.md explains each field and its effect.
"""

from __future__ import annotations

import dataclasses

from infera.plan.stacks import sglang, trtllm, vllm
from infera.plan.stacks.profile import FIELDS, Stack
from infera.plan.specs import ChipSpec, PoolSpec

STACKS: dict[str, Stack] = {s.PROFILE.name: s.PROFILE for s in (vllm, sglang, trtllm)}

_GIB = 2.0**30


def apply(pool: PoolSpec, chip: ChipSpec) -> PoolSpec:
    """``pool`` with every field its block left unset taken from its stack's defaults on ``chip``."""
    if not pool.stack:
        return pool
    defaults = STACKS[pool.stack].defaults(chip.memory_bytes / _GIB, pool.tp, pool.dp_attention)
    return dataclasses.replace(pool, **{f: v for f, v in defaults.items() if f not in pool.stack_given})


__all__ = ["FIELDS", "STACKS", "Stack", "apply"]
