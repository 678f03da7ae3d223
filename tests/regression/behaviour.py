"""Fingerprints of what infera computes, to prove a refactoring changed nothing.

``frames_digest`` hashes a plan's tables and every result frame (schema and values; floats through their
shortest round-trip text, so equal digests mean bit-identical values). ``cases`` lists the programs
fingerprinted: every example, and random small systems drawn from a fixed seed. The digests recorded in
``tests/regression/fixtures/behaviour.json`` were taken before the one-direction refactoring of the core;
``PYTHONPATH=tests python tests/regression/behaviour.py --write`` records them anew (only ever after a
change that is meant to alter results, and said so in its commit).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import polars as pl

from helpers import TINY_MODEL, TOY_CHIP

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "behaviour.json"

TINY = TINY_MODEL + TOY_CHIP  # the shared test model and chip (tests/helpers.py)


def _frame_digest(df: pl.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([(n, str(t)) for n, t in df.schema.items()]).encode())
    # Categorical/enum columns hash by their text, not their physical codes; list columns (a plan's prefix
    # segments) by their elements' text, as CSV holds no nested values.
    lists = [pl.col(n).cast(pl.List(pl.String)).list.join(" ") for n, t in df.schema.items()
             if isinstance(t, pl.List)]
    h.update(df.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String), *lists).write_csv().encode())
    return h.hexdigest()


def frames_digest(plan, results) -> dict[str, str]:  # noqa: ANN001 - infera.Plan, infera.Results
    out = {}
    for name in ("chips", "engines", "models", "operators", "workloads", "requests", "pools", "links", "runs",
                 "slos"):
        try:
            table = plan[name]
        except Exception:  # noqa: BLE001 - a plan without an optional table
            continue
        out[f"plan.{name}"] = _frame_digest(pl.from_arrow(table))
    for name in ("requests", "iterations", "instances", "stats", "pools", "summary"):
        out[name] = _frame_digest(getattr(results, name))
    return out


def random_program(seed: int) -> str:
    """A small random system and traffic (the kind the property tests draw), from a fixed seed."""
    rng = random.Random(seed)
    n = rng.randint(1, 80)
    kind = rng.choice(["poisson", "burst", "closed"])
    if kind == "poisson":
        arr = f"poisson({rng.choice([1, 10, 50, 400])} /s)"
    elif kind == "burst":
        arr = "burst"
    else:
        arr = f"closed(users = {rng.randint(1, 16)}, think = {rng.choice([0, 10])} ms)"
    pmax = rng.choice([64, 512, 1500])
    omax = rng.choice([1, 16, 300])
    chunk = rng.choice(["true", "false"])
    mbt = 2048 if chunk == "true" and rng.random() < 0.5 else 4096
    limits = rng.choice(["", ", max_queue = 3", ", queue_timeout = 50 ms"])
    common = (f"block_size = {rng.choice([4, 16])}, memory_utilization = {rng.choice([0.02, 0.05, 0.9])}, "
              f"max_batch = {rng.choice([1, 4, 64])}, chunked_prefill = {chunk}, max_batched_tokens = {mbt}, "
              f"policy = {rng.choice(['decode_first', 'prefill_first'])}{limits}")
    router = rng.choice(["round_robin", "least_tokens", "power_of_two"])
    if rng.random() < 0.5:
        system = f"system s {{\n  pool p: {rng.randint(1, 3)} x toy, {common}\n  router = {router}\n}}"
    else:
        system = (f"system s {{\n  pool pre: {rng.randint(1, 2)} x toy, role = prefill, {common}\n"
                  f"  pool dec: {rng.randint(1, 2)} x toy, role = decode, {common}\n"
                  f"  link pre -> dec {{ bandwidth = {rng.choice([1, 100])} GB/s, latency = 5 us }}\n"
                  f"  prefill_router = {router}\n}}")
    return TINY + f"""
traffic t {{ arrivals = {arr}, prompt = lognormal(median = {max(1, pmax // 4)} tokens, sigma = 1.0, max = {pmax}),
             output = uniform(min = 1, max = {omax}), requests = {n} }}
{system}
run r {{ model = tiny, traffic = t, system = s, seed = {rng.randint(0, 1000)} }}
"""


def cases() -> dict[str, tuple[str, str]]:
    """name -> (source text, file name to compile it as)."""
    out = {}
    for path in sorted((ROOT / "examples").glob("*.infera")):
        out[f"example:{path.name}"] = (path.read_text(), str(path))
    for seed in range(60):
        out[f"random:{seed}"] = (random_program(seed), f"<random {seed}>")
    return out


def digest_case(text: str, file: str) -> dict[str, str] | str:
    """The digests of one program, or the error it raises (class and message) when it cannot be compiled."""
    import infera

    try:
        plan = infera.compile_text(text, file=file)
    except infera.InferaError as err:
        return f"{type(err).__name__}: {err}"
    return frames_digest(plan, infera.simulate(plan))


def compute() -> dict[str, object]:
    return {name: digest_case(text, file) for name, (text, file) in cases().items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=tests python tests/regression/behaviour.py --write")
    FIXTURE.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
