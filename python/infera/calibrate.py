"""Calibration profiles: measured operator times that override the roofline (see ``docs/calibration.md``).

A *measurements* file holds raw timings, possibly several runs of the same shape; :func:`calibrate` reduces it
to a *profile* (one row per shape, the median time) that a chip refers to with ``profile = "file.csv"``.
:func:`load_profile` reads a profile for the compiler.

Both are CSV files with a header. Columns (any order; others are ignored):

``operator``
    the operator's name as in the plan (``qkv_proj``, ``attention``, ``o_proj``, ``gate_up_proj``,
    ``down_proj``, ``lm_head``, ``attn_norm``, ...).
``x`` and ``stat``, or one column named after the statistic
    the step statistic the time depends on and its value: ``tokens`` (tokens in the step),
    ``sampled`` (tokens reaching the LM head), ``attn_pairs`` (query-key pairs attention scores) or
    ``kv_tokens`` (context tokens whose K and V are read). Without ``stat``: ``attn_pairs`` for
    ``attention``, ``sampled`` for ``lm_head``, ``tokens`` for everything else.
``seconds``
    the time of *one* occurrence of the operator (one layer), on one instance.
``model`` (optional)
    the model block the measurement is for; empty or absent: any model.
``tp`` (optional, default 1)
    the tensor-parallel degree of the instance measured; a pool uses only rows of its own ``tp``.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

import polars as pl

from infera.exceptions import FileError
from infera.files import os_errors, output_path, read_bytes, utf8_position

#: The step statistics a profile may be keyed by (the core's names).
STATS = ("tokens", "sampled", "attn_pairs", "kv_tokens")
#: The largest tensor-parallel degree the core takes in a plan's profiles (rust/core/src/plan/decode/profiles.rs);
#: to be read from the binding once its vocabulary exports it.
MAX_TP = 65_536
PROFILE_COLUMNS = ("model", "operator", "tp", "stat", "x", "seconds", "samples")


def default_stat(operator: str) -> str:
    """The statistic an operator's time is keyed by when the file does not say."""
    if operator == "attention":
        return "attn_pairs"
    if operator == "lm_head":
        return "sampled"
    return "tokens"


class ProfileError(FileError, ValueError):
    """A measurements or profile file that cannot be used: ``path``, ``line`` (``None`` for the whole file)
    and ``reason`` say where and why."""


def _number(text: str, what: str, path: Path, line: int) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ProfileError(path, f"{what} must be a number, got {text!r}", line) from None
    if not math.isfinite(v):
        raise ProfileError(path, f"{what} must be finite, got {text!r}", line)
    return v


def _text(path: Path) -> str:
    """The file's text (UTF-8, a leading byte-order mark allowed)."""
    try:
        data = read_bytes(path)
    except FileError as exc:
        raise ProfileError(path, exc.reason) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = utf8_position(data, exc.start)
        raise ProfileError(path, f"column {column} is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                           line) from None


def read_measurements(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a measurements (or profile) CSV, checked: ``model, operator, tp, stat, x, seconds``."""
    path = Path(path)
    text = _text(path)
    if not text.strip():
        raise ProfileError(path, "is empty (a CSV file with a header line is expected)")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = _rows(path, reader)
    except csv.Error as exc:
        raise ProfileError(path, f"not a CSV file: {exc}", reader.line_num) from None
    stats: dict[tuple[str, str, int], tuple[str, int]] = {}
    for r in rows:
        key = (r["model"], r["operator"], r["tp"])
        first = stats.setdefault(key, (r["stat"], r["line"]))
        if first[0] != r["stat"]:
            raise ProfileError(path, f"operator '{r['operator']}' is keyed by '{first[0]}' on line {first[1]} and "
                                     f"by '{r['stat']}' here; one statistic per operator", r["line"])
    return rows


def _rows(path: Path, reader: csv.DictReader) -> list[dict[str, Any]]:
    cols = [c.strip() for c in (reader.fieldnames or [])]
    for need in ("operator", "seconds"):
        if need not in cols:
            raise ProfileError(path, f"no '{need}' column (columns: {', '.join(cols) or 'none'})")
    stat_cols = [c for c in STATS if c in cols]
    if "x" not in cols and len(stat_cols) != 1:
        raise ProfileError(path, f"give the shape as columns 'stat' and 'x', or as one column named "
                                 f"{', '.join(STATS)}")
    rows = []
    for raw in reader:
        n = reader.line_num
        if None in raw:
            raise ProfileError(path, f"{len(cols) + len(raw[None])} fields, but the header names {len(cols)}", n)
        r = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        op = r["operator"]
        if not op:
            raise ProfileError(path, "empty operator", n)
        if "x" in cols:
            stat = r.get("stat") or default_stat(op)
            x = _number(r["x"], "x", path, n)
        else:
            stat = stat_cols[0]
            x = _number(r[stat], stat, path, n)
        if stat not in STATS:
            raise ProfileError(path, f"stat must be one of {', '.join(STATS)}, got {stat!r}", n)
        if x < 0:
            raise ProfileError(path, f"{stat} must be >= 0, got {x:g}", n)
        seconds = _number(r["seconds"], "seconds", path, n)
        if seconds <= 0:
            raise ProfileError(path, f"seconds must be > 0, got {seconds:g}", n)
        tp = _number(r["tp"], "tp", path, n) if r.get("tp") else 1.0
        if tp < 1 or tp != int(tp):
            raise ProfileError(path, f"tp must be a whole number >= 1, got {r['tp']!r}", n)
        if tp > MAX_TP:
            raise ProfileError(path, f"tp is too large ({r['tp']}; a plan's tp is at most {MAX_TP:,})", n)
        rows.append({"model": r.get("model", ""), "operator": op, "tp": int(tp), "stat": stat, "x": x,
                     "seconds": seconds, "line": n})
    return rows


def calibrate(measurements: str | Path, output: str | Path | None = None) -> pl.DataFrame:
    """Reduces raw measurements to a profile: one row per (model, operator, tp, x) with the median time.

    Writes the profile as CSV to ``output`` when given, and returns it as a frame with columns
    ``model, operator, tp, stat, x, seconds, samples``. A measurements file that cannot be read or used is a
    :class:`ProfileError`; an output that cannot be written, a :class:`~infera.exceptions.FileError`.

    >>> import infera
    >>> infera.calibrate("h100_raw.csv", "h100_profile.csv")   # doctest: +SKIP
    """
    groups: dict[tuple[str, str, int, str, float], list[float]] = {}
    for r in read_measurements(measurements):
        groups.setdefault((r["model"], r["operator"], r["tp"], r["stat"], r["x"]), []).append(r["seconds"])
    rows = [{"model": m, "operator": op, "tp": tp, "stat": st, "x": x, "seconds": statistics.median(ts),
             "samples": len(ts)} for (m, op, tp, st, x), ts in sorted(groups.items())]
    frame = pl.DataFrame(rows, schema={"model": pl.String, "operator": pl.String, "tp": pl.Int64,
                                       "stat": pl.String, "x": pl.Float64, "seconds": pl.Float64,
                                       "samples": pl.Int64})
    if output is not None:
        out = output_path(output)
        with os_errors(out, "be written"), out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(PROFILE_COLUMNS)
            for r in rows:
                w.writerow([r["model"], r["operator"], r["tp"], r["stat"], repr(r["x"]), repr(r["seconds"]),
                            r["samples"]])
    return frame


def load_profile(path: str | Path) -> list[dict[str, Any]]:
    """A profile's points for the compiler; a shape measured twice is an error (run :func:`calibrate`)."""
    rows = read_measurements(path)
    seen: dict[tuple[str, str, int, float], int] = {}
    for r in rows:
        key = (r["model"], r["operator"], r["tp"], r["x"])
        if key in seen:
            raise ProfileError(path, f"operator '{r['operator']}' at {r['stat']} = {r['x']:g} (tp = {r['tp']}) is "
                                     f"also on line {seen[key]}; a profile has one time per shape (`infera "
                                     f"calibrate` takes the median of repeated measurements)", r["line"])
        seen[key] = r["line"]
    return [{k: r[k] for k in ("model", "operator", "tp", "stat", "x", "seconds")} for r in rows]
