"""A design search's frame: one row per design (pruned ones too), its simulated summary, and the verdicts.

Throughput per chip is output tokens/s over the design's chips; tokens/s per user is 1 / median TPOT (the
rate one user's tokens stream at). A design is on the ``pareto`` frontier when no other simulated design
has at least as much of both and more of one. It ``meets_slo`` when at least the block's ``attainment`` of
its requests meet every SLO target at the target rate; the ``cheapest`` such design has the lowest list
price per hour, then the fewest chips, then the highest goodput, then comes first. Goodput is per chip
(requests/s), per dollar (requests per $ at list price) and per joule (requests per J of simulated
energy).
"""

from __future__ import annotations

import polars as pl

from infera.designs.search import Prepared

#: Summary columns carried into the design frame.
CARRIED = ("requests", "throughput_rps", "output_tokens_per_s", "goodput_rps", "slo_attainment", "ttft_p50_s",
           "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "e2e_p99_s", "duration_s", "energy_j", "cost_usd",
           "utilization")


def design_frame(prep: Prepared, points: pl.DataFrame, prices: dict[str, float]) -> pl.DataFrame:
    """The report of ``prep``'s designs given their simulated ``points`` (the sweep executor's frame, which
    may lack some points when the search was interrupted)."""
    spec = prep.spec
    rows = []
    for i, (d, err) in enumerate(zip(prep.designs, prep.errors)):
        mixed = d.pools[0] if d.mode == "mixed" else None
        pre, dec = (d.pools if d.mode == "split" else (None, None))
        rows.append({
            "design": spec.name, "id": i, "mode": d.mode, "chip": d.chip, "chips": d.chips, "label": d.label,
            "usd_per_hour": d.chips * prices.get(d.chip, 0.0),
            "mixed_chips": mixed and mixed.chips, "mixed_tp": mixed and mixed.tp, "mixed_ep": mixed and mixed.ep,
            "prefill_chips": pre and pre.chips, "prefill_tp": pre and pre.tp, "prefill_ep": pre and pre.ep,
            "decode_chips": dec and dec.chips, "decode_tp": dec and dec.tp, "decode_ep": dec and dec.ep,
            "fits": err is None, "pruned_error": err,
        })
    ints = {c: pl.Int64 for c in ("id", "chips", "mixed_chips", "mixed_tp", "mixed_ep", "prefill_chips",
                                   "prefill_tp", "prefill_ep", "decode_chips", "decode_tp", "decode_ep")}
    frame = pl.DataFrame(rows, schema_overrides=ints, infer_schema_length=None)
    sim = _simulated(points)
    frame = frame.join(sim, on="id", how="left").sort("id")
    frame = frame.with_columns(
        simulated=pl.col("requests").is_not_null(),
        throughput_per_chip=pl.col("output_tokens_per_s") / pl.col("chips"),
        tokens_per_s_per_user=pl.when(pl.col("tpot_p50_s") > 0).then(1.0 / pl.col("tpot_p50_s")),
        goodput_rps_per_chip=pl.col("goodput_rps") / pl.col("chips"),
        goodput_per_usd=pl.when(pl.col("usd_per_hour") > 0)
        .then(pl.col("goodput_rps") * 3600.0 / pl.col("usd_per_hour")),
        goodput_per_j=pl.when(pl.col("energy_j") > 0)
        .then(pl.col("goodput_rps") * pl.col("duration_s") / pl.col("energy_j")),
    )
    frame = frame.with_columns(meets_slo=(pl.col("slo_attainment") >= spec.attainment).fill_null(False),
                               pareto=pl.Series(_pareto(frame), dtype=pl.Boolean))
    return frame.with_columns(cheapest=pl.Series(_cheapest(frame), dtype=pl.Boolean))


def _simulated(points: pl.DataFrame) -> pl.DataFrame:
    """The summary columns of each simulated design, by id; a design that failed in simulation keeps its
    error as ``error`` and null metrics."""
    schema = {"id": pl.Int64, "error": pl.String, **{c: pl.Float64 for c in CARRIED}}
    if points.height == 0 or "point" not in points.columns:
        return pl.DataFrame(schema=schema)
    present = [c for c in CARRIED if c in points.columns]
    out = points.select(pl.col("point").cast(pl.Int64).alias("id"), *present,
                        pl.col("error") if "error" in points.columns else pl.lit(None, pl.String).alias("error"))
    return out.with_columns([pl.lit(None, pl.Float64).alias(c) for c in CARRIED if c not in present])


def _pareto(frame: pl.DataFrame) -> list[bool]:
    """Whether each row is Pareto-optimal in (throughput_per_chip, tokens_per_s_per_user), both higher
    better, among the rows that have both."""
    xs = frame.get_column("throughput_per_chip").to_list()
    ys = frame.get_column("tokens_per_s_per_user").to_list()
    pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    return [x is not None and y is not None and not any(
        a >= x and b >= y and (a > x or b > y) for a, b in pts) for x, y in zip(xs, ys)]


def _cheapest(frame: pl.DataFrame) -> list[bool]:
    ok = frame.filter(pl.col("meets_slo"))
    if not ok.height:
        return [False] * frame.height
    best = ok.sort(["usd_per_hour", "chips", "goodput_rps", "id"], descending=[False, False, True, False])["id"][0]
    return [i == best for i in frame.get_column("id")]


def frontier(frame: pl.DataFrame) -> pl.DataFrame:
    """The Pareto-optimal designs, by throughput per chip (highest first)."""
    return frame.filter(pl.col("pareto")).sort("throughput_per_chip", descending=True)


def cheapest(frame: pl.DataFrame) -> pl.DataFrame:
    """The cheapest design meeting the SLO at the target rate (no rows when none does)."""
    return frame.filter(pl.col("cheapest"))


#: The columns the CLI shows (the frame has every summary column).
SHOWN = ("design", "label", "mode", "chips", "usd_per_hour", "throughput_per_chip", "tokens_per_s_per_user",
         "slo_attainment", "goodput_rps_per_chip", "goodput_per_usd", "goodput_per_j", "meets_slo")


def format_designs(frame: pl.DataFrame, *, max_rows: int = 40) -> str:
    """Designs as a terminal table of the headline columns."""
    with pl.Config(tbl_rows=max_rows, tbl_cols=len(SHOWN) + 1, fmt_str_lengths=60, fmt_float="mixed",
                   tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True, tbl_width_chars=220):
        return str(frame.select(SHOWN))
