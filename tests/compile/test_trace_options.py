"""What of a trace is replayed, and when: the window (trace time), then the seeded sample, then the time scale,
then the duration (replay time) and the request cap; and the options' errors in a program."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import infera
from helpers import program
from infera.plan.traffic import load_trace


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """Request i arrives at 10 + i seconds (so trace time i) with a prompt of i + 1 tokens."""
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n" + "".join(f"{10 + i},{i + 1},1\n" for i in range(1000)))
    return path


def replay(path: Path, options: str) -> tuple[list[float], list[int]]:
    plan = infera.compile_text(program(f'traffic tr {{ trace = "{path}", {options} }}\n'
                                       "system s { pool p: 1 x toy }\n"
                                       "run r { model = tiny, traffic = tr, system = s }\n"))
    r = plan.tables["requests"]
    return r["arrival_s"].to_pylist(), r["prompt_tokens"].to_pylist()


def test_window_keeps_start_to_end_of_trace_time_and_starts_the_replay_at_start(trace: Path) -> None:
    arrival, prompt = replay(trace, "window = [2 s, 5 s]")
    assert prompt == [3, 4, 5] and arrival == [0.0, 1.0, 2.0]  # trace times 2, 3 and 4; 5 is the window's end
    assert replay(trace, "start = 2 s, end = 5 s") == (arrival, prompt)
    assert replay(trace, "end = 3 s")[1] == [1, 2, 3]
    assert replay(trace, "start = 997 s")[1] == [998, 999, 1000]


def test_window_is_trace_time_and_the_time_scale_applies_after_it(trace: Path) -> None:
    arrival, prompt = replay(trace, "window = [1 min, 2 min], time_scale = 0.5")
    assert prompt == list(range(61, 121)) and arrival == [0.5 * i for i in range(60)]


def test_duration_is_replay_time_after_the_time_scale(trace: Path) -> None:
    arrival, prompt = replay(trace, "time_scale = 0.5, duration = 10 s")
    assert len(prompt) == 20 and arrival[-1] == 9.5


def test_sample_keeps_the_fraction_in_order_and_is_seeded(trace: Path) -> None:
    s = load_trace(trace, sample=0.25, sample_seed=3)
    assert len(s.arrival_s) == 250 and (np.diff(s.arrival_s) > 0).all()
    assert set(s.prompt_tokens.tolist()) <= set(range(1, 1001))
    assert s.arrival_s.tolist() == [p - 1.0 for p in s.prompt_tokens.tolist()]  # the requests' own times
    again = load_trace(trace, sample=0.25, sample_seed=3)
    other = load_trace(trace, sample=0.25, sample_seed=4)
    assert again.prompt_tokens.tolist() == s.prompt_tokens.tolist() != other.prompt_tokens.tolist()
    assert replay(trace, "sample = 25 %, sample_seed = 3")[1] == s.prompt_tokens.tolist()
    assert load_trace(trace, sample=1.0).prompt_tokens.tolist() == list(range(1, 1001))


def test_order_window_then_sample_then_requests(trace: Path) -> None:
    windowed = load_trace(trace, window=(100, 300))
    sampled = load_trace(trace, window=(100, 300), sample=0.5, sample_seed=1)
    capped = load_trace(trace, window=(100, 300), sample=0.5, sample_seed=1, requests=10)
    assert len(windowed.arrival_s) == 200 and len(sampled.arrival_s) == 100
    assert set(sampled.prompt_tokens.tolist()) <= set(windowed.prompt_tokens.tolist())
    assert capped.prompt_tokens.tolist() == sampled.prompt_tokens.tolist()[:10]  # the cap takes the first N


def test_nothing_left_is_an_error(trace: Path) -> None:
    with pytest.raises(infera.CompileError, match="has no request left after the window"):
        replay(trace, "start = 2000 s")


@pytest.mark.parametrize("options, words", [
    ("window = [5 s, 2 s]", "the window ends (2 s) before it starts (5 s)"),
    ("window = [5 s]", "window must be [start, end], two times"),
    ("window = 5 s", "window must be [start, end]"),
    ("window = [1 s, 2 s], start = 1 s", "give window = [start, end] or start/end, not both"),
    ("window = [1, 2 s]", "window start needs a time"),
    ("start = 3 s, end = 3 s", "the window ends (3 s) before it starts (3 s)"),
    ("sample = 2", "sample is the fraction of the requests kept, at most 1"),
    ("sample = 0", "field 'sample' must be > 0"),
    ("sample_seed = -1", "field 'sample_seed' must be >= 0"),
    ("sample_seed = 1.5", "field 'sample_seed' must be a whole number >= 0"),
    ("format = xml", "field 'format' must be one of csv, parquet, jsonl, mooncake"),
    ("sort = yes", "field 'sort' must be true or false"),
])
def test_bad_options_are_located(trace: Path, options: str, words: str) -> None:
    with pytest.raises(infera.CompileError) as info:
        replay(trace, options)
    assert words in info.value.reason and info.value.loc is not None


@pytest.mark.parametrize("kwargs", [{"time_scale": 0.0}, {"window": (3.0, 1.0)}, {"window": (-1.0, None)},
                                    {"sample": 1.5}, {"requests": 0}, {"duration_s": float("nan")}])
def test_load_trace_refuses_bad_options(trace: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        load_trace(trace, **kwargs)
