"""Sessions and agents as sampled streams (docs/sessions.md): turns per session, every turn resending the
history, agent fan-out and fan-in, shared system prompts, the context limit, and the prefix segments that
make sharing exact. The core's timing of these streams is tested in tests/engine/test_session_timing.py."""

from __future__ import annotations

import numpy as np
import pytest

import infera
from helpers import compile_error, program
from infera.dsl import parse
from infera.plan import traffic as traffic_mod
from infera.plan.compiler import run_specs

SYSTEM = "system s { pool p: 1 x toy, max_batch = 64 }\n"


def source(fields: str, *, arrivals: str = "poisson(4 /s)", requests: int = 400) -> str:
    return program(f"""
traffic t {{
  arrivals = {arrivals}
  requests = {requests}
  prompt = uniform(min = 20, max = 80)
  output = uniform(min = 5, max = 40)
  {fields}
}}
{SYSTEM}
run r {{ model = tiny, traffic = t, system = s, seed = 3, record = [requests] }}
""")


def stream(fields: str, *, seed: int = 3, **kw) -> traffic_mod.Stream:
    _, traffics = run_specs(parse(source(fields, **kw)))
    return traffic_mod.sample(traffics["t"], seed)


def sessions_of(s: traffic_mod.Stream) -> np.ndarray:
    """Each request's session, as the index of its first request (chains only: one parent each)."""
    n = len(s.prompt_tokens)
    sess = np.arange(n)
    if s.after is None:
        return sess
    for i in range(n):
        lo, hi = s.after_offsets[i], s.after_offsets[i + 1]
        if hi > lo:
            sess[i] = sess[s.after[lo]]
    return sess


def segments(s: traffic_mod.Stream, i: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = s.prefix_offsets[i], s.prefix_offsets[i + 1]
    return s.prefix_ids[lo:hi], s.prefix_tokens[lo:hi]


CHAT = "session = conversation(turns = uniform(min = 1, max = 6), think = exponential(mean = 2 s))"


def test_the_same_seed_gives_the_same_sessions() -> None:
    a, b, c = stream(CHAT), stream(CHAT), stream(CHAT, seed=4)
    for field in ("arrival_s", "prompt_tokens", "output_tokens", "after_offsets", "after", "think_s",
                  "prefix_offsets", "prefix_ids", "prefix_tokens", "output_prefix_id"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=field == "arrival_s"), field
    assert not np.array_equal(a.prompt_tokens[:50], c.prompt_tokens[:50])


def test_turns_per_session_follow_their_distribution() -> None:
    s = stream(CHAT, requests=3000)
    _, turns = np.unique(sessions_of(s), return_counts=True)
    assert len(turns) == 3000  # `requests` counts sessions
    assert set(turns) == {1, 2, 3, 4, 5, 6}
    assert abs(turns.mean() - 3.5) < 0.1  # uniform on 1..6: mean 3.5, sd 1.7, so 3 sd of the mean < 0.1
    fixed = stream("session = conversation(turns = 3)", requests=50)
    assert np.array_equal(np.unique(sessions_of(fixed), return_counts=True)[1], np.full(50, 3))


def test_each_turn_resends_the_previous_prompt_and_answer_plus_a_new_message() -> None:
    s = stream(CHAT)
    waits = np.diff(s.after_offsets) > 0
    assert np.isnan(s.arrival_s[waits]).all() and np.isfinite(s.arrival_s[~waits]).all()
    # Session starts are the arrivals' Poisson times, in order.
    assert np.all(np.diff(s.arrival_s[~waits]) > 0)
    checked = 0
    for i in np.flatnonzero(waits):
        (p,) = s.after[s.after_offsets[i]:s.after_offsets[i + 1]]
        new = int(s.prompt_tokens[i]) - int(s.prompt_tokens[p]) - int(s.output_tokens[p])
        assert 20 <= new <= 80  # the new message, drawn from `prompt`
        ids, tokens = segments(s, i)
        pids, ptokens = segments(s, p)
        # Segments: the parent's, its answer, then the new message; the parent's prefix is shared exactly and
        # the answer segment's id is what the parent left behind (its output prefix id).
        assert len(ids) == len(pids) + 2
        assert np.array_equal(ids[:len(pids)], pids) and np.array_equal(tokens[:len(pids)], ptokens)
        assert ids[len(pids)] == s.output_prefix_id[p]
        assert tokens[len(pids)] == s.output_tokens[p] and tokens[-1] == new
        assert s.think_s[i] > 0
        checked += 1
    assert checked > 500
    for i in range(len(s.prompt_tokens)):
        assert segments(s, i)[1].sum() == s.prompt_tokens[i]
    # Different sessions share nothing (no system prompt here).
    firsts = s.prefix_ids[s.prefix_offsets[:-1][~waits]]
    assert len(np.unique(firsts)) == (~waits).sum()


def test_think_time_distribution() -> None:
    s = stream(CHAT, requests=3000)
    waits = np.diff(s.after_offsets) > 0
    think = s.think_s[waits]
    assert abs(think.mean() - 2.0) < 0.1 and np.all(s.think_s[~waits] == 0)
    fixed = stream("session = conversation(turns = 3, think = 1.5 s)")
    assert set(fixed.think_s[np.diff(fixed.after_offsets) > 0]) == {1.5}


def test_shared_system_prompts_start_every_session() -> None:
    s = stream(CHAT + "\n  system_prompt = shared(tokens = 1200, variants = 4)")
    first_ids = s.prefix_ids[s.prefix_offsets[:-1]]
    assert np.all(s.prefix_tokens[s.prefix_offsets[:-1]] == 1200)
    assert len(np.unique(first_ids)) == 4
    # Every turn of a session keeps its session's system prompt.
    sess = sessions_of(s)
    assert np.array_equal(first_ids, first_ids[sess])
    # Second segments (each session's first message) are never shared between sessions.
    roots = np.flatnonzero(sess == np.arange(len(sess)))
    assert len(np.unique(s.prefix_ids[s.prefix_offsets[roots] + 1])) == len(roots)


def test_a_plain_block_with_a_system_prompt() -> None:
    s = stream("system_prompt = shared(tokens = 300, variants = 2)")
    base = stream("")
    assert np.array_equal(s.arrival_s, base.arrival_s)
    assert np.array_equal(s.prompt_tokens, base.prompt_tokens + 300)
    assert np.array_equal(s.output_tokens, base.output_tokens)
    assert s.after is None and np.all(np.diff(s.prefix_offsets) == 2)
    assert len(np.unique(s.prefix_ids[s.prefix_offsets[:-1]])) == 2
    plan = infera.compile_text(source("system_prompt = shared(tokens = 300, variants = 2)"))
    assert "after" not in plan["requests"].column_names


def test_the_context_limit_ends_a_session() -> None:
    s = stream("session = conversation(turns = 10, think = 1 s, max_context = 400 tokens)")
    assert np.all(s.prompt_tokens.astype(int) + s.output_tokens <= 400)
    _, turns = np.unique(sessions_of(s), return_counts=True)
    # Each turn adds 25 to 120 tokens (72 on average), so ten rarely fit in 400 but two or more usually do.
    assert turns.max() < 10 and turns.min() >= 1 and turns.mean() > 2
    # Cut sessions end with a turn that still fits: history is never truncated.
    sess = sessions_of(s)
    for i in range(1, len(sess)):
        if sess[i] == sess[i - 1]:
            assert s.prompt_tokens[i] > s.prompt_tokens[i - 1]


def test_agent_fan_out_and_fan_in() -> None:
    s = stream("session = agent(calls = 4, fanout = 3, tool_result = 50 tokens, think = 0.5 s)", requests=20)
    n = len(s.prompt_tokens)
    assert n == 20 * (1 + 3 * 3)
    for base in range(0, n, 10):
        root = base
        step2 = list(range(base + 1, base + 4))
        step3 = list(range(base + 4, base + 7))
        after = [list(s.after[s.after_offsets[i]:s.after_offsets[i + 1]]) for i in range(base, base + 10)]
        assert after[0] == []
        assert all(after[i - base] == [root] for i in step2)
        assert all(after[i - base] == step2 for i in step3)  # fan-in: every call of the step before
        # A step-2 call sees the task, its answer and its own tool result.
        ctx1 = int(s.prompt_tokens[root]) + int(s.output_tokens[root])
        assert all(s.prompt_tokens[i] == ctx1 + 50 for i in step2)
        # Step 3 sees every step-2 result and answer.
        ctx2 = ctx1 + sum(50 + int(s.output_tokens[i]) for i in step2)
        assert all(s.prompt_tokens[i] == ctx2 + 50 for i in step3)
        # The first step-2 call's output prefix is what every step-3 call resends.
        ids3, _ = segments(s, step3[0])
        ids2, _ = segments(s, step2[0])
        assert ids3[len(ids2)] == s.output_prefix_id[step2[0]]
        assert np.all(s.think_s[base + 1:base + 10] == 0.5)


def test_output_prefix_ids_chain_the_answer_after_the_prompt() -> None:
    s = stream(CHAT)
    last = s.prefix_ids[s.prefix_offsets[1:] - 1]
    assert np.all(s.output_prefix_id != 0) and not np.any(s.output_prefix_id == last)
    assert len(np.unique(s.output_prefix_id)) == len(s.output_prefix_id)


@pytest.mark.parametrize("fields, words", [
    ("session = conversation(think = 1 s)", "missing required field 'turns'"),
    ("session = conversation(turns = 3, think = -1 s)", ">= 0"),
    ("session = conversation(turns = 3, pause = 1 s)", "unknown field 'pause'"),
    ("session = chat(turns = 3)", "conversation(...) or agent(...)"),
    ("session = agent(calls = 3)", "missing required field 'tool_result'"),
    ("session = conversation(turns = 3, think = uniform(min = 2 s, max = 1 s))", "below min"),
    ("session = conversation(turns = uniform(min = 1, max = 100000))", "at most 10_000"),
    ("system_prompt = shared(variants = 2)", "missing required field 'tokens'"),
    ("system_prompt = 1200 tokens", "shared(...)"),
])
def test_bad_sessions_are_located_errors(fields: str, words: str) -> None:
    err = compile_error(source(fields))
    assert words in str(err) and "bad.infera:" in str(err)


def test_prompts_past_the_token_limit_are_a_located_error() -> None:
    text = source("session = conversation(turns = 200)", requests=5).replace("uniform(min = 20, max = 80)",
                                                                 "1_000_000 tokens")
    err = compile_error(text)
    assert "max_context" in str(err) and "bad.infera:" in str(err)


def test_sessions_need_open_arrivals() -> None:
    err = compile_error(source("session = conversation(turns = 3)", arrivals="closed(users = 4)"))
    assert "not closed()" in str(err)


def test_streams_without_sessions_lower_as_before() -> None:
    plan = infera.compile_text(source(""))
    assert plan["requests"].column_names == ["workload", "arrival_s", "prompt_tokens", "output_tokens",
                                             "send_delay_s"]
    with_sessions = infera.compile_text(source(CHAT))
    assert with_sessions["requests"].column_names[-2:] == ["after", "think_s"]
