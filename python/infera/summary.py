"""The summary and pool tables of a simulation, computed from the core's per-run statistics, the instances'
busy time and energy, and the plan's chips and prices (see ``docs/results.md``), and their text form for
the terminal (one column per run and system, one row per metric).
"""

from __future__ import annotations

import polars as pl

from infera._core import METRICS
from infera.plan.tables import Plan

PERCENTILES = (50, 90, 99)


def _pool_facts(plan: Plan) -> pl.DataFrame:
    """Per pool: the run and system it belongs to, chip idle power and price."""
    runs = plan["runs"].to_pylist()
    chips = plan["chips"].to_pylist()
    rows = []
    for p in plan["pools"].to_pylist():
        chip = chips[p["chip"]]
        rows.append({
            "run": runs[p["run"]]["name"], "system": runs[p["run"]]["system"], "pool": p["name"],
            "role": p.get("role", "mixed"), "chip": chip["name"],  # docs/plan.md: an optional column
            # Chips per instance: tp x pp (every chip of an idle instance draws idle power).
            "tp": p["chips"] // p["instances"], "chips": p["chips"], "power_idle_w": chip["power_idle_w"],
            "price_per_hour": chip["price_per_hour"],
        })
    return pl.DataFrame(rows, schema={"run": pl.String, "system": pl.String, "pool": pl.String, "role": pl.String,
                                      "chip": pl.String, "tp": pl.Int64,
                                      "chips": pl.Int64, "power_idle_w": pl.Float64, "price_per_hour": pl.Float64})


def _instance_energy(facts: pl.DataFrame, instances: pl.DataFrame, durations: pl.DataFrame) -> pl.DataFrame:
    """Instances with their pool's facts, the run's duration, energy (J) and utilisation added."""
    inst = instances.with_columns(pl.col("run").cast(pl.String), pl.col("system").cast(pl.String),
                                  pl.col("pool").cast(pl.String))
    inst = inst.join(facts, on=["run", "system", "pool"], how="left").join(durations, on=["run", "system"],
                                                                           how="left")
    # Busy energy is the core's sum of the instance's step energies (docs/cost-model.md "Energy"); while idle,
    # every chip of the instance draws idle power.
    return inst.with_columns(
        (pl.col("busy_energy_j")
         + pl.col("tp") * pl.col("power_idle_w") * (pl.col("duration_s") - pl.col("busy_s")).clip(0))
        .alias("energy_j"),
        (pl.col("busy_s") / pl.col("duration_s")).alias("utilization"),
    )


def _durations(stats: pl.DataFrame) -> pl.DataFrame:
    """First arrival to last departure (finish or rejection) per (run, system)."""
    return stats.select(pl.col("run").cast(pl.String), pl.col("system").cast(pl.String),
                        (pl.col("last_departure_s") - pl.col("first_arrival_s")).alias("duration_s"))


def pool_table(plan: Plan, stats: pl.DataFrame, instances: pl.DataFrame) -> pl.DataFrame:
    """Per (run, system, pool): role, chip, counts, utilisation, energy, cost."""
    inst = _instance_energy(_pool_facts(plan), instances, _durations(stats))
    keys = ["run", "system", "pool"]
    out = inst.group_by(keys, maintain_order=True).agg(
        pl.col("role").first(), pl.col("chip").first(), pl.col("instance").len().alias("instances"),
        pl.col("chips").first(), pl.col("kv_blocks").first().alias("kv_blocks_per_instance"),
        pl.col("steps").sum(), pl.col("utilization").mean(), pl.col("energy_j").sum(),
        (pl.col("price_per_hour").first() * pl.col("chips").first() * pl.col("duration_s").first() / 3600)
        .alias("cost_usd"),
        *_prefix_aggs(inst),
    )
    return _per_output_token(out, stats)


def _prefix_aggs(inst: pl.DataFrame) -> list[pl.Expr]:
    """Per group of instances, the prefix caches' hit tokens and hit rate (hits over looked-up prompt tokens),
    when the plan names prefixes (docs/prefix-caching.md); on a decode pool a hit is KV not transferred."""
    if "prefix_hit_tokens" not in inst.columns:
        return []
    return [pl.col("prefix_hit_tokens").sum(),
            (pl.col("prefix_hit_tokens").sum() / pl.col("prefix_lookup_tokens").sum()).alias("prefix_hit_rate")]


def _per_output_token(pools: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """Each pool's share of its system's joules and dollars per output token (they sum over the pools to the
    summary's ``joules_per_output_token`` and ``usd_per_million_output_tokens``)."""
    tokens = stats.select(pl.col("run").cast(pl.String), pl.col("system").cast(pl.String),
                          pl.col("output_tokens").alias("_system_output_tokens"))
    return pools.join(tokens, on=["run", "system"], how="left").with_columns(
        (pl.col("energy_j") / pl.col("_system_output_tokens")).alias("joules_per_output_token"),
        pl.when(pl.col("cost_usd") > 0)
        .then(pl.col("cost_usd") / pl.col("_system_output_tokens") * 1e6)
        .otherwise(None)
        .alias("usd_per_million_output_tokens"),
    ).drop("_system_output_tokens")


def summarize(plan: Plan, stats: pl.DataFrame, instances: pl.DataFrame) -> pl.DataFrame:
    """One row per (run, system) from the core's per-run statistics; see ``docs/results.md``."""
    keys = ["run", "system"]
    agg = stats.with_columns(pl.col("run").cast(pl.String), pl.col("system").cast(pl.String)).with_columns(
        (pl.col("last_departure_s") - pl.col("first_arrival_s")).alias("duration_s"),
        (pl.col("rejected_queue_full") + pl.col("rejected_timeout")).alias("rejected"),
    )
    agg = agg.with_columns(
        (pl.col("requests") / pl.col("duration_s")).alias("throughput_rps"),
        (pl.col("output_tokens") / pl.col("duration_s")).alias("output_tokens_per_s"),
        ((pl.col("prompt_tokens") + pl.col("output_tokens")) / pl.col("duration_s")).alias("tokens_per_s"),
        (pl.col("slo_met_requests") / pl.col("duration_s")).alias("goodput_rps"),
        # Attainment counts rejected requests as misses.
        (pl.col("slo_met_requests") / (pl.col("requests") + pl.col("rejected"))).alias("slo_attainment"),
    )

    # Utilisation, energy and cost per (run, system), from instance busy time and the pools' chips.
    facts = _pool_facts(plan)
    inst = _instance_energy(facts, instances, agg.select(keys + ["duration_s"]))
    per_sys = inst.group_by(keys, maintain_order=True).agg(
        pl.col("energy_j").sum(),
        pl.col("utilization").mean(),
        pl.col("instance").len().alias("instances"),
    )
    prefix_cols: list[str] = []
    if "prefix_hit_tokens" in inst.columns:
        # The prefill side's hits are the prefill tokens the caches saved.
        saved = inst.filter(pl.col("role") != "decode").group_by(keys, maintain_order=True).agg(
            pl.col("prefix_hit_tokens").sum().alias("saved_prefill_tokens"),
            (pl.col("prefix_hit_tokens").sum() / pl.col("prefix_lookup_tokens").sum()).alias("prefix_hit_rate"))
        per_sys = per_sys.join(saved, on=keys, how="left")
        prefix_cols = ["prefix_hit_rate", "saved_prefill_tokens"]
    price = facts.group_by(keys, maintain_order=True).agg(
        pl.col("chips").sum(), (pl.col("chips") * pl.col("price_per_hour")).sum().alias("usd_per_hour"))
    out = agg.join(per_sys, on=keys, how="left").join(price, on=keys, how="left")
    out = out.with_columns(
        (pl.col("energy_j") / pl.col("output_tokens")).alias("joules_per_output_token"),
        (pl.col("usd_per_hour") * pl.col("duration_s") / 3600).alias("cost_usd"),
    ).with_columns(
        pl.when(pl.col("cost_usd") > 0)
        .then(pl.col("cost_usd") / pl.col("output_tokens") * 1e6)
        .otherwise(None)
        .alias("usd_per_million_output_tokens"),
        (pl.col("throughput_rps") / pl.col("chips")).alias("throughput_rps_per_chip"),
        (pl.col("goodput_rps") / pl.col("chips")).alias("goodput_rps_per_chip"),
    )

    order = keys + [
        "requests", "rejected", "rejected_queue_full", "rejected_timeout", "duration_s", "throughput_rps",
        "output_tokens_per_s", "tokens_per_s", "goodput_rps",
        "slo_attainment", "slo_pass",
        *[f"{m}_p{p}_s" for m in METRICS for p in PERCENTILES],
        "preemptions", "kv_transfer_p50_s", "kv_transfer_p99_s", "kv_wait_p99_s", *prefix_cols,
        "instances", "chips", "utilization", "throughput_rps_per_chip", "goodput_rps_per_chip",
        "energy_j", "joules_per_output_token", "cost_usd", "usd_per_million_output_tokens",
        "prompt_tokens", "output_tokens",
    ]
    return out.select(order)


def format_table(table: pl.DataFrame) -> str:
    """A table with one column per run/system and one row per metric, easier to read than a wide row."""
    labels = [f"{r}/{s}" for r, s in table.select("run", "system").iter_rows()]
    metrics = [c for c in table.columns if c not in ("run", "system")]
    columns = {"metric": metrics}
    for label, row in zip(labels, table.drop("run", "system").iter_rows()):
        columns[label] = [_fmt(v) for v in row]
    with pl.Config(tbl_rows=len(metrics) + 1, tbl_cols=len(columns) + 1, fmt_str_lengths=40,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(pl.DataFrame(columns))


def format_pools(pools: pl.DataFrame) -> str | None:
    """Per-pool utilisation side by side; ``None`` when no system has more than one pool."""
    if pools.height <= pools.select("run", "system").n_unique():
        return None
    cols = ["run", "system", "pool", "role", "chip", "instances", "utilization", "energy_j", "cost_usd"]
    with pl.Config(tbl_rows=pools.height + 1, tbl_cols=len(cols) + 1, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, float_precision=3):
        return str(pools.select(cols))


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
