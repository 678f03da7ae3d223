"""What every trace reader produces: the rows of a trace as they are in the file, checked, before any option.

A reader (:mod:`.trace_table` for CSV and Parquet, :mod:`.trace_jsonl` for JSONL and Mooncake) turns a file
into :class:`TraceRows` or raises :class:`TraceError` naming the row or line to blame. Nothing here changes a
value: bad rows are reported, never fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from infera.exceptions import FileError
from infera.plan.traffic.lengths import MAX_TOKENS

#: Tokens per ``hash_ids`` block in a Mooncake trace (the published traces' block size).
MOONCAKE_BLOCK_TOKENS = 512


class TraceError(FileError, ValueError):
    """A trace file that cannot be replayed: ``reason`` says why, ``line`` names the row (CSV and Parquet: the
    header is row 1) or the line (JSONL, from 1) where one is to blame; ``unit`` says which of the two."""

    def __init__(self, path: object, reason: str, line: int | None = None, unit: str = "row") -> None:
        self.unit = unit
        super().__init__(path, reason, line)

    def __str__(self) -> str:
        if self.line is None:
            return f"trace {self.path} {self.reason}"
        return f"trace {self.path} {self.unit} {self.line}: {self.reason}"


@dataclass
class TraceRows:
    """A trace's requests in file order: arrival times in seconds on the file's own clock (not yet shifted to
    start at 0), token counts, and for traces with block hashes (Mooncake) each request's block names in CSR
    form (``block_names[block_offsets[i]:block_offsets[i + 1]]``)."""

    arrival: np.ndarray  # float64
    prompt: np.ndarray  # uint32
    output: np.ndarray  # uint32
    #: Row (or line) number of request 0; request i is row ``first_row + i``.
    first_row: int
    unit: str  # "row" or "line"
    #: Names of each arrival, prompt and output field in the file, for messages.
    names: tuple[str, str, str]
    block_offsets: np.ndarray | None = None  # int64, n + 1
    block_names: np.ndarray | None = None  # uint64
    #: A CSV or Parquet trace's frame (polars), for its optional prefix columns (:mod:`.prefix_trace`).
    frame: Any = None

    def row(self, i: int) -> int:
        return self.first_row + int(i)


def check_counts(path: object, values: np.ndarray, raw: object, name: str, first_row: int, unit: str) -> np.ndarray:
    """``values`` (float64, NaN where missing or not a number) as whole token counts of 1 to
    :data:`MAX_TOKENS`; the first that is not one is an error naming its row and quoting ``raw[i]``."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 1) | (values > MAX_TOKENS) | (np.mod(values, 1) != 0)
    if bad.any():
        i = int(np.argmax(bad))
        shown = raw[i] if raw is not None else float(values[i])  # type: ignore[index]
        raise TraceError(path, f"{name} = {shown!r} is not a valid token count (a whole number from 1 to "
                               f"{MAX_TOKENS:_})", first_row + i, unit)
    return values.astype(np.uint32)


def check_times(path: object, values: np.ndarray, raw: object, name: str, first_row: int, unit: str) -> np.ndarray:
    """``values`` (float64 seconds, NaN where missing) as finite times of at least 0; the first that is not one
    is an error naming its row."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        shown = raw[i] if raw is not None else float(values[i])  # type: ignore[index]
        raise TraceError(path, f"{name} = {shown!r} is not a valid time", first_row + i, unit)
    return values
