"""The per-class table of a simulation (``Results.classes``): one row per run, system and traffic class,
from the core's per-class statistics (each class's requests judged by its own SLO, or the run's), and its
text form for the terminal. See ``docs/results.md``, "Traffic classes"."""

from __future__ import annotations

import polars as pl

from infera.summary import PERCENTILES

#: Latency columns of the per-class table: mean, then the percentiles, per metric.
_LATENCY = [c for m in ("ttft", "tpot", "e2e") for c in (f"{m}_mean_s", *(f"{m}_p{p}_s" for p in PERCENTILES))]


def summarize_classes(stats: pl.DataFrame, classes: pl.DataFrame) -> pl.DataFrame:
    """Per (run, system, class): counts, throughput and goodput over the run's duration (first arrival to
    last departure of the whole run, so the classes' rates add up to the run's), SLO attainment and pass,
    and latency means and percentiles."""
    keys = ["run", "system"]
    if classes.height == 0:
        return pl.DataFrame(schema={**{k: pl.String for k in (*keys, "class")}, "priority": pl.UInt32,
                                    "requests": pl.UInt64})
    durations = stats.select(pl.col("run").cast(pl.String), pl.col("system").cast(pl.String),
                             (pl.col("last_departure_s") - pl.col("first_arrival_s")).alias("duration_s"))
    c = classes.with_columns(pl.col("run", "system", "class").cast(pl.String)).join(durations, on=keys, how="left")
    c = c.with_columns((pl.col("rejected_queue_full") + pl.col("rejected_timeout")).alias("rejected"))
    c = c.with_columns(
        (pl.col("requests") / pl.col("duration_s")).alias("throughput_rps"),
        (pl.col("output_tokens") / pl.col("duration_s")).alias("output_tokens_per_s"),
        (pl.col("slo_met_requests") / pl.col("duration_s")).alias("goodput_rps"),
        (pl.col("slo_met_requests") / (pl.col("requests") + pl.col("rejected"))).alias("slo_attainment"),
        # The share of the class's prompt tokens a prefix cache held (docs/prefix-caching.md).
        (pl.col("cached_tokens") / pl.col("prompt_tokens")).alias("prefix_hit_share"),
    )
    return c.select(keys + ["class", "priority", "requests", "rejected", "throughput_rps", "output_tokens_per_s",
                            "goodput_rps", "slo_attainment", "slo_pass", *_LATENCY, "prompt_tokens",
                            "output_tokens", "cached_tokens", "prefix_hit_share"])


def format_classes(table: pl.DataFrame) -> str | None:
    """The per-class table for the terminal; ``None`` when no run has classes."""
    if table.height == 0:
        return None
    cols = ["run", "class", "priority", "requests", "rejected", "goodput_rps", "slo_attainment", "ttft_mean_s",
            "ttft_p99_s", "tpot_mean_s", "tpot_p99_s", "output_tokens_per_s"]
    with pl.Config(tbl_rows=table.height + 1, tbl_cols=len(cols) + 1, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, float_precision=4, tbl_width_chars=200):
        return str(table.select(cols))
