"""Request traces replayed from files: the format, then what of the trace is replayed and when.

The readers (:mod:`.trace_table`: CSV, Parquet, the Azure traces; :mod:`.trace_jsonl`: JSONL, Mooncake) give
the rows as they are in the file; this module applies the options in a fixed order (docs/traces.md):

1. the trace must be in arrival order (``sort=True`` sorts it, stably, instead of refusing it);
2. times are counted from the first request; ``window`` keeps the requests in ``[start, end)`` of that
   trace time and counts from ``start``;
3. ``sample`` keeps that fraction of them, chosen with ``sample_seed``;
4. ``time_scale`` multiplies the times (0.5 replays twice as fast);
5. ``duration_s`` keeps those arriving before it (in replay time) and ``requests`` the first N.

Block hashes (Mooncake's ``hash_ids``) become the stream's prefix segments, chained (:func:`.prefix.chain`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from infera.exceptions import FileError
from infera.files import input_path
from infera.plan.traffic.prefix import chain
from infera.plan.traffic.prefix_trace import read_prefixes
from infera.plan.traffic.stream import Stream
from infera.plan.traffic.trace_jsonl import read_jsonl
from infera.plan.traffic.trace_rows import MOONCAKE_BLOCK_TOKENS, TraceError, TraceRows
from infera.plan.traffic.trace_table import TRACE_COLUMNS, read_table

__all__ = ["FORMATS", "TRACE_COLUMNS", "TraceError", "load_trace", "trace_format"]

#: Trace formats, for ``format = ...`` (the file's suffix decides when it is not given).
FORMATS = ("csv", "parquet", "jsonl", "mooncake")
#: Suffix → format; any other suffix is read as CSV.
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def trace_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format a trace is read in: ``fmt`` when given, else the one its suffix names."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"trace format {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    return SUFFIXES.get(Path(path).suffix.lower(), "csv")


def load_trace(path: Path | str, *, format: str | None = None, time_scale: float = 1.0,
               window: tuple[float | None, float | None] | None = None, sample: float | None = None,
               sample_seed: int = 0, requests: int | None = None, duration_s: float | None = None,
               sort: bool = False) -> Stream:
    """Reads a request trace (CSV, Parquet, JSONL or Mooncake; ``format`` overrides the suffix) into a stream.

    Arrival times are seconds, timestamps (parsed as datetimes) or, in Mooncake traces, milliseconds. Bad rows
    (a missing, non-numeric, fractional, zero or negative token count, a time that is not one, an arrival
    earlier than the row before it unless ``sort``) are errors naming the row, or the line of a JSONL file.
    ``window = (start, end)`` (seconds of trace time from the first request, either end ``None`` for open),
    ``sample`` (a fraction in (0, 1], drawn with ``sample_seed``), ``time_scale``, ``duration_s`` and
    ``requests`` apply in that order (see the module's docstring).
    """
    _check_options(time_scale, window, sample, requests, duration_s)
    try:
        path = input_path(path)
    except FileError as exc:
        raise TraceError(path, exc.reason) from None
    fmt = trace_format(path, format)
    if fmt in ("csv", "parquet"):
        rows = read_table(path, fmt)
    else:
        rows = read_jsonl(path, "mooncake" if fmt == "mooncake" else "jsonl" if format == "jsonl" else None)
    order = _arrival_order(path, rows, sort)
    t = rows.arrival[order]
    t = t - t[0]
    keep = np.arange(len(t))
    start, end = window if window is not None else (None, None)
    if start is not None:
        keep = keep[t[keep] >= start]
    if end is not None:
        keep = keep[t[keep] < end]
    if sample is not None and sample < 1.0:
        k = int(round(sample * len(keep)))
        rng = np.random.Generator(np.random.PCG64(sample_seed))
        keep = keep[np.sort(rng.choice(len(keep), size=k, replace=False))]
    arrival = (t[keep] - (start or 0.0)) * time_scale
    if duration_s is not None:
        inside = arrival < duration_s
        keep, arrival = keep[inside], arrival[inside]
    if requests is not None:
        keep, arrival = keep[:requests], arrival[:requests]
    if len(keep) == 0:
        raise TraceError(path, "has no request left after the window/sample/duration/requests limits")
    idx = order[keep]
    stream = Stream(arrival, rows.prompt[idx], rows.output[idx])
    if rows.block_offsets is not None and rows.block_names is not None:
        _prefixes(stream, rows.block_offsets, rows.block_names, idx)
    elif rows.frame is not None:
        def fail(message: str, row: int | None) -> None:
            raise TraceError(path, message, None if row is None else rows.row(row), rows.unit)

        for key, value in read_prefixes(rows.frame, idx, stream.prompt_tokens, fail).items():
            setattr(stream, key, value)
    return stream


def _check_options(time_scale: float, window: tuple[float | None, float | None] | None, sample: float | None,
                   requests: int | None, duration_s: float | None) -> None:
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}")
    if window is not None:
        start, end = window
        for x in (start, end):
            if x is not None and not (math.isfinite(x) and x >= 0):
                raise ValueError(f"a trace window's ends must be finite times >= 0, got {window!r}")
        if start is not None and end is not None and end <= start:
            raise ValueError(f"a trace window must end after it starts, got {window!r}")
    if sample is not None and not 0 < sample <= 1:
        raise ValueError(f"sample must be a fraction in (0, 1], got {sample!r}")
    if requests is not None and requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests!r}")
    # A duration of 0 (or less) is not refused here: it leaves no request, which the trace's error says, as
    # it did before the options were checked (the trace fuzz target's first finding on this code).
    if duration_s is not None and math.isnan(duration_s):
        raise ValueError("duration_s must be a time, got NaN")


def _arrival_order(path: Path, rows: TraceRows, sort: bool) -> np.ndarray:
    """The rows in arrival order: as they are, or stably sorted when ``sort``; a row that arrives before the
    row above it is an error otherwise."""
    back = np.flatnonzero(np.diff(rows.arrival) < 0)
    if len(back) == 0:
        return np.arange(len(rows.arrival))
    if sort:
        return np.argsort(rows.arrival, kind="stable")
    i = int(back[0]) + 1
    gap = rows.arrival[i - 1] - rows.arrival[i]
    raise TraceError(path, f"arrives {gap:.6g} s before {rows.unit} {rows.row(i - 1)} ({rows.names[0]}): a trace must "
                           f"be in arrival order (sort = true replays it sorted)", rows.row(i), rows.unit)


def _prefixes(stream: Stream, offsets: np.ndarray, names: np.ndarray, idx: np.ndarray) -> None:
    """The kept requests' block hashes as prefix segments: block j of a prompt of L tokens holds
    min(512, L - 512 j) tokens, and its identity is chained from the blocks before it."""
    counts = np.diff(offsets)[idx]
    new_offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    # Position of every kept block in the file's block list, and its index j within its prompt.
    within = np.arange(int(new_offsets[-1])) - np.repeat(new_offsets[:-1], counts)
    at = np.repeat(offsets[:-1][idx], counts) + within
    prompt = np.repeat(stream.prompt_tokens.astype(np.int64), counts)
    stream.prefix_offsets = new_offsets
    stream.prefix_ids = chain(new_offsets, names[at])
    stream.prefix_tokens = np.minimum(MOONCAKE_BLOCK_TOKENS, prompt - MOONCAKE_BLOCK_TOKENS * within).astype(np.uint32)
