"""Closed-loop benchmark clients (docs/dsl.md, "Closed-loop clients"): a ramp-up spreads the users' first
requests, and a seeded per-request jitter keeps identical requests from moving in lockstep."""

from __future__ import annotations

import numpy as np
import pytest

import infera
from helpers import compile_error, program

SYSTEM = """
system s { pool p: 1 x toy, max_batch = 64 }
"""


def closed(options: str, *, seed: int = 1, requests: int = 600, users: int = 32):
    text = program(f"""
traffic t {{ arrivals = closed(users = {users}{options}), prompt = 64 tokens, output = 32 tokens,
            requests = {requests} }}
{SYSTEM}
run r {{ model = tiny, traffic = t, system = s, seed = {seed}, record = [requests] }}
""")
    plan = infera.compile_text(text)
    return plan, infera.simulate(plan).requests.sort("request_id")


def distinct_share(arrivals: np.ndarray) -> float:
    """Share of requests arriving at an instant no other request arrives at."""
    _, counts = np.unique(arrivals, return_counts=True)
    return float((counts == 1).sum() / len(arrivals))


def test_identical_requests_without_jitter_move_in_lockstep() -> None:
    _, q = closed(", jitter = 0 s")
    arrivals = q["arrival_s"].to_numpy()
    # Every user comes back at the end of a step, together with the users that finished in it.
    assert distinct_share(arrivals) < 0.05
    assert len(np.unique(arrivals)) < len(arrivals) / 10


def test_default_jitter_breaks_the_lockstep() -> None:
    plan, q = closed("")
    delays = plan["requests"]["send_delay_s"].to_numpy()
    assert delays.min() > 0 and abs(delays.mean() - 1e-3) < 0.15e-3  # exponential, mean 1 ms
    arrivals = np.sort(q["arrival_s"].to_numpy())
    assert distinct_share(arrivals) > 0.99
    # Not phase-locked: arrivals are spread over the step rather than bunched at its end. Gaps between
    # successive arrivals of a locked loop are mostly zero; here hardly any gap is below a microsecond.
    gaps = np.diff(arrivals)
    assert (gaps < 1e-6).mean() < 0.02
    # And the spacing is irregular: its coefficient of variation is far from a clock's 0.
    assert gaps.std() / gaps.mean() > 0.5


def test_ramp_up_spreads_the_first_requests_evenly() -> None:
    plan, q = closed(", ramp_up = 3.2 s, jitter = 0 s", users=32)
    first = q.filter(q["request_id"] < 32)["arrival_s"].to_numpy()
    assert np.allclose(first, np.arange(32) * 0.1)
    assert np.all(plan["requests"]["send_delay_s"].to_numpy()[32:] == 0.0)


def test_jitter_is_seeded() -> None:
    a, qa = closed("", seed=7)
    b, qb = closed("", seed=7)
    c, _ = closed("", seed=8)
    delays = a["requests"]["send_delay_s"].to_numpy()
    assert np.array_equal(delays, b["requests"]["send_delay_s"].to_numpy()) and qa.equals(qb)
    assert not np.array_equal(delays, c["requests"]["send_delay_s"].to_numpy())


@pytest.mark.parametrize("option, message", [
    (", jitter = -1 ms", "must be >= 0"),
    (", ramp_up = 5", "needs a time"),
    (", warmup = 1 s", "unknown field 'warmup'"),
])
def test_bad_client_options_are_located(option: str, message: str) -> None:
    err = compile_error(program(f"""
traffic t {{ arrivals = closed(users = 4{option}), prompt = 8 tokens, output = 8 tokens, requests = 8 }}
{SYSTEM}
run r {{ model = tiny, traffic = t, system = s }}
"""))
    assert message in str(err)
    assert err.loc is not None and err.loc.line > 0
