"""The sweep frame as a terminal table: the axes and the headline metrics, one row per point and system."""

from __future__ import annotations

import polars as pl

#: Shown beside the axes when present (the frame has every summary column; these fit a terminal).
HEADLINE = ("throughput_rps", "tokens_per_s", "goodput_rps", "slo_attainment", "ttft_p99_s", "tpot_p99_s",
            "chips", "usd_per_million_output_tokens")
FIXED = {"sweep", "point", "run", "system", "error"}


def format_sweep(frame: pl.DataFrame, *, max_rows: int = 60) -> str:
    axes = [c for c in frame.columns if "." in c]
    keep = [c for c in ("sweep", "point", *axes, "run", "system", *HEADLINE, "error") if c in frame.columns]
    shown = frame.select(keep)
    failed = frame.filter(pl.col("error").is_not_null()).height if "error" in frame.columns else 0
    with pl.Config(tbl_rows=max_rows, tbl_cols=len(keep) + 1, fmt_str_lengths=60, float_precision=4,
                   tbl_hide_column_data_types=True, tbl_width_chars=220):
        text = str(shown)
    note = f"\n{failed} of {frame.height} rows did not compile or simulate (see their error)" if failed else ""
    return text + note
