"""Bad rows of a trace are reported by row (CSV, Parquet: the header is row 1) or line (JSONL), never fixed:
token counts that are negative, missing, not numbers or not whole; times that are not times; arrivals out of
order (unless ``sort = true``); JSONL lines that are not JSON objects or lack a field; bad block hashes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import infera
from helpers import program
from infera.plan.traffic import TraceError, load_trace

HEADER = "arrival_s,prompt_tokens,output_tokens\n"


def program_for(path: Path, options: str = "") -> str:
    return program(f'traffic tr {{ trace = "{path}"{options} }}\nsystem s {{ pool p: 1 x toy }}\n'
                   "run r { model = tiny, traffic = tr, system = s }\n")


def rejected(path: Path, row: int, words: str, unit: str = "row") -> None:
    """``load_trace`` and a program replaying ``path`` both name ``row`` and say ``words``."""
    with pytest.raises(TraceError) as info:
        load_trace(path)
    assert (info.value.line, info.value.unit) == (row, unit)
    assert f"{unit} {row}: " in str(info.value) and words in str(info.value)
    with pytest.raises(infera.CompileError) as compiled:
        infera.compile_text(program_for(path), file="t.infera")
    assert f"{unit} {row}: " in compiled.value.reason and words in compiled.value.reason
    assert compiled.value.loc.file == "t.infera" and compiled.value.loc.line > 0


@pytest.mark.parametrize("body, row, words", [
    ("0,10,2\n1,-4,2\n", 3, "prompt_tokens = -4 is not a valid token count"),
    ("0,10,2\n1,,2\n", 3, "prompt_tokens = None"),
    ("0,10,2\n1,ten,2\n2,10,2\n", 3, "prompt_tokens = 'ten'"),
    ("0,10,2\n1,10,2.5\n", 3, "output_tokens = 2.5"),
    ("0,10,2\n1,10,0\n", 3, "output_tokens = 0"),
    ("0,10,2\n-1,10,2\n", 3, "arrival_s = -1 is not a valid time"),
    ("0,10,2\n2,10,2\n1,10,2\n3,10,2\n", 4, "arrives 1 s before row 3 (arrival_s): a trace must be in arrival order"),
])
def test_bad_csv_rows_are_named(tmp_path: Path, body: str, row: int, words: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + body)
    rejected(path, row, words)


def test_an_unsorted_parquet_trace_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"arrival_s": [0.0, 5.0, 4.0], "prompt_tokens": [5, 6, 7], "output_tokens": [1, 2, 3]}).write_parquet(
        path)
    rejected(path, 4, "arrives 1 s before row 3")


def test_unsorted_azure_timestamps_name_their_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.5,10,2\n"
                    "2023-11-16 18:17:03.25,10,2\n")
    rejected(path, 3, "arrives 0.25 s before row 2 (TIMESTAMP)")


def test_sort_replays_an_unsorted_trace_sorted_and_stably(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "2,10,1\n1,20,1\n2,30,1\n0,40,1\n")
    s = load_trace(path, sort=True)
    assert s.arrival_s.tolist() == [0.0, 1.0, 2.0, 2.0] and s.prompt_tokens.tolist() == [40, 20, 10, 30]
    res = infera.compile_text(program_for(path, ", sort = true")).tables["requests"]
    assert res["prompt_tokens"].to_pylist() == [40, 20, 10, 30]


def test_equal_arrivals_are_in_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "1,10,1\n1,20,1\n")
    assert load_trace(path).prompt_tokens.tolist() == [10, 20]


MOONCAKE = '{"timestamp": 0, "input_length": 600, "output_length": 2, "hash_ids": [1, 2]}\n'


@pytest.mark.parametrize("second, words", [
    ("not json", "is not JSON: Expecting value"),
    ("[1, 2]", "is not a JSON object (it is a list)"),
    ('"text"', "is not a JSON object (it is a string)"),
    ("", "is not JSON"),
    ('{"timestamp": 1, "input_length": 600, "hash_ids": [1]}', "has no field 'output_length'"),
    ('{"timestamp": 1, "input_length": 600, "output_length": 2}', "has no field 'hash_ids'"),
    ('{"timestamp": 1, "input_length": -600, "output_length": 2, "hash_ids": []}', "input_length = -600"),
    ('{"timestamp": 1, "input_length": "600", "output_length": 2, "hash_ids": [1]}', "input_length = '600'"),
    ('{"timestamp": 1, "input_length": 600.5, "output_length": 2, "hash_ids": [1]}', "input_length = 600.5"),
    ('{"timestamp": 1, "input_length": 600, "output_length": null, "hash_ids": [1]}', "output_length = None"),
    ('{"timestamp": 1, "input_length": 600, "output_length": true, "hash_ids": [1]}', "output_length = True"),
    ('{"timestamp": "noon", "input_length": 600, "output_length": 2, "hash_ids": [1]}', "timestamp = 'noon'"),
    ('{"timestamp": NaN, "input_length": 600, "output_length": 2, "hash_ids": [1]}', "timestamp = nan is not a valid"),
    ('{"timestamp": 1, "input_length": Infinity, "output_length": 2, "hash_ids": [1]}', "input_length = inf is not"),
    ('{"timestamp": 1, "input_length": 1' + "0" * 400 + ', "output_length": 2, "hash_ids": [1]}',
     "input_length = 1000"),
    ('{"timestamp": 1, "input_length": 1' + "0" * 5000 + ', "output_length": 2, "hash_ids": [1]}',
     "is not JSON: Exceeds the limit"),
    ('{"timestamp": 1, "input_length": 600, "output_length": 2, "hash_ids": 3}', "hash_ids must be a list"),
    ('{"timestamp": 1, "input_length": 600, "output_length": 2, "hash_ids": [1, -2]}', "hash_ids holds -2"),
    ('{"timestamp": 1, "input_length": 600, "output_length": 2, "hash_ids": [1, 2, 3]}',
     "hash_ids has 3 blocks of 512 tokens, more than input_length = 600 fills (2)"),
    ("[" * 100_000, "nested too deeply"),
])
def test_bad_jsonl_lines_are_named(tmp_path: Path, second: str, words: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(MOONCAKE + second + "\n" + MOONCAKE.replace('"timestamp": 0', '"timestamp": 5'))
    rejected(path, 2, words, "line")


def test_an_unsorted_mooncake_trace_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(MOONCAKE.replace("0,", "900,", 1) + MOONCAKE)
    rejected(path, 2, "arrives 0.9 s before line 1 (timestamp)", "line")


def test_jsonl_that_is_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(MOONCAKE.encode() + b'{"timestamp": 1, "input_length": \xff}\n')
    rejected(path, 2, "column 34 is not valid UTF-8 (byte 0xff)", "line")


def test_a_jsonl_trace_without_the_fields_says_which_it_has(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"when": 1, "prompt_tokens": 3, "output_tokens": 1}\n')
    with pytest.raises(TraceError, match="has no arrival field .* on line 1; it has when, prompt_tokens"):
        load_trace(path)


@pytest.mark.parametrize("data", [b"", b"\n"])
def test_an_empty_jsonl_trace(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    with pytest.raises(TraceError, match="has no rows|line 1: is not JSON"):
        load_trace(path)
