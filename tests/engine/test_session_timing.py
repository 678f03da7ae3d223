"""Sessions and agents simulated (docs/sessions.md): each turn is sent its think time after the turn it waits
for finished, an agent's step waits for every call of the step before, and a turn whose parent was turned
away is never sent. The streams themselves are tested in tests/compile/test_session_streams.py."""

from __future__ import annotations

import numpy as np
import pytest

import infera
from helpers import program

SYSTEM = "system s { pool p: 1 x toy, max_batch = 64 }\n"


def simulate(traffic: str, system: str = SYSTEM, seed: int = 5):
    text = program(f"""
traffic t {{
  {traffic}
}}
{system}
run r {{ model = tiny, traffic = t, system = s, seed = {seed}, record = [requests] }}
""")
    plan = infera.compile_text(text)
    return plan, infera.simulate(plan).requests.sort("request_id")


def parents(plan: infera.Plan) -> list[list[int]]:
    return plan["requests"]["after"].to_pylist()


CHAT = """arrivals = poisson(5 /s), requests = 60
  prompt = uniform(min = 20, max = 200), output = uniform(min = 5, max = 60)
  session = conversation(turns = uniform(min = 1, max = 5), think = exponential(mean = 0.5 s))
  system_prompt = shared(tokens = 500, variants = 3)"""


def test_each_turn_is_sent_its_think_time_after_the_turn_before_finished() -> None:
    plan, q = simulate(CHAT)
    after, think = parents(plan), plan["requests"]["think_s"].to_numpy()
    assert q.height == len(after)  # every turn was sent and finished
    arrival, finish = q["arrival_s"].to_numpy(), q["finish_s"].to_numpy()
    assert (q["prompt_tokens"].to_numpy() == plan["requests"]["prompt_tokens"].to_numpy()).all()
    waited = 0
    for i, ps in enumerate(after):
        if ps:
            (p,) = ps
            assert arrival[i] >= finish[p]
            assert abs(arrival[i] - (finish[p] + think[i])) < 1e-9
            waited += 1
    assert waited > 60


def test_agent_steps_fan_out_and_wait_for_every_call() -> None:
    plan, q = simulate("""arrivals = poisson(2 /s), requests = 10
  prompt = 100 tokens, output = uniform(min = 5, max = 80)
  session = agent(calls = 3, fanout = uniform(min = 2, max = 4), tool_result = 40 tokens, think = 0.2 s)""")
    after = parents(plan)
    arrival, finish = q["arrival_s"].to_numpy(), q["finish_s"].to_numpy()
    fan_in = 0
    for i, ps in enumerate(after):
        if ps:
            assert abs(arrival[i] - (max(finish[p] for p in ps) + 0.2)) < 1e-9
            fan_in += len(ps) > 1
    assert fan_in > 10
    # Calls of one step start together.
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, ps in enumerate(after):
        groups.setdefault(tuple(ps), []).append(i)
    wide = [g for k, g in groups.items() if k and len(g) > 1]
    assert wide and all(len(set(arrival[g])) == 1 for g in wide)


def test_a_turned_away_turn_ends_its_session() -> None:
    # Twenty sessions start at once; a queue of two turns most first turns away, and their sessions end.
    plan, q = simulate("""arrivals = burst, requests = 20
  prompt = 64 tokens, output = 16 tokens
  session = conversation(turns = 3, think = 0.1 s)""",
                       system="system s { pool p: 1 x toy, max_batch = 64, max_queue = 2 }\n")
    status = dict(zip(q["request_id"].to_list(), q["status"].to_list()))
    after = parents(plan)
    rejected = {i for i, s in status.items() if s != "finished"}
    assert rejected and len(status) < len(after)
    for i, ps in enumerate(after):
        if ps and ps[0] in rejected:
            assert i not in status  # never sent
        elif ps and ps[0] in status:
            assert i in status  # a finished parent's next turn is sent
    # Whatever was sent left the system: the run ends.
    assert all(s in ("finished", "rejected_queue_full") for s in status.values())


def test_simulated_sessions_are_deterministic() -> None:
    _, a = simulate(CHAT)
    _, b = simulate(CHAT)
    assert a.equals(b)
    _, c = simulate(CHAT, seed=6)
    assert not np.array_equal(a["arrival_s"].to_numpy()[:5], c["arrival_s"].to_numpy()[:5])


def test_sessions_run_from_the_cli_and_survive_a_plan_file(tmp_path) -> None:
    from infera.cli import main

    src = tmp_path / "chat.infera"
    src.write_text(program(f"""
traffic t {{
  {CHAT}
}}
{SYSTEM}
run r {{ model = tiny, traffic = t, system = s, seed = 5, record = [requests] }}
"""))
    plan_file = tmp_path / "chat.arrow"
    assert main(["compile", str(src), "-o", str(plan_file)]) == 0
    loaded = infera.Plan.load(plan_file)
    assert parents(loaded) == parents(infera.compile_file(src))
    out = tmp_path / "out"
    assert main(["run", str(src), "--out", str(out)]) == 0
    import polars as pl

    q = pl.read_parquet(out / "requests.parquet")
    assert q.height == loaded["requests"].num_rows
    _, direct = simulate(CHAT)
    assert q.sort("request_id")["finish_s"].to_list() == direct["finish_s"].to_list()


def test_a_plan_with_a_bad_dependency_is_a_located_plan_error() -> None:
    plan, _ = simulate(CHAT)
    after = parents(plan)
    i = next(k for k, ps in enumerate(after) if ps)
    after[i] = [i]  # waits for itself
    bad = plan.with_column("requests", "after", after)
    with pytest.raises(infera.PlanError) as err:
        infera.simulate(bad)
    assert "requests.after" in str(err.value) and f"row {i}" in str(err.value)
    think = plan["requests"]["think_s"].to_numpy().copy()
    think[i] = -1.0
    with pytest.raises(infera.PlanError, match="think_s"):
        infera.simulate(plan.with_column("requests", "think_s", think))
