"""What the atheris targets (fuzz/python/) found, each kept as an ordinary test: the input, and infera's own
error (or result) it now gives. Inputs too irregular to write by hand are files in ``inputs/``, as the fuzzer
wrote them. The over-long trace path, the first finding, is in ``test_io_boundaries.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import infera
from helpers import program
from infera.calibrate import ProfileError, load_profile
from infera.plan.traffic import TraceError, load_trace

INPUTS = Path(__file__).resolve().parent / "inputs"


def test_plan_file_with_an_integer_width_arrow_does_not_know_is_a_plan_error() -> None:
    # Two bytes of a saved plan's footer changed an integer column's bit width to 122: pyarrow raised
    # ArrowNotImplementedError ("Integers not in cstdint"), which Plan.load let through.
    with pytest.raises(infera.PlanError, match="cannot read plan: Integers not in cstdint"):
        infera.Plan.load(INPUTS / "plan_integer_width.arrow")


def test_plan_file_with_a_column_name_that_is_not_utf8_is_a_plan_error() -> None:
    # pyarrow decodes names only when asked: the UnicodeDecodeError came out of infera.check, far from the file.
    with pytest.raises(infera.PlanError, match="a column name is not UTF-8"):
        infera.Plan.load(INPUTS / "plan_name_not_utf8.arrow")


def test_parquet_trace_that_made_polars_panic_is_a_trace_error() -> None:
    # Polars panicked (PanicException, a BaseException) on this damaged file, past `except Exception`; Parquet
    # traces are now read by pyarrow (see the next finding), which raises.
    path = INPUTS / "trace_polars_panic.parquet"
    with pytest.raises(TraceError, match="cannot be read: ") as info:
        load_trace(path)
    assert info.value.path == str(path)


def test_trace_whose_arrival_column_is_all_empty_names_the_row(tmp_path: Path) -> None:
    # A column of empty strings parses as all-null datetimes; shifting them by their minimum (None) raised
    # polars' InvalidOperationError.
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n,10,2\n")
    with pytest.raises(TraceError, match="row 2: arrival_s = None is not a valid time"):
        load_trace(path)


@pytest.mark.parametrize("tp", ["1.3e122", "000000001756924348", "65537"])
def test_profile_with_a_tp_beyond_the_core_s_range_is_a_profile_error(tmp_path: Path, tp: str) -> None:
    # tp = 1.3e122 passed the whole-number check and overflowed Polars' integers in infera.calibrate;
    # tp = 1756924348 compiled into a plan the core rejects (profiles.tp is at most 65,536).
    path = tmp_path / "p.csv"
    path.write_text(f"operator,tokens,tp,seconds\nqkv_proj,1,{tp},1e-6\n")
    for read in (load_profile, infera.calibrate):
        with pytest.raises(ProfileError, match="tp is too large") as info:
            read(path)
        assert info.value.line == 2


def test_profile_at_the_core_s_largest_tp_compiles(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("operator,tokens,tp,seconds\nqkv_proj,1,65536,1e-6\n")
    infera.check(infera.compile_text(program(
        'chip measured extends toy { profile = "p.csv" }\n'
        "traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 2 }\n"
        "system s { pool p: 1 x measured }\nrun r { model = tiny, traffic = t, system = s }\n"),
        file=str(tmp_path / "m.infera")))


def test_profile_row_with_more_fields_than_the_header_is_a_profile_error(tmp_path: Path) -> None:
    # Seen while writing the profile target, not found by it: csv.DictReader files the extra fields under
    # the key None as a list, and stripping that list raised AttributeError.
    path = tmp_path / "p.csv"
    path.write_text("operator,tokens,seconds\nqkv_proj,1,1e-6,7\n")
    with pytest.raises(ProfileError, match="4 fields, but the header names 3") as info:
        load_profile(path)
    assert info.value.line == 2


def test_saved_plan_without_the_optional_role_column_has_a_summary(tmp_path: Path) -> None:
    # docs/plan.md makes pools.role optional (mixed when absent); the core accepted such a plan and the
    # summary then failed with KeyError: 'role'.
    plan = infera.compile_text(program("traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, "
                                       "requests = 3 }\nsystem s { pool p: 1 x toy }\n"
                                       "run r { model = tiny, traffic = t, system = s }\n"))
    pools = plan["pools"]
    without = infera.Plan({**plan.tables, "pools": pools.remove_column(pools.schema.get_field_index("role"))})
    without.save(tmp_path / "plan.arrow")
    results = infera.simulate(tmp_path / "plan.arrow")
    assert results.pools["role"].to_list() == ["mixed"]
    assert results.summary.height == 1


def test_trace_with_a_timestamp_before_year_one_replays(tmp_path: Path) -> None:
    # "0-11-16 18:15:48.5" parses as a datetime in year 0; taking the earliest time as a Python datetime to
    # shift the others by raised ValueError ("year 0 is out of range").
    path = tmp_path / "t.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n1011-11-16 18:15:46.000000,10,2322\n"
                    "0-11-16 18:15:48.5,20,2\n")
    # The rows are out of order, which is an error since traces are no longer sorted silently: sort=True.
    stream = load_trace(path, sort=True)
    assert stream.arrival_s[0] == 0.0 and stream.prompt_tokens.tolist() == [20, 10]


def test_plan_file_whose_version_is_not_utf8_is_a_plan_error() -> None:
    # One changed byte made the schema's infera.plan_version value undecodable: UnicodeDecodeError out of
    # Plan.from_batch.
    with pytest.raises(infera.PlanError, match="plan format version .* is not supported"):
        infera.Plan.load(INPUTS / "plan_version_not_utf8.arrow")


def test_parquet_trace_that_made_polars_abort_is_a_trace_error() -> None:
    # Found by the trace target's second campaign: a page header claiming a huge number of values made polars
    # try to allocate 2**61 bytes, and a failed allocation in Rust aborts, which no Python code can catch.
    # pyarrow now reads Parquet traces and reports "Invalid page header". In a child process, so that an abort
    # would not take the test run with it.
    code = ("import sys\nfrom infera.plan.traffic import TraceError, load_trace\n"
            "try:\n    load_trace(sys.argv[1])\nexcept TraceError:\n    print('TraceError')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(INPUTS / "trace_polars_abort.parquet")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the child died with status {proc.returncode}"
    assert proc.stdout.strip() == "TraceError", proc.stderr[-2000:]


def test_plan_file_the_binding_cannot_import_is_a_plan_error() -> None:
    # Found by the plan target's second campaign: Plan.load accepts the file (pyarrow validates it in full), but
    # arrow-rs refuses the batch on import ("Invalid argument error: Struct(...)") and the binding raises that
    # as ArrowException.
    plan = infera.Plan.load(INPUTS / "plan_binding_arrow_exception.arrow")
    with pytest.raises(infera.PlanError):
        infera.check(plan)


def test_plan_file_with_a_nul_in_a_column_name_is_a_plan_error() -> None:
    # The plan campaign renamed pools.chip to "chip\0\0": the core, reading names through the C data
    # interface, still saw "chip" and simulated the plan, and the summary then failed with KeyError 'chip'.
    with pytest.raises(infera.PlanError, match="pools: the name 'chip.x00.x00' holds a NUL character"):
        infera.Plan.load(INPUTS / "plan_nul_column_name.arrow")
def test_trace_with_a_zero_duration_is_a_trace_error(tmp_path: Path) -> None:
    # Found by the trace target while load_trace's options gained checks (window, sample): duration_s = 0, which
    # the target draws from a zero byte, raised ValueError from the new check instead of the TraceError the
    # target's contract (and earlier versions) give. A duration that keeps nothing is the trace's error again.
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,prompt_tokens,output_tokens\n0,10,2\n")
    with pytest.raises(TraceError, match="has no request left after the window/sample/duration/requests limits"):
        load_trace(path, duration_s=0.0)


@pytest.mark.parametrize(("name", "printed"), [("trace_name_not_utf8.parquet",
                                                 "cannot be read: the name of column 4 is not valid UTF-8"),
                                                ("trace_metadata_not_utf8.parquet", "rows 2")])
def test_parquet_trace_with_strings_that_are_not_utf8_gives_no_panic(name: str, printed: str) -> None:
    # The trace target's million-execution campaign: polars panicked converting pyarrow's table when a column
    # name or the file's metadata was not UTF-8 (a Rust backtrace on stderr, caught only as a
    # PanicException). Names are now checked and the metadata dropped before polars sees the table.
    code = ("from infera.plan.traffic import TraceError, load_trace\n"
            "try:\n    print('rows', len(load_trace(%r).arrival_s))\nexcept TraceError as e:\n"
            "    print('TraceError', e)\n" % str(INPUTS / name))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert printed in proc.stdout, proc.stdout
    assert "panicked" not in proc.stderr, proc.stderr[-2000:]


def test_empirical_lengths_from_a_parquet_file_with_a_name_that_is_not_utf8_are_a_compile_error(tmp_path) -> None:
    import shutil
    shutil.copy(INPUTS / "trace_name_not_utf8.parquet", tmp_path / "lengths.parquet")
    src = tmp_path / "t.infera"
    src.write_text(program("""
traffic t { arrivals = poisson(1 /s), prompt = empirical("lengths.parquet", column = "prompt_tokens"),
            output = 4 tokens, requests = 2 }
run r { model = tiny, traffic = t, system = s }
system s { pool p: 1 x toy }
"""))
    with pytest.raises(infera.CompileError, match="the name of column 4 is not valid UTF-8"):
        infera.compile_file(src)
