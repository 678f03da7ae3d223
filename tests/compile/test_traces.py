"""Replaying request traces (CSV/Parquet), including messy ones: clear errors naming the row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import infera
from helpers import ROOT, program


def run_trace(tmp_path: Path, csv_text: str, extra: str = "", suffix: str = ".csv") -> infera.Results:
    f = tmp_path / f"trace{suffix}"
    if suffix == ".csv":
        f.write_text(csv_text)
    src = tmp_path / "t.infera"
    src.write_text(program(f"""
traffic tr {{ trace = "{f.name}"{extra} }}
system s {{ pool p: 1 x toy }}
run r {{ model = tiny, traffic = tr, system = s }}
"""))
    return infera.run(src)


def test_trace_rows_become_requests_sorted_and_shifted(tmp_path: Path) -> None:
    # An unsorted trace is an error now (tests/compile/test_trace_rows.py); sort = true replays it sorted.
    res = run_trace(tmp_path, "arrival_s,prompt_tokens,output_tokens\n12.5,100,5\n10.0,50,3\n11.0,20,1\n",
                    ", sort = true")
    r = res.requests.sort("request_id")
    assert r["arrival_s"].to_list() == [0.0, 1.0, 2.5]  # sorted, first arrival at 0
    assert r["prompt_tokens"].to_list() == [50, 20, 100]
    assert r["output_tokens"].to_list() == [3, 1, 5]


def test_azure_format_timestamps_and_time_scale(tmp_path: Path) -> None:
    csv = ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.000000,10,2\n"
           "2023-11-16 18:15:48.500000,20,2\n")
    res = run_trace(tmp_path, csv, ", time_scale = 0.5")
    assert res.requests.sort("request_id")["arrival_s"].to_list() == [0.0, 1.25]


def test_parquet_trace_with_request_cap(tmp_path: Path) -> None:
    pl.DataFrame({"arrival_s": [0.0, 1.0, 2.0], "prompt_tokens": [5, 6, 7], "output_tokens": [1, 2, 3]}).write_parquet(
        tmp_path / "trace.parquet")
    res = run_trace(tmp_path, "", ", requests = 2", suffix=".parquet")
    assert res.requests.height == 2


@pytest.mark.parametrize(
    "csv, message",
    [
        ("arrival_s,prompt_tokens,output_tokens\n0,10,2\n1,,2\n", "row 3: prompt_tokens"),
        ("arrival_s,prompt_tokens,output_tokens\n0,10,2\n1,-4,2\n", "row 3: prompt_tokens = -4"),
        ("arrival_s,prompt_tokens,output_tokens\n0,10,0\n", "row 2: output_tokens = 0"),
        ("arrival_s,prompt_tokens,output_tokens\n0,10.5,2\n", "row 2: prompt_tokens = 10.5"),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,10,2\n", "row 2: arrival 'yesterday' is not a time"),
        ("when,prompt_tokens,output_tokens\n0,10,2\n", "has no arrival column"),
        ("arrival_s,prompt_tokens,output_tokens\n", "has no rows"),
    ],
)
def test_messy_traces_are_rejected_with_the_row(tmp_path: Path, csv: str, message: str) -> None:
    with pytest.raises(infera.CompileError, match=message) as info:
        run_trace(tmp_path, csv)
    assert info.value.loc is not None and info.value.loc.line > 0


def test_missing_trace_file(tmp_path: Path) -> None:
    src = tmp_path / "t.infera"
    src.write_text(program('traffic tr { trace = "nope.csv" }\nsystem s { pool p: 1 x toy }\n'
                           "run r { model = tiny, traffic = tr, system = s }\n"))
    with pytest.raises(infera.CompileError, match="nope.csv not found"):
        infera.compile_file(src)


def test_trace_excludes_generated_fields(tmp_path: Path) -> None:
    with pytest.raises(infera.CompileError, match="a trace gives arrivals and lengths itself"):
        run_trace(tmp_path, "arrival_s,prompt_tokens,output_tokens\n0,1,1\n", ", prompt = 5 tokens")


def test_bundled_trace_example_runs() -> None:
    res = infera.run(ROOT / "examples" / "trace_replay.infera")
    assert res.summary["requests"][0] == 2000
