"""Every place infera reads or writes a file turns each OS and I/O failure into one of its own errors, located.

The failures: a path that is missing, a directory, a device (``/dev/null``), a FIFO (opening one without a
writer would block), a broken symbolic link, a name too long for the file system, a name with a NUL; and
contents that are not UTF-8, empty or cut short. Tests run as root, for whom permissions do not bite, so the
directory, the device and the FIFO stand in for an unreadable file.

The boundaries: ``parse_file``/``compile_file`` (sources), ``trace = "..."`` and ``load_trace`` (traces),
``profile = "..."``, ``load_profile`` and ``calibrate`` (calibration files, read and written),
``Plan.load``/``Plan.save`` and ``Results.write_parquet``; then the same through the CLI (message on
stderr, exit 2, no traceback).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl
import pytest

import infera
from helpers import program
from infera.calibrate import ProfileError, calibrate, load_profile
from infera.cli import main
from infera.plan.traffic import TraceError, load_trace

#: Each kind of bad path and the words its error uses.
PATH_KINDS = {
    "missing": "not found",
    "directory": "is a directory",
    "device": "not a regular file",
    "fifo": "not a regular file",
    "broken_symlink": "broken symbolic link",
    "too_long": "file name too long",
    "nul": "NUL character",
}


def bad_path(tmp_path: Path, kind: str, suffix: str) -> Path:
    """A path of the given kind, ending in ``suffix`` where it has a name of its own."""
    if kind == "device":
        return Path(os.devnull)
    path = tmp_path / f"{kind}{suffix}"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "broken_symlink":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "too_long":
        path = tmp_path / ("x" * 300 + suffix)
    elif kind == "nul":
        path = tmp_path / f"a\0b{suffix}"
    return path


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.write_parquet(sink)
    return sink.getvalue()


TRACE = "arrival_s,prompt_tokens,output_tokens\n0,10,2\n1,20,3\n"
TRACE_PARQUET = parquet_bytes(pl.DataFrame({"arrival_s": [0.0, 1.0], "prompt_tokens": [10, 20],
                                            "output_tokens": [2, 3]}))
PROFILE = "operator,stat,x,seconds\nqkv_proj,tokens,1,2e-6\nqkv_proj,tokens,200,4e-5\n"

#: Trace contents that cannot be replayed: (suffix, bytes, words of the error).
TRACE_CONTENTS = {
    "not_utf8": (".csv", b"arrival_s,prompt_tokens,output_tokens\n0,10,2\n1,\xff\xfe,3\n",
                 "line 3, column 3 is not valid UTF-8 (byte 0xff)"),
    "empty": (".csv", b"", "cannot be read"),
    "truncated_csv": (".csv", b"arrival_s,prompt_tokens,output_tokens\n0,10,2\n1,2", "row 3: output_tokens"),
    "truncated_parquet": (".parquet", TRACE_PARQUET[: len(TRACE_PARQUET) // 2], "cannot be read"),
    "empty_parquet": (".parquet", b"", "cannot be read"),
    "not_utf8_jsonl": (".jsonl", b'{"arrival_s": 0, "prompt_tokens": 10, "output_tokens": 2}\n{"arrival_s": \xff}\n',
                       "line 2: column 15 is not valid UTF-8 (byte 0xff)"),
    "empty_jsonl": (".jsonl", b"", "has no rows"),
    "truncated_jsonl": (".jsonl", b'{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [0]}\n'
                                  b'{"timestamp": 5, "input_le', "line 2: is not JSON"),
}

#: Profile contents that cannot be used: (bytes, line of the error or None, words of the error).
PROFILE_CONTENTS = {
    "not_utf8": (b"operator,stat,x,seconds\nqkv_proj,tokens,1,2e-6\nqkv\xe9,tokens,2,3e-6\n", 3,
                 "column 4 is not valid UTF-8 (byte 0xe9)"),
    "empty": (b"", None, "is empty"),
    "truncated": (b"operator,stat,x,seconds\nqkv_proj,tokens,1,2e-6\nqkv_proj,tok", 3, "x must be a number"),
}


# ----------------------------------------------------------------------------------------------------------
# Sources: parse_file / compile_file


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_a_source_that_cannot_be_read_is_a_file_error(tmp_path: Path, kind: str) -> None:
    path = bad_path(tmp_path, kind, ".infera")
    with pytest.raises(infera.FileError) as info:
        infera.compile_file(path)
    assert info.value.path == str(path) and info.value.line is None
    assert PATH_KINDS[kind] in info.value.reason
    assert str(info.value) == f"{path}: {info.value.reason}"


def test_a_source_that_is_not_utf8_is_a_located_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.infera"
    path.write_bytes(b"# ok\nmodel m { name = \"caf\xe9\" }\n")
    with pytest.raises(infera.InferaSyntaxError) as info:
        infera.parse_file(path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), 2, 22)
    assert "not valid UTF-8 (byte 0xe9)" in str(info.value)


@pytest.mark.parametrize("text", ["", "run r { model = tiny, traffic = t, sys"], ids=["empty", "truncated"])
def test_an_empty_or_truncated_source_is_a_located_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "short.infera"
    path.write_text(text)
    with pytest.raises((infera.InferaSyntaxError, infera.CompileError)) as info:
        infera.compile_file(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------------------------------------
# Traces: load_trace and `trace = "..."`


def trace_program(path: Path) -> tuple[str, int]:
    """A program replaying ``path``, and the line of its ``trace =`` field."""
    text = program(f'traffic tr {{ trace = "{path}" }}\nsystem s {{ pool p: 1 x toy }}\n'
                   "run r { model = tiny, traffic = tr, system = s }\n")
    return text, next(i for i, line in enumerate(text.splitlines(), 1) if "trace =" in line)


def assert_compile_error_at_trace(path: Path, words: str) -> infera.CompileError:
    text, line = trace_program(path)
    with pytest.raises(infera.CompileError) as info:
        infera.compile_text(text, file="replay.infera")
    err = info.value
    assert err.loc is not None and (err.loc.file, err.loc.line) == ("replay.infera", line)
    assert words in err.reason and str(path) in err.reason
    return err


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_a_trace_that_cannot_be_read_is_a_located_compile_error(tmp_path: Path, kind: str) -> None:
    assert_compile_error_at_trace(bad_path(tmp_path, kind, ".csv"), PATH_KINDS[kind])


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_load_trace_raises_a_trace_error_for_each_bad_path(tmp_path: Path, kind: str) -> None:
    path = bad_path(tmp_path, kind, ".csv")
    with pytest.raises(TraceError) as info:
        load_trace(path)
    assert isinstance(info.value, infera.FileError) and isinstance(info.value, ValueError)
    assert info.value.path == str(path) and PATH_KINDS[kind] in info.value.reason


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_a_jsonl_trace_that_cannot_be_read_is_a_located_compile_error(tmp_path: Path, kind: str) -> None:
    path = bad_path(tmp_path, kind, ".jsonl")
    with pytest.raises(TraceError, match=PATH_KINDS[kind]):
        load_trace(path, format="mooncake")
    assert_compile_error_at_trace(path, PATH_KINDS[kind])


def test_an_over_long_trace_path_is_a_compile_error_not_an_os_error() -> None:
    # The first finding of the coverage-guided fuzzer: the path's length made Path.exists() raise OSError.
    err = assert_compile_error_at_trace(Path("t" * 5000 + ".csv"), "file name too long")
    assert err.loc.column == 22


@pytest.mark.parametrize("kind", TRACE_CONTENTS)
def test_trace_contents_that_cannot_be_read_are_located(tmp_path: Path, kind: str) -> None:
    suffix, data, words = TRACE_CONTENTS[kind]
    path = tmp_path / f"trace{suffix}"
    path.write_bytes(data)
    with pytest.raises(TraceError) as info:
        load_trace(path)
    assert words in str(info.value)
    assert_compile_error_at_trace(path, words)


def test_a_trace_name_with_glob_characters_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(TRACE)
    (tmp_path / "[a].csv").write_text(TRACE.replace("0,10,2", "0,11,2"))
    assert load_trace(tmp_path / "[a].csv").prompt_tokens.tolist() == [11, 20]
    with pytest.raises(TraceError, match="not found"):
        load_trace(tmp_path / "*.csv")


# ----------------------------------------------------------------------------------------------------------
# Calibration files: load_profile, `profile = "..."`, calibrate (reading and writing)


def profile_program(path: Path) -> tuple[str, int]:
    text = program(f'chip measured extends toy {{ profile = "{path}" }}\n'
                   "traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 2 }\n"
                   "system s { pool p: 1 x measured }\nrun r { model = tiny, traffic = t, system = s }\n")
    return text, next(i for i, line in enumerate(text.splitlines(), 1) if "profile =" in line)


def assert_compile_error_at_profile(path: Path, words: str) -> None:
    text, line = profile_program(path)
    with pytest.raises(infera.CompileError) as info:
        infera.compile_text(text, file="measured.infera")
    err = info.value
    assert err.loc is not None and (err.loc.file, err.loc.line) == ("measured.infera", line)
    assert words in err.reason and str(path) in err.reason


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_a_profile_that_cannot_be_read_is_a_profile_error(tmp_path: Path, kind: str) -> None:
    path = bad_path(tmp_path, kind, ".csv")
    for read in (load_profile, calibrate):
        with pytest.raises(ProfileError) as info:
            read(path)
        assert isinstance(info.value, infera.FileError) and isinstance(info.value, ValueError)
        assert info.value.path == str(path) and PATH_KINDS[kind] in info.value.reason
    assert_compile_error_at_profile(path, PATH_KINDS[kind])


@pytest.mark.parametrize("kind", PROFILE_CONTENTS)
def test_profile_contents_that_cannot_be_read_are_located(tmp_path: Path, kind: str) -> None:
    data, line, words = PROFILE_CONTENTS[kind]
    path = tmp_path / "profile.csv"
    path.write_bytes(data)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert words in info.value.reason
    assert_compile_error_at_profile(path, words)


@pytest.mark.parametrize("kind", ["directory", "device_folder", "missing_folder", "too_long", "nul"])
def test_a_profile_that_cannot_be_written_is_a_file_error(tmp_path: Path, kind: str) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text(PROFILE)
    out = {"directory": tmp_path, "device_folder": Path(os.devnull) / "p.csv",
           "missing_folder": tmp_path / "no" / "p.csv", "too_long": tmp_path / ("p" * 300),
           "nul": tmp_path / "p\0.csv"}[kind]
    with pytest.raises(infera.FileError) as info:
        calibrate(raw, out)
    assert info.value.path == str(out)


# ----------------------------------------------------------------------------------------------------------
# Plans: Plan.load and Plan.save


@pytest.fixture(scope="module")
def plan() -> infera.Plan:
    return infera.compile_text(program("traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, "
                                       "requests = 3 }\nsystem s { pool p: 1 x toy }\n"
                                       "run r { model = tiny, traffic = t, system = s }\n"))


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_a_plan_path_that_cannot_be_read_is_a_file_error(tmp_path: Path, kind: str) -> None:
    path = bad_path(tmp_path, kind, ".arrow")
    for load in (infera.Plan.load, infera.simulate):
        with pytest.raises(infera.FileError) as info:
            load(path)
        assert info.value.path == str(path) and PATH_KINDS[kind] in info.value.reason


@pytest.mark.parametrize("cut", [0, 8, 100, -100, -1], ids=["empty", "magic", "head", "tail", "last_byte"])
def test_an_empty_or_truncated_plan_file_is_a_plan_error(plan: infera.Plan, tmp_path: Path, cut: int) -> None:
    whole = tmp_path / "whole.arrow"
    plan.save(whole)
    path = tmp_path / "cut.arrow"
    path.write_bytes(whole.read_bytes()[:cut])
    with pytest.raises(infera.PlanError, match="cannot read plan"):
        infera.Plan.load(path)


@pytest.mark.parametrize("kind", ["directory", "device_folder", "missing_folder", "too_long", "nul"])
def test_a_plan_that_cannot_be_saved_is_a_file_error(plan: infera.Plan, tmp_path: Path, kind: str) -> None:
    out = {"directory": tmp_path, "device_folder": Path(os.devnull) / "p.arrow",
           "missing_folder": tmp_path / "no" / "p.arrow", "too_long": tmp_path / ("p" * 300),
           "nul": tmp_path / "p\0.arrow"}[kind]
    with pytest.raises(infera.FileError) as info:
        plan.save(out)
    assert info.value.path == str(out) and info.value.reason.startswith("cannot ")


# ----------------------------------------------------------------------------------------------------------
# Results: write_parquet


@pytest.mark.parametrize("kind", ["file_as_folder", "under_a_file", "too_long", "nul", "table_is_a_folder"])
def test_results_that_cannot_be_written_are_a_file_error(plan: infera.Plan, tmp_path: Path, kind: str) -> None:
    results = infera.simulate(plan)
    (tmp_path / "file").write_text("")
    out = {"file_as_folder": tmp_path / "file", "under_a_file": tmp_path / "file" / "out",
           "too_long": tmp_path / ("o" * 300), "nul": tmp_path / "o\0", "table_is_a_folder": tmp_path / "out"}[kind]
    if kind == "table_is_a_folder":
        (out / "requests.parquet").mkdir(parents=True)
    with pytest.raises(infera.FileError) as info:
        results.write_parquet(out)
    assert info.value.path in (str(out), str(out / "requests.parquet"))
    assert info.value.reason.startswith("cannot ")


# ----------------------------------------------------------------------------------------------------------
# The CLI: each failure is a message on stderr and exit status 2


def cli_fails(argv: list[str], capsys: pytest.CaptureFixture[str], words: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert words in captured.err, captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("kind", PATH_KINDS)
@pytest.mark.parametrize("command", ["run", "check", "compile", "capacity"])
def test_cli_sources_that_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
                                         kind: str) -> None:
    path = bad_path(tmp_path, kind, ".infera")
    extra = ["-o", str(tmp_path / "p.arrow")] if command == "compile" else []
    cli_fails([command, str(path), *extra], capsys, PATH_KINDS[kind])


@pytest.mark.parametrize("kind", PATH_KINDS)
def test_cli_inputs_that_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    cli_fails(["simulate", str(bad_path(tmp_path, kind, ".arrow"))], capsys, PATH_KINDS[kind])
    cli_fails(["calibrate", str(bad_path(tmp_path, kind, ".csv")), "-o", str(tmp_path / "p.csv")], capsys,
              PATH_KINDS[kind])


def test_cli_trace_and_profile_failures_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, line = trace_program(Path("t" * 5000 + ".csv"))
    src = tmp_path / "replay.infera"
    src.write_text(text)
    cli_fails(["check", str(src)], capsys, f"{src}:{line}:22: error: traffic 'tr': trace ")
    (tmp_path / "p.csv").write_bytes(PROFILE_CONTENTS["not_utf8"][0])
    text, line = profile_program(tmp_path / "p.csv")
    src.write_text(text)
    cli_fails(["run", str(src)], capsys, f"{src}:{line}:")
    cli_fails(["calibrate", str(tmp_path / "p.csv"), "-o", str(tmp_path / "q.csv")], capsys,
              f"{tmp_path / 'p.csv'}:3: column 4 is not valid UTF-8")


@pytest.mark.parametrize("kind", ["file_as_folder", "too_long", "nul"])
def test_cli_outputs_that_cannot_be_written(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    src = tmp_path / "small.infera"
    src.write_text(program("traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 3 }\n"
                           "system s { pool p: 1 x toy }\nrun r { model = tiny, traffic = t, system = s }\n"))
    raw = tmp_path / "raw.csv"
    raw.write_text(PROFILE)
    (tmp_path / "file").write_text("")
    out = str({"file_as_folder": tmp_path / "file", "too_long": tmp_path / ("o" * 300), "nul": tmp_path / "o\0"}[kind])
    plan = tmp_path / "plan.arrow"
    assert main(["compile", str(src), "-o", str(plan)]) == 0
    cli_fails(["run", str(src), "--out", out], capsys, "cannot")
    cli_fails(["simulate", str(plan), "--out", out], capsys, "cannot")
    cli_fails(["capacity", str(src), "--out", out], capsys, "cannot")
    if kind != "file_as_folder":
        cli_fails(["compile", str(src), "-o", out], capsys, "cannot")
        cli_fails(["calibrate", str(raw), "-o", out], capsys, "cannot")
