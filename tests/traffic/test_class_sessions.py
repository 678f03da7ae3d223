"""Classes with sessions and shared system prompts: each class with its own arrivals keeps its sessions'
dependencies and prefix segments when the classes' streams are listed together, and the mixes that cannot
carry them are located errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import infera
from helpers import compile_error, program
from infera.dsl import parse
from infera.plan import traffic as T
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.scope import Scope

MIX = """
traffic t {
  prompt = 64 tokens, output = 16 tokens
  class chat {
    arrivals = poisson(4 /s), requests = 30, priority = 0
    session = conversation(turns = uniform(min = 2, max = 4), think = 0.5 s)
    system_prompt = shared(tokens = 300, variants = 2)
  }
  class batch { arrivals = poisson(2 /s), requests = 20, priority = 1, prompt = 500 tokens }
}
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""


def _stream() -> T.Stream:
    prog = parse(program(MIX), "t.infera")
    block = next(b for b in prog.blocks if b.name == "t" and b.kind == "traffic")
    return T.sample(compile_traffic(Scope.of_program(prog), block), 5)


def test_a_class_with_sessions_keeps_its_dependencies_and_prefixes_in_the_mix() -> None:
    s = _stream()
    assert s.klass is not None and s.after is not None and s.after_offsets is not None
    assert s.prefix_offsets is not None and s.prefix_ids is not None and s.prefix_tokens is not None
    chat = np.flatnonzero(s.klass == 0)
    batch = np.flatnonzero(s.klass == 1)
    assert len(batch) == 20 and len(chat) > 30  # 30 conversations of 2-4 turns
    for i in range(len(s.arrival_s)):
        deps = s.after[s.after_offsets[i]:s.after_offsets[i + 1]]
        # A turn waits for an earlier turn of its own class; the batch class waits for nothing.
        assert all(d < i and s.klass[d] == s.klass[i] == 0 for d in deps)
        if len(deps):
            assert np.isnan(s.arrival_s[i])
        segs = s.prefix_tokens[s.prefix_offsets[i]:s.prefix_offsets[i + 1]]
        if s.klass[i] == 1:
            assert len(segs) == 0  # no system prompt given to the batch class
        else:
            assert segs.sum() == s.prompt_tokens[i] and segs[0] == 300


def test_the_mix_simulates_with_classes_sessions_and_hits() -> None:
    res = infera.simulate(infera.compile_text(program(MIX)))
    req = res.requests
    assert set(req["class"].unique().to_list()) == {"chat", "batch"}
    chat = req.filter(pl.col("class") == "chat")
    # Later turns resend their history, which the cache (on by default) still holds.
    assert chat["cached_tokens"].sum() > 0
    assert req.filter(pl.col("class") == "batch")["cached_tokens"].sum() == 0
    assert set(res.classes["class"].to_list()) == {"chat", "batch"}


def test_a_session_in_a_class_of_a_shared_stream_is_a_located_error() -> None:
    err = compile_error(program("""
traffic t {
  arrivals = poisson(4 /s), requests = 30, prompt = 64 tokens, output = 16 tokens
  class chat { weight = 0.5, session = conversation(turns = 2) }
  class batch { weight = 0.5 }
}
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""))
    assert "needs arrivals of its own" in str(err) and str(err).startswith("bad.infera:")


def test_a_block_cap_over_classes_with_sessions_is_a_located_error() -> None:
    err = compile_error(program(MIX.replace("prompt = 64 tokens, output", "requests = 10, prompt = 64 tokens, output")))
    assert "bound each class with its own 'requests'" in str(err)


CLOSED = """
traffic t {
  prompt = 64 tokens, output = 16 tokens
  class bench { arrivals = closed(users = 3, think = 0.2 s), requests = 24, priority = 0 }
  class bg { arrivals = poisson(5 /s), requests = 20, priority = 1 }
}
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""


def test_a_closed_loop_class_keeps_its_users_in_flight_beside_an_open_class() -> None:
    from helpers import most_in_flight

    res = infera.simulate(infera.compile_text(program(CLOSED)))
    req = res.requests
    bench = req.filter(pl.col("class") == "bench")
    assert len(bench) == 24 and len(req.filter(pl.col("class") == "bg")) == 20
    # Three users: never more than three of the class's requests in the system at once, and always some
    # waiting for their user's previous request (arrival = a previous finish + think + client delay).
    assert most_in_flight(bench["arrival_s"], bench["finish_s"]) <= 3
    finishes = np.sort(bench["finish_s"].to_numpy())
    later = np.sort(bench["arrival_s"].to_numpy())[3:]
    assert all((later[k] - finishes[k]) >= 0.2 for k in range(len(later)))


def test_the_class_table_reports_each_class_s_cached_prompt_tokens() -> None:
    res = infera.simulate(infera.compile_text(program(MIX)))
    by = {r["class"]: r for r in res.classes.iter_rows(named=True)}
    req = res.requests.filter(pl.col("status") == "finished")
    for name in ("chat", "batch"):
        mine = req.filter(pl.col("class") == name)
        assert by[name]["cached_tokens"] == mine["cached_tokens"].sum()
        assert by[name]["prefix_hit_share"] == pytest.approx(mine["cached_tokens"].sum() / mine["prompt_tokens"].sum())
    assert by["chat"]["prefix_hit_share"] > 0 and by["batch"]["cached_tokens"] == 0
