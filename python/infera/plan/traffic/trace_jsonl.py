"""JSONL traces, one JSON object per line, and the Mooncake traces read as they are published.

The Mooncake traces (kvcache-ai/Mooncake, ``FAST25-release/traces/*.jsonl`` and the earlier
``mooncake_trace.jsonl``; fields described in ``FAST25-release/README.md``) hold one object per line:
``{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, ...]}``, with the
arrival in milliseconds since the trace's start, token counts, and one remapped hash per 512-token block of
the prompt (equal leading hashes are a shared prefix; the last block holds the rest of the prompt, e.g.
6,758 tokens are 14 blocks). infera's own JSONL uses the CSV trace's field names, arrivals in seconds, and
may carry ``hash_ids`` in the same sense.

Every line must be a JSON object with the fields; the first that is not names its line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from infera.files import os_errors, utf8_position
from infera.exceptions import FileError
from infera.plan.traffic.trace_rows import MOONCAKE_BLOCK_TOKENS, TraceError, TraceRows, check_counts, check_times
from infera.plan.traffic.trace_table import TRACE_COLUMNS

#: Mooncake's fields: arrival (milliseconds), prompt, output, block hashes.
MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")
HASH_IDS = "hash_ids"


def is_mooncake(first: dict[str, Any]) -> bool:
    """Whether a JSONL trace whose first object is ``first`` is in Mooncake's format (its timestamp is then in
    milliseconds, not seconds)."""
    return all(k in first for k in MOONCAKE_FIELDS[:3])


def read_jsonl(path: Path, fmt: str | None) -> TraceRows:
    """The rows of a JSONL trace: ``fmt`` ``"mooncake"``, ``"jsonl"`` (infera's field names) or ``None``
    (Mooncake when the first object has Mooncake's fields, else infera's)."""
    objects = _objects(path)
    first = objects[0]
    mooncake = fmt == "mooncake" or (fmt is None and is_mooncake(first))
    if mooncake:
        names = MOONCAKE_FIELDS
    else:
        found = []
        for role, options in TRACE_COLUMNS.items():
            name = next((n for n in options if n in first), None)
            if name is None:
                raise TraceError(path, f"has no {role} field (one of {', '.join(options)}) on line 1; it has "
                                       f"{', '.join(first) or 'none'}")
            found.append(name)
        names = (found[0], found[1], found[2], HASH_IDS)
    n = len(objects)
    cols: list[list[Any]] = [[], [], []]
    offsets = np.zeros(n + 1, dtype=np.int64)
    blocks: list[int] = []
    any_blocks = False
    for i, obj in enumerate(objects):
        for c, name in enumerate(names[:3]):
            if name not in obj:
                raise TraceError(path, f"has no field '{name}'", i + 1, "line")
            cols[c].append(obj[name])
        hashes = obj.get(HASH_IDS)
        if hashes is None and mooncake:
            raise TraceError(path, f"has no field '{HASH_IDS}'", i + 1, "line")
        if hashes is not None:
            any_blocks = True
            blocks.extend(_hash_ids(path, hashes, i + 1))
        offsets[i + 1] = len(blocks)
    # Milliseconds divided (not multiplied by 1e-3, which is not exact): 27482 ms is 27.482 s to the last bit.
    arrival = check_times(path, _numbers(cols[0]) / (1000.0 if mooncake else 1.0), cols[0], names[0], 1, "line")
    prompt = check_counts(path, _numbers(cols[1]), cols[1], names[1], 1, "line")
    output = check_counts(path, _numbers(cols[2]), cols[2], names[2], 1, "line")
    rows = TraceRows(arrival, prompt, output, 1, "line", (names[0], names[1], names[2]))
    if any_blocks:
        # Only now that the prompts are known to be whole counts: each block must hold at least one token.
        counts = np.diff(offsets)
        room = -(-prompt.astype(np.int64) // MOONCAKE_BLOCK_TOKENS)
        over = counts > room
        if over.any():
            i = int(np.argmax(over))
            raise TraceError(path, f"{HASH_IDS} has {counts[i]} blocks of {MOONCAKE_BLOCK_TOKENS} tokens, more than "
                                   f"{names[1]} = {prompt[i]} fills ({room[i]})", i + 1, "line")
        rows.block_offsets = offsets
        rows.block_names = np.array(blocks, dtype=np.uint64)
    return rows


def _objects(path: Path) -> list[dict[str, Any]]:
    """Every line of the file as a JSON object (a final newline ends the last line; it starts no new one)."""
    try:
        with os_errors(path, "be read"):
            data = path.read_bytes()
    except FileError as exc:
        raise TraceError(path, exc.reason) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line, column = utf8_position(data, bad.start)
        raise TraceError(path, f"column {column} is not valid UTF-8 (byte 0x{data[bad.start]:02x})", line,
                         "line") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines:
        raise TraceError(path, "has no rows (the file is empty)")
    objects = []
    for i, text_line in enumerate(lines, 1):
        # json.loads as it is (its cached C decoder; a decoder of our own per line costs twice the time). It
        # takes NaN and Infinity, which the field checks then refuse where they matter.
        try:
            obj = json.loads(text_line)
        except RecursionError:
            raise TraceError(path, "is not JSON: nested too deeply", i, "line") from None
        except ValueError as exc:  # json.JSONDecodeError, and integers longer than Python converts
            raise TraceError(path, f"is not JSON: {exc}", i, "line") from None
        if not isinstance(obj, dict):
            raise TraceError(path, f"is not a JSON object (it is {_kind(obj)})", i, "line")
        objects.append(obj)
    return objects


def _kind(v: object) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(v), "a number")


def _numbers(values: list[Any]) -> np.ndarray:
    """JSON values as float64, NaN for anything that is not a number (a string, null, a boolean, a list)."""
    if set(map(type, values)) <= {int, float}:  # the usual case, converted in one call
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:  # an integer beyond float64: the loop below makes it infinite
            pass
    out = np.full(len(values), math.nan)
    for i, v in enumerate(values):
        if type(v) is int:
            out[i] = float(v) if abs(v) < 2**1000 else (math.inf if v > 0 else -math.inf)
        elif type(v) is float:
            out[i] = v
    return out


def _hash_ids(path: Path, hashes: object, line: int) -> list[int]:
    """A line's block hashes: a list of whole numbers from 0 to 2**64 - 1."""
    if not isinstance(hashes, list):
        raise TraceError(path, f"{HASH_IDS} must be a list of block hashes, got {_kind(hashes)}", line, "line")
    # Checked with C-level passes (a trace may hold millions of hashes); the loop below only finds the culprit.
    if not hashes or (set(map(type, hashes)) == {int} and min(hashes) >= 0 and max(hashes) < 2**64):
        return hashes
    for h in hashes:
        if type(h) is not int or not 0 <= h < 2**64:
            raise TraceError(path, f"{HASH_IDS} holds {repr(h)[:40]}, not a block hash (a whole number from 0 "
                                   f"to 2**64 - 1)", line, "line")
    return hashes
