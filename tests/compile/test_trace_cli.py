"""``infera trace FILE``: a trace's figures as a program would replay it, and its errors without a traceback;
``infera.load_trace`` at the top of the package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import infera
from infera.cli import main
from infera.plan.traffic.trace_summary import summarize


def mooncake(tmp_path: Path) -> Path:
    path = tmp_path / "m.jsonl"
    rows = [(0, 1024, 10, [1, 2]), (1000, 1100, 20, [1, 2, 3]), (2000, 600, 30, [4, 5]), (4000, 512, 40, [1])]
    path.write_text("".join(json.dumps({"timestamp": t, "input_length": p, "output_length": o, "hash_ids": h}) + "\n"
                            for t, p, o, h in rows))
    return path


def test_summary_figures(tmp_path: Path) -> None:
    figures = summarize(infera.load_trace(mooncake(tmp_path)))
    assert figures["requests"] == 4 and figures["span_s"] == 4.0 and figures["rate_per_s"] == 1.0
    assert figures["prompt_median"] == 812 and figures["output_mean"] == 25
    assert figures["prefix_blocks"] == 8
    # Repeats: request 1's first two blocks (1024 tokens) and request 3's block (512) of 3236 prompt tokens.
    assert figures["repeated_prompt_share"] == pytest.approx(1536 / 3236)


def test_cli_prints_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(mooncake(tmp_path)), "--window", "0", "3"]) == 0
    out = capsys.readouterr().out
    assert "requests" in out and "repeated_prompt_share" in out and "3 " in out


@pytest.mark.parametrize("args, words", [
    (["--window", "3", "1"], "a trace window must end after it starts"),
    (["--format", "csv"], "cannot be read"),
])
def test_cli_errors_exit_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                               words: str) -> None:
    assert main(["trace", str(mooncake(tmp_path)), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_cli_names_an_unsorted_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n1,2,3\n0,2,3\n")
    assert main(["trace", str(path)]) == 2
    assert "row 3: arrives 1 s before row 2" in capsys.readouterr().err
    assert main(["trace", str(path), "--sort"]) == 0
