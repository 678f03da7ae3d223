"""Trace formats: a replay reproduces the file exactly (CSV, Parquet, JSONL, Mooncake), the Azure 2023 and
2024 traces are read as published, and Mooncake's block hashes become chained prefix segments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import infera
from helpers import program
from infera.plan.traffic import load_trace
from infera.plan.traffic.prefix import mix


def random_trace(n: int = 300, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"arrival_ms": np.cumsum(rng.integers(0, 400, n)), "prompt": rng.integers(1, 3000, n),
            "output": rng.integers(1, 500, n)}


def write(tmp_path: Path, kind: str, t: dict[str, np.ndarray]) -> Path:
    """The trace in one format: arrivals in seconds (ms / 1000), or Mooncake's milliseconds with hash_ids."""
    seconds = t["arrival_ms"] / 1000
    if kind == "csv":
        path = tmp_path / "t.csv"
        pl.DataFrame({"arrival_s": seconds, "prompt_tokens": t["prompt"], "output_tokens": t["output"]}).write_csv(path)
    elif kind == "parquet":
        path = tmp_path / "t.parquet"
        pl.DataFrame({"arrival_s": seconds, "prompt_tokens": t["prompt"],
                      "output_tokens": t["output"]}).write_parquet(path)
    else:
        path = tmp_path / "t.jsonl"
        lines = []
        for i, (a, p, o) in enumerate(zip(t["arrival_ms"], t["prompt"], t["output"])):
            if kind == "jsonl":
                lines.append({"arrival_s": float(a) / 1000, "prompt_tokens": int(p), "output_tokens": int(o)})
            else:  # every third request shares its first block with request 0, the rest are their own
                blocks = -(-int(p) // 512)
                ids = [0 if i % 3 == 0 else 1000 + 10 * i] + [100_000 + 10 * i + j for j in range(1, blocks)]
                lines.append({"timestamp": int(a), "input_length": int(p), "output_length": int(o),
                              "hash_ids": ids})
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def replay(path: Path, options: str = "") -> pl.DataFrame:
    """The requests table of a program replaying ``path``."""
    plan = infera.compile_text(program(f'traffic tr {{ trace = "{path}"{options} }}\n'
                                       "system s { pool p: 1 x toy }\n"
                                       "run r { model = tiny, traffic = tr, system = s }\n"))
    return pl.from_arrow(plan.tables["requests"])  # type: ignore[return-value]


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl", "mooncake"])
def test_replay_reproduces_the_file_exactly(tmp_path: Path, kind: str) -> None:
    t = random_trace()
    r = replay(write(tmp_path, kind, t))
    seconds = t["arrival_ms"] / 1000  # Mooncake's milliseconds too, to the last bit
    assert r["arrival_s"].to_list() == (seconds - seconds[0]).tolist()
    assert r["prompt_tokens"].to_list() == t["prompt"].tolist()
    assert r["output_tokens"].to_list() == t["output"].tolist()


def test_mooncake_hash_ids_become_chained_512_token_segments(tmp_path: Path) -> None:
    t = random_trace(60)
    path = write(tmp_path, "mooncake", t)
    stream = load_trace(path)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert stream.prefix_offsets is not None and stream.prefix_ids is not None and stream.prefix_tokens is not None
    assert np.diff(stream.prefix_offsets).tolist() == [len(x["hash_ids"]) for x in lines]
    for i, x in enumerate(lines):
        ids = stream.prefix_ids[stream.prefix_offsets[i]:stream.prefix_offsets[i + 1]]
        tokens = stream.prefix_tokens[stream.prefix_offsets[i]:stream.prefix_offsets[i + 1]]
        # Every block is 512 tokens but the last, which holds the rest of the prompt.
        assert tokens.sum() == x["input_length"] and (tokens[:-1] == 512).all() and 1 <= tokens[-1] <= 512
        prev = np.zeros(1, dtype=np.uint64)
        for j, h in enumerate(x["hash_ids"]):  # the chain, one block at a time
            prev = mix(prev, np.array([h], dtype=np.uint64))
            assert ids[j] == prev[0]


def test_equal_leading_hash_ids_share_chained_ids_and_later_ones_differ(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    rows = [[7, 8, 9], [7, 8, 4], [7, 5, 9], [1, 8, 9]]
    path.write_text("".join(json.dumps({"timestamp": 0, "input_length": 1500, "output_length": 3, "hash_ids": h})
                            + "\n" for h in rows))
    s = load_trace(path)
    ids = s.prefix_ids.reshape(4, 3)  # type: ignore[union-attr]
    assert ids[0, 0] == ids[1, 0] == ids[2, 0] and ids[0, 1] == ids[1, 1]
    assert ids[0, 2] != ids[1, 2]  # the third block differs
    assert ids[2, 1] != ids[0, 1] and ids[2, 2] != ids[0, 2]  # same third hash after a different second one
    assert len(set(ids[3])) == 3 and ids[3, 0] != ids[0, 0] and ids[3, 1] != ids[0, 1]
    assert s.prefix_tokens.tolist() == [512, 512, 476] * 4  # type: ignore[union-attr]


def test_a_prompt_with_fewer_blocks_than_it_fills_keeps_its_tail_outside_the_segments(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"timestamp": 0, "input_length": 1500, "output_length": 3, "hash_ids": [1]}\n'
                    '{"timestamp": 1, "input_length": 100, "output_length": 3, "hash_ids": []}\n')
    s = load_trace(path)
    assert s.prefix_offsets.tolist() == [0, 1, 1] and s.prefix_tokens.tolist() == [512]  # type: ignore[union-attr]


def test_traces_without_hashes_have_no_prefix_fields(tmp_path: Path) -> None:
    for kind in ("csv", "jsonl"):
        s = load_trace(write(tmp_path, kind, random_trace(5)))
        assert s.prefix_offsets is None and s.prefix_ids is None and s.prefix_tokens is None


def test_mooncake_format_is_recognised_or_given(tmp_path: Path) -> None:
    line = '{"timestamp": 1500, "input_length": 10, "output_length": 2, "hash_ids": [3]}\n'
    first = '{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [3]}\n'
    (tmp_path / "m.jsonl").write_text(first + line)
    (tmp_path / "m.txt").write_text(first + line)
    assert load_trace(tmp_path / "m.jsonl").arrival_s.tolist() == [0.0, 1.5]  # milliseconds
    assert replay(tmp_path / "m.txt", ", format = mooncake")["arrival_s"].to_list() == [0.0, 1.5]
    # Given as infera's JSONL, `timestamp` is seconds and hash_ids are optional.
    assert load_trace(tmp_path / "m.jsonl", format="jsonl").arrival_s.tolist() == [0.0, 1500.0]


def test_azure_2023_timestamps_with_seven_fractional_digits(tmp_path: Path) -> None:
    # As in AzureLLMInferenceTrace_code.csv (2023): TIMESTAMP,ContextTokens,GeneratedTokens.
    path = tmp_path / "AzureLLMInferenceTrace_code.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n"
                    "2023-11-16 18:17:04.0319600,3180,8\n2023-11-16 18:17:04.0781490,110,27\n")
    s = load_trace(path)
    assert s.arrival_s.tolist() == pytest.approx([0.0, 0.052, 0.098189], abs=1e-9)
    assert s.prompt_tokens.tolist() == [4808, 3180, 110] and s.output_tokens.tolist() == [10, 8, 27]


def test_azure_2024_timestamps_with_an_offset_with_and_without_a_fraction(tmp_path: Path) -> None:
    # As in AzureLLMInferenceTrace_code_1week.csv (2024): UTC offsets, the fraction left out when it is zero.
    path = tmp_path / "AzureLLMInferenceTrace_code_1week.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-12 00:00:00+00:00,1452,3\n"
                    "2024-05-12 00:00:00.041683+00:00,584,3\n2024-05-12 00:00:01+00:00,862,38\n")
    assert load_trace(path).arrival_s.tolist() == pytest.approx([0.0, 0.041683, 1.0], abs=1e-9)


def test_format_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "t.data"
    pl.DataFrame({"arrival_s": [0.0, 1.0], "prompt_tokens": [5, 6], "output_tokens": [1, 2]}).write_parquet(path)
    assert replay(path, ", format = parquet")["prompt_tokens"].to_list() == [5, 6]
    with pytest.raises(infera.CompileError, match="cannot be read"):  # read as CSV by default
        replay(path)


def test_a_mooncake_replay_keeps_its_prefixes_in_the_compiled_traffic_and_simulates(tmp_path: Path) -> None:
    from infera.plan.compiler import run_specs
    from infera.plan.traffic import sample

    path = write(tmp_path, "mooncake", random_trace(40))
    text = program(f'traffic tr {{ trace = "{path}", window = [1 s, 8 s] }}\nsystem s {{ pool p: 1 x toy }}\n'
                   "run r { model = tiny, traffic = tr, system = s }\n")
    _, traffics = run_specs(infera.parse(text))
    stream = sample(traffics["tr"], seed=0)
    direct = load_trace(path, window=(1.0, 8.0))
    assert stream.prefix_ids is not None and stream.prefix_ids.tolist() == direct.prefix_ids.tolist()  # type: ignore
    res = infera.simulate(infera.compile_text(text))
    assert res.summary["requests"][0] == len(direct.arrival_s)
