"""One request's path through the system: queued, prefilling, waiting for KV blocks, on the link, decoding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import polars as pl

from infera.plot._common import PlotError, altair, empty_check, frame_of, need, plain

if TYPE_CHECKING:
    from infera.results import Results

PHASES = ("queue", "prefill", "KV wait", "transfer", "decode")
COLUMNS = ("run", "system", "request_id", "status", "arrival_s", "first_scheduled_s", "first_token_s",
           "finish_s", "kv_wait_s", "kv_transfer_s")


def phases(requests: pl.DataFrame) -> pl.DataFrame:
    """Each finished request's phases as (start_s, end_s) rows, in seconds since the request arrived.

    The engine emits the first token when prefill completes, so prefill runs from first scheduling to the
    first token. A disaggregated request then waits for blocks on its decode instance (``kv_wait_s``), moves
    over the link (``kv_transfer_s``) and decodes until its last token. A request preempted and recomputed
    spends the recomputation inside what is shown as decode (its ``preemptions`` count says how often).
    """
    t = [pl.col("arrival_s"), pl.col("first_scheduled_s"), pl.col("first_token_s")]
    since = pl.col("arrival_s")
    wait_end = pl.col("first_token_s") + pl.col("kv_wait_s")
    move_end = wait_end + pl.col("kv_transfer_s")
    bounds = [t[0], t[1], t[2], wait_end, move_end, pl.col("finish_s")]
    done = requests.filter(pl.col("status") == "finished")
    parts = [done.select("run", "system", "request_id", phase=pl.lit(name), start_s=bounds[i] - since,
                         end_s=bounds[i + 1] - since, order=pl.lit(i)) for i, name in enumerate(PHASES)]
    return pl.concat(parts).filter(pl.col("end_s") > pl.col("start_s")).sort("run", "system", "request_id", "order")


def median_request(requests: pl.DataFrame) -> int:
    """The finished request with the median end-to-end latency in the first (run, system): a typical one."""
    done = requests.filter(pl.col("status") == "finished").drop_nulls("finish_s")
    first = done.head(1)
    done = done.filter((pl.col("run") == first["run"][0]) & (pl.col("system") == first["system"][0]))
    ranked = done.with_columns(e2e=pl.col("finish_s") - pl.col("arrival_s")).sort("e2e", "request_id")
    return int(ranked["request_id"][ranked.height // 2])


def timeline(source: "pl.DataFrame | Results", request_id: int | Sequence[int] | None = None, *,
             run: str | None = None, system: str | None = None, width: int = 560) -> Any:
    """A request's timeline as bars: queue, prefill, KV wait, transfer and decode, from arrival to its last
    token, one lane per (run, system, request), in seconds since the request arrived.

    ``source`` is a :class:`~infera.Results` or its ``requests`` frame. ``request_id`` is one id or several
    (a request's position in its traffic stream, so the same id is the same request in every system of a
    run); the default is the request with the median end-to-end latency in the first system. Every system
    that has the request gets a lane, which compares how systems treat the same request; ``run`` and
    ``system`` keep only those. Phases of zero length are not drawn. Rejected requests have no timeline.
    """
    alt = altair()
    figure = "timeline plot"
    requests = plain(frame_of(source, "requests", figure))
    need(requests, COLUMNS, figure)
    for column, value in (("run", run), ("system", system)):
        if value is not None:
            requests = requests.filter(pl.col(column) == value)
    empty_check(requests.filter(pl.col("status") == "finished"), figure,
                "no finished request (simulate with requests kept, or check run/system)")
    ids = [median_request(requests)] if request_id is None else (
        [request_id] if isinstance(request_id, int) else list(request_id))
    chosen = requests.filter(pl.col("request_id").is_in(ids))
    missing = sorted(set(ids) - set(chosen.filter(pl.col("status") == "finished")["request_id"].to_list()))
    if missing:
        raise PlotError(f"{figure}: no finished request with id {', '.join(map(str, missing))}")
    data = phases(chosen)
    runs = data["run"].n_unique() > 1
    data = data.with_columns(lane=pl.concat_str(
        ([pl.col("run")] if runs else []) + [pl.col("system"), pl.lit("request ") + pl.col("request_id").cast(
            pl.String)], separator=" · "), duration_ms=(pl.col("end_s") - pl.col("start_s")) * 1e3)
    lanes = data.select("lane").unique(maintain_order=True)["lane"].to_list()
    return alt.Chart(data).mark_bar(height=14).encode(
        x=alt.X("start_s:Q", title="time since the request arrived (s)"),
        x2="end_s:Q",
        y=alt.Y("lane:N", title=None, sort=lanes),
        color=alt.Color("phase:N", title="phase", sort=list(PHASES), scale=alt.Scale(domain=list(PHASES))),
        tooltip=["lane:N", "phase:N", alt.Tooltip("start_s:Q", format=".4f"),
                 alt.Tooltip("end_s:Q", format=".4f"), alt.Tooltip("duration_ms:Q", title="ms", format=".4~g")],
    ).properties(width=width, height=max(40, 24 * len(lanes)), title="Request timeline")
