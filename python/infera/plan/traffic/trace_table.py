"""CSV and Parquet traces, the Azure LLM inference traces (2023 and 2024) among them, read as they are.

The Azure traces (Azure/AzurePublicDataset, AzureLLMInferenceDataset2023.md and 2024.md) have the columns
``TIMESTAMP,ContextTokens,GeneratedTokens``. The 2023 files (code, conversation) write times with seven
fractional digits (``2023-11-16 18:17:03.9799600``); the 2024 week-long files write them in UTC with an
offset and with or without a fraction in the same file (``2024-05-12 00:00:00.001163+00:00`` and
``2024-05-12 00:00:00+00:00``). Both parse as datetimes here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from infera.files import parquet_frame, utf8_position
from infera.plan.traffic.trace_rows import TraceError, TraceRows, check_counts, check_times

#: Accepted column names (first match wins): ours, then the Azure LLM inference traces' and common ones.
TRACE_COLUMNS = {
    "arrival": ("arrival_s", "timestamp", "TIMESTAMP", "arrival_time", "time"),
    "prompt": ("prompt_tokens", "ContextTokens", "input_tokens", "input_length", "prompt_len"),
    "output": ("output_tokens", "GeneratedTokens", "output_length", "output_len"),
}


def read_table(path: Path, fmt: str) -> TraceRows:
    """The rows of a CSV (``fmt == "csv"``) or Parquet file; a row's number counts the header as row 1."""
    import polars as pl

    try:
        if fmt == "parquet":
            df = parquet_frame(path)
        else:
            # glob=False: a name with * or [ in it is one file, not a pattern.
            df = pl.read_csv(path, infer_schema_length=10_000, glob=False)
    # Polars raises several types for unreadable files, and panics (a BaseException) on some damaged ones.
    except (Exception, pl.exceptions.PanicException) as exc:  # noqa: BLE001
        raise TraceError(path, f"cannot be read: {_unreadable(path, fmt, exc)}") from None
    assert isinstance(df, pl.DataFrame)
    cols = {}
    for role, names in TRACE_COLUMNS.items():
        found = next((n for n in names if n in df.columns), None)
        if found is None:
            raise TraceError(path, f"has no {role} column (one of {', '.join(names)}); it has {', '.join(df.columns)}")
        cols[role] = found
    if df.height == 0:
        raise TraceError(path, "has no rows")
    arrival = _seconds(path, df.get_column(cols["arrival"]))
    counts = []
    for role in ("prompt", "output"):
        raw = df.get_column(cols[role])
        c = raw if raw.dtype.is_numeric() else raw.cast(pl.Float64, strict=False)
        values = c.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        counts.append((values, raw, cols[role]))
    # Checked in the order of the columns' roles so that one bad row gives the same message every time.
    arrival = check_times(path, arrival, df.get_column(cols["arrival"]), cols["arrival"], 2, "row")
    prompt = check_counts(path, *counts[0], 2, "row")
    output = check_counts(path, *counts[1], 2, "row")
    return TraceRows(arrival, prompt, output, 2, "row", (cols["arrival"], cols["prompt"], cols["output"]),
                     frame=df)


def _seconds(path: Path, arr: object) -> np.ndarray:
    """An arrival column as float64 seconds (NaN where missing): numbers as they are, datetimes (or strings
    that parse as datetimes) as seconds since the earliest of them."""
    import polars as pl

    assert isinstance(arr, pl.Series)
    if arr.dtype == pl.String:
        try:
            parsed = arr.str.to_datetime(strict=False)
        except pl.exceptions.ComputeError:  # no datetime format fits the first values at all
            parsed = pl.Series(arr.name, [None] * len(arr), dtype=pl.Datetime)
        bad = parsed.is_null() & arr.is_not_null()
        if bad.any():
            row = int(bad.arg_max())  # type: ignore[arg-type]
            raise TraceError(path, f"arrival '{arr[row]}' is not a time", row + 2)
        arr = parsed
    if arr.dtype.is_temporal():
        if arr.is_not_null().any():  # with no time at all there is nothing to shift; the row check says so
            # Shifted inside polars: the earliest time as a Python datetime fails before year 1.
            first = pl.col(arr.name)
            arr = arr.to_frame().select((first - first.min()).dt.total_microseconds()).to_series()
            arr = arr.cast(pl.Float64) / 1e6
    elif not arr.dtype.is_numeric():
        raise TraceError(path, f"has arrivals ({arr.name}) that are neither seconds nor timestamps")
    return arr.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _unreadable(path: Path, fmt: str, exc: BaseException) -> str:
    """Why polars could not read a trace; for text that is not UTF-8, where the first bad byte is."""
    import polars as pl

    if isinstance(exc, pl.exceptions.PanicException):
        return f"the reader failed on it, so it is likely damaged (polars: {str(exc).splitlines()[0][:200]})"
    if fmt != "parquet":
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                line, column = utf8_position(data, bad.start)
                return f"line {line}, column {column} is not valid UTF-8 (byte 0x{data[bad.start]:02x})"
    return str(exc)
