"""Request traces replayed from files (CSV, Parquet)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from infera.exceptions import FileError
from infera.files import input_path, utf8_position
from infera.plan.traffic.prefix_trace import read_prefixes
from infera.plan.traffic.stream import Stream


class TraceError(FileError, ValueError):
    """A trace file that cannot be replayed: ``reason`` says why, ``line`` names the row (the header is
    row 1) where one is to blame."""

    def __str__(self) -> str:
        if self.line is None:
            return f"trace {self.path} {self.reason}"
        return f"trace {self.path} row {self.line}: {self.reason}"


#: Accepted column names (first match wins): ours, then the Azure LLM inference traces' and common ones.
TRACE_COLUMNS = {
    "arrival": ("arrival_s", "timestamp", "TIMESTAMP", "arrival_time", "time"),
    "prompt": ("prompt_tokens", "ContextTokens", "input_tokens", "input_length", "prompt_len"),
    "output": ("output_tokens", "GeneratedTokens", "output_length", "output_len"),
}


def load_trace(path: Path | str, *, time_scale: float = 1.0, requests: int | None = None,
               duration_s: float | None = None) -> Stream:
    """Reads a request trace (CSV or Parquet) into a stream.

    Arrival times may be seconds or timestamps (parsed as datetimes); they are shifted so the first request
    arrives at 0, multiplied by ``time_scale`` (0.5 replays twice as fast) and sorted (stably). Missing,
    non-numeric, negative or zero token counts are errors naming the row. ``requests`` keeps the first N
    requests (after sorting), ``duration_s`` those arriving before it.
    """
    import polars as pl
    import pyarrow.parquet as pq

    try:
        path = input_path(path)
    except FileError as exc:
        raise TraceError(path, exc.reason) from None
    try:
        if path.suffix in (".parquet", ".pq"):
            # pyarrow's reader, not polars': polars aborts the process on some damaged files (a failed
            # allocation of 2**61 bytes), where pyarrow raises.
            df = pl.from_arrow(pq.read_table(path))
        else:
            # glob=False: a name with * or [ in it is one file, not a pattern.
            df = pl.read_csv(path, infer_schema_length=10_000, glob=False)
    # Polars raises several types for unreadable files, and panics (a BaseException) on some damaged ones.
    except (Exception, pl.exceptions.PanicException) as exc:  # noqa: BLE001
        raise TraceError(path, f"cannot be read: {_unreadable(path, exc)}") from None
    cols = {}
    for role, names in TRACE_COLUMNS.items():
        found = next((n for n in names if n in df.columns), None)
        if found is None:
            raise TraceError(path, f"has no {role} column (one of {', '.join(names)}); it has {', '.join(df.columns)}")
        cols[role] = found
    if df.height == 0:
        raise TraceError(path, "has no rows")
    arr = df.get_column(cols["arrival"])
    if arr.dtype == pl.String:
        try:
            parsed = arr.str.to_datetime(strict=False)
        except pl.exceptions.ComputeError:  # no datetime format fits the first values at all
            parsed = pl.Series(arr.name, [None] * len(arr), dtype=pl.Datetime)
        bad = parsed.is_null() & arr.is_not_null()
        if bad.any():
            row = int(bad.arg_max())
            raise TraceError(path, f"arrival '{arr[row]}' is not a time", row + 2)
        arr = parsed
    if arr.dtype.is_temporal():
        if arr.is_not_null().any():  # with no time at all there is nothing to shift; the row check says so
            # Shifted inside polars: the earliest time as a Python datetime fails before year 1.
            first = pl.col(arr.name)
            arr = arr.to_frame().select((first - first.min()).dt.total_microseconds()).to_series()
            arr = arr.cast(pl.Float64) / 1e6
    elif not arr.dtype.is_numeric():
        raise TraceError(path, f"has arrivals ({cols['arrival']}) that are neither seconds nor timestamps")
    arr = arr.cast(pl.Float64)
    out = {"arrival": arr}
    for role in ("prompt", "output"):
        c = df.get_column(cols[role])
        if not c.dtype.is_numeric():
            c = c.cast(pl.Float64, strict=False)
        out[role] = c.cast(pl.Float64)
    for role, c in out.items():
        bad = c.is_null() | c.is_nan() | (c < (0 if role == "arrival" else 1)) | c.is_infinite()
        if role != "arrival":
            bad = bad | (c.fill_nan(0).fill_null(0) % 1 != 0) | (c > 100_000_000)
        if bad.any():
            row = int(bad.arg_max())
            raise TraceError(path, f"{cols[role]} = {df.get_column(cols[role])[row]!r} is not a valid "
                                   f"{'time' if role == 'arrival' else 'token count'}", row + 2)
    arrival = out["arrival"].to_numpy()
    arrival = (arrival - arrival.min()) * time_scale
    order = np.argsort(arrival, kind="stable")
    arrival = arrival[order]
    prompt = out["prompt"].to_numpy()[order].astype(np.uint32)
    output = out["output"].to_numpy()[order].astype(np.uint32)
    keep = np.ones(len(arrival), dtype=bool)
    if duration_s is not None:
        keep &= arrival < duration_s
    idx = np.flatnonzero(keep)
    if requests is not None:
        idx = idx[:requests]
    if len(idx) == 0:
        raise TraceError(path, "has no request left after the duration/requests limits")
    def fail(message: str, row: int | None) -> None:
        raise TraceError(path, message, None if row is None else row + 2)

    return Stream(arrival[idx], prompt[idx], output[idx], **read_prefixes(df, order[idx], prompt[idx], fail))


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why polars could not read a trace; for text that is not UTF-8, where the first bad byte is."""
    import polars as pl

    if isinstance(exc, pl.exceptions.PanicException):
        return f"the reader failed on it, so it is likely damaged (polars: {str(exc).splitlines()[0][:200]})"
    if path.suffix not in (".parquet", ".pq"):
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                line, column = utf8_position(data, bad.start)
                return f"line {line}, column {column} is not valid UTF-8 (byte 0x{data[bad.start]:02x})"
    return str(exc)
