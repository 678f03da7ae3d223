"""Seeded sampling of request streams from a traffic description.

Sampling is vectorised (numpy's PCG64 generator), so a million requests take well under a second, and
deterministic: the stream depends only on the traffic block and the run's seed, drawn in a fixed order
(arrival gaps, then prompt lengths, then output lengths, then a closed loop's send delays).
"""

from __future__ import annotations

import contextlib
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infera.dsl import ast
from infera.exceptions import FileError
from infera.files import input_path, utf8_position


#: Closed-loop benchmark clients (docs/dsl.md, "Closed-loop clients"): users start spread over this ramp-up,
#: and each request reaches the system after a random client-side delay of this mean (exponential).
DEFAULT_RAMP_UP_S = 0.0
DEFAULT_JITTER_S = 1e-3

#: Most prompt or output tokens of one request (the core's limit); longer samples are clipped to it.
MAX_TOKENS = 100_000_000


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution: ``fixed``, ``lognormal`` (median, sigma) or ``uniform``; clipped to
    ``[min, max]`` and rounded to whole tokens (at least 1)."""

    kind: str
    value: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    min: float = 1.0
    max: float = math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            x = np.full(n, self.value, dtype=np.float64)
        elif self.kind == "lognormal":
            with np.errstate(over="ignore"):  # a huge median or sigma overflows to inf, clipped below
                x = np.exp(math.log(self.median) + self.sigma * rng.standard_normal(n))
        else:  # uniform
            x = rng.integers(int(self.min), int(self.max), size=n, endpoint=True).astype(np.float64)
        x = np.clip(np.rint(x), max(1.0, self.min), min(self.max, MAX_TOKENS))
        return x.astype(np.uint32)

    @property
    def upper(self) -> float:
        """The largest length this distribution can produce."""
        return self.value if self.kind == "fixed" else self.max


@dataclass
class Stream:
    arrival_s: np.ndarray  # NaN for closed-loop streams (the engine sets arrivals)
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    #: Closed loop: seconds from a user being ready to send request i to the request reaching the system
    #: (ramp-up offset of each user's first request plus the client's jitter); zeros otherwise.
    send_delay_s: np.ndarray | None = None

    def delays(self) -> np.ndarray:
        return np.zeros(len(self.arrival_s)) if self.send_delay_s is None else self.send_delay_s


@dataclass(frozen=True)
class TrafficSpec:
    """A compiled ``traffic`` block."""

    name: str
    arrivals: str  # poisson | burst | closed | trace
    loc: ast.Loc  # of the block
    rate: float = 0.0
    users: int = 0
    think_time_s: float = 0.0
    requests: int | None = None
    duration_s: float | None = None
    prompt: LengthDist = LengthDist("fixed", value=1)
    output: LengthDist = LengthDist("fixed", value=1)
    trace: Stream | None = None
    #: Closed loop: the users' first requests are spread evenly over this time.
    ramp_up_s: float = 0.0
    #: Closed loop: mean of each request's exponential client-side delay.
    jitter_s: float = 0.0


def rng_for(traffic: str, seed: int) -> np.random.Generator:
    """The generator of one traffic block under one seed (independent of other blocks in the file)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(traffic.encode())])))


def sample(spec: TrafficSpec, seed: int) -> Stream:
    if spec.trace is not None:
        return spec.trace
    rng = rng_for(spec.name, seed)
    if spec.arrivals == "poisson":
        if spec.requests is not None:
            arrival = poisson_arrivals(rng.standard_exponential(spec.requests), spec.rate)
            if spec.duration_s is not None:
                arrival = arrival[arrival < spec.duration_s]
        else:
            assert spec.duration_s is not None
            # Draw in blocks until the stream passes the duration, so the result does not depend on a guess.
            chunks, t = [], 0.0
            expected = int(spec.rate * spec.duration_s * 1.1) + 16
            while t < spec.duration_s:
                block = t + np.cumsum(rng.exponential(1.0 / spec.rate, expected))
                chunks.append(block)
                t = float(block[-1])
            arrival = np.concatenate(chunks)
            arrival = arrival[arrival < spec.duration_s]
    elif spec.arrivals == "burst":
        assert spec.requests is not None
        arrival = np.zeros(spec.requests)
    else:  # closed loop: the engine issues requests as users finish
        assert spec.requests is not None
        arrival = np.full(spec.requests, np.nan)
    n = len(arrival)
    prompt = spec.prompt.sample(rng, n)
    output = spec.output.sample(rng, n)
    delay = closed_loop_delays(spec, rng, n) if spec.arrivals == "closed" else None
    return Stream(arrival, prompt, output, delay)


def closed_loop_delays(spec: TrafficSpec, rng: np.random.Generator, n: int) -> np.ndarray | None:
    """Each closed-loop request's send delay: user ``u`` (who sends request ``u`` first) starts at
    ``u / users`` of the ramp-up, and every request waits an exponential client delay of mean ``jitter``.
    ``None`` when both are zero, so such a stream draws nothing more than it did before either existed."""
    if spec.ramp_up_s == 0.0 and spec.jitter_s == 0.0:
        return None
    delay = rng.standard_exponential(n) * spec.jitter_s
    first = min(spec.users, n)
    delay[:first] += np.arange(first) * (spec.ramp_up_s / max(spec.users, 1))
    return delay


def poisson_arrivals(unit_gaps: np.ndarray, rate: float) -> np.ndarray:
    """Arrival times at ``rate`` from the gaps of the same stream at rate 1 (standard exponential draws).

    Numpy's ``exponential(1 / rate)`` is ``1 / rate`` times its standard draw, so this is bit for bit the
    stream drawn at ``rate`` directly; a rate search keeps the unit gaps and only rescales them.
    """
    return np.cumsum(unit_gaps * (1.0 / rate))


def unit_gaps(spec: TrafficSpec, seed: int) -> np.ndarray | None:
    """The rate-1 gaps of a Poisson stream whose requests, apart from their spacing, do not depend on the
    rate (a fixed count and no duration), drawn as :func:`sample` draws them; ``None`` for any other stream
    (with a duration, the rate decides how many requests arrive in time and so what is drawn after)."""
    if spec.arrivals != "poisson" or spec.requests is None or spec.duration_s is not None:
        return None
    return rng_for(spec.name, seed).standard_exponential(spec.requests)


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
    return Stream(arrival[idx], prompt[idx], output[idx])


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
