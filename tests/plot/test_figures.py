"""Each figure's Vega-Lite spec, from real small simulations: the fields it encodes and the rows it draws."""

from __future__ import annotations

import polars as pl
import pytest

import infera.plot as P
from plot_helpers import dataset


def test_latency_draws_p50_and_p99_ttft_and_tpot_of_every_sweep_point(sweep_frame):
    spec = P.latency(sweep_frame).to_dict()
    enc = spec["spec"]["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"], enc["strokeDash"]["field"]) == (
        "throughput_rps", "ms", "series", "quantile")
    assert enc["order"]["field"] == "point" and "(ms)" in enc["y"]["title"] and "(requests/s)" in enc["x"]["title"]
    assert spec["facet"]["column"]["field"] == "metric" and spec["resolve"]["scale"]["y"] == "independent"
    rows = dataset(spec)
    assert len(rows) == sweep_frame.height * 4
    want = {(r["system"], r["point"], m.upper(), q): r[f"{m}_{q}_s"] * 1e3
            for r in sweep_frame.to_dicts() for m in ("ttft", "tpot") for q in ("p50", "p99")}
    got = {(r["series"], r["point"], r["metric"], r["quantile"]): r["ms"] for r in rows}
    assert got == pytest.approx(want)


def test_latency_by_columns_and_throughput_choice(sweep_frame):
    spec = P.latency(sweep_frame, x="output_tokens_per_s", by=["system", "traffic.chat.arrivals.rate"],
                     quantiles=["p90"]).to_dict()
    rows = dataset(spec)
    assert {r["quantile"] for r in rows} == {"p90"}
    assert "mixed · rate=10.0" in {r["series"] for r in rows}
    assert spec["spec"]["encoding"]["x"]["field"] == "output_tokens_per_s"
    with pytest.raises(P.PlotError, match="x must be one of"):
        P.latency(sweep_frame, x="ttft_p50_s")
    with pytest.raises(P.PlotError, match="no column"):
        P.latency(sweep_frame.drop("tpot_p99_s"))


def test_failed_points_are_left_out(sweep_frame):
    broken = pl.concat([sweep_frame, sweep_frame.head(1).with_columns(
        point=pl.lit(99, pl.Int64), error=pl.lit("x.infera:1:1: error: no"), throughput_rps=pl.lit(None, pl.Float64))])
    assert len(dataset(P.latency(broken).to_dict())) == sweep_frame.height * 4


def test_frontier_marks_exactly_the_pareto_optimal_points(sweep_frame):
    spec = P.frontier(sweep_frame).to_dict()
    rows = dataset(spec)
    assert len(rows) == sweep_frame.height
    for r in rows:
        dominated = any(o["tokens_per_s_per_user"] >= r["tokens_per_s_per_user"]
                        and o["output_tokens_per_s_per_chip"] >= r["output_tokens_per_s_per_chip"]
                        and (o["tokens_per_s_per_user"], o["output_tokens_per_s_per_chip"])
                        != (r["tokens_per_s_per_user"], r["output_tokens_per_s_per_chip"]) for o in rows)
        assert r["frontier"] == (not dominated)
    assert 2 <= sum(r["frontier"] for r in rows) < len(rows)
    by_key = {(r["system"], r["point"]): r for r in rows}
    for r in sweep_frame.to_dicts():
        drawn = by_key[(r["system"], r["point"])]
        assert drawn["tokens_per_s_per_user"] == pytest.approx(1 / r["tpot_p50_s"])
        assert drawn["output_tokens_per_s_per_chip"] == pytest.approx(r["output_tokens_per_s"] / r["chips"])
    line, points = spec["layer"]
    assert line["mark"]["type"] == "line" and line["transform"] == [{"filter": "datum.frontier"}]
    assert points["encoding"]["x"]["field"] == "tokens_per_s_per_user"
    assert "per user" in points["encoding"]["x"]["title"] and "per chip" in points["encoding"]["y"]["title"]


def test_pareto_mask_ties_and_duplicates():
    import numpy as np

    x = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 0.5])
    y = np.array([5.0, 4.0, 3.0, 1.0, 1.0, 5.0])
    assert P.pareto_mask(x, y).tolist() == [True, True, False, True, True, False]


def test_goodput_against_cost_per_hour_and_per_token(sweep_frame):
    spec = P.goodput_cost(sweep_frame).to_dict()
    rows = dataset(spec)
    assert len(rows) == sweep_frame.height
    # Both systems hold two toy chips at 3.6 $/h each.
    assert [r["usd_per_hour"] for r in rows] == pytest.approx([7.2] * len(rows))
    assert spec["encoding"]["x"]["title"] == "cost ($/h)" and spec["encoding"]["y"]["field"] == "goodput_rps"
    assert sorted(r["goodput_rps"] for r in rows) == pytest.approx(sorted(sweep_frame["goodput_rps"].to_list()))
    per_token = P.goodput_cost(sweep_frame, cost="per_million_tokens", per_chip=True).to_dict()
    assert per_token["encoding"]["x"]["field"] == "usd_per_million_output_tokens"
    assert per_token["encoding"]["y"]["field"] == "goodput_rps_per_chip"
    with pytest.raises(P.PlotError, match="price"):
        P.goodput_cost(sweep_frame.with_columns(cost_usd=pl.lit(0.0)))


def test_utilisation_matches_the_instances_busy_time_and_kv_blocks(results):
    spec = P.utilisation(results, bins=40).to_dict()
    rows = pl.DataFrame(dataset(spec))
    assert spec["facet"]["row"]["field"] == "measure" and spec["spec"]["encoding"]["x"]["title"] == "time (s)"
    assert set(rows["series"]) == {"mixed · gp", "split · pre", "split · dec"}
    it = results.iterations
    end = float((it["start_s"] + it["duration_s"]).max())
    for system, pool in (("mixed", "gp"), ("split", "pre"), ("split", "dec")):
        inst = results.instances.filter((pl.col("system") == system) & (pl.col("pool") == pool))
        busy = rows.filter((pl.col("system") == system) & (pl.col("pool") == pool) & (pl.col("measure") == "busy"))
        assert busy.height == 40
        # The bins' mean is the pool's busy time over its instance-time, counted exactly across bin edges.
        assert busy["percent"].mean() == pytest.approx(100 * inst["busy_s"].sum() / (inst.height * end))
    kv = rows.filter((pl.col("system") == "mixed") & (pl.col("measure") == "KV cache in use")).sort("time_s")
    t = kv["time_s"][10]
    steps = it.filter((pl.col("system") == "mixed") & (pl.col("start_s") <= t)).sort("start_s")
    held = steps.group_by("instance").agg(pl.col("kv_blocks_used").last())["kv_blocks_used"].sum()
    cap = results.instances.filter(pl.col("system") == "mixed")["kv_blocks"].sum()
    assert kv["percent"][10] == pytest.approx(100 * held / cap) and kv["percent"].max() > 0


def test_utilisation_needs_instances_and_steps(results):
    with pytest.raises(P.PlotError, match="instances frame"):
        P.utilisation(results.iterations)
    with pytest.raises(P.PlotError, match="nothing to draw"):
        P.utilisation(results, system="nope")
    one = pl.DataFrame(dataset(P.utilisation(results.iterations, results.instances, system="split").to_dict()))
    assert set(one["system"]) == {"split"}


def test_timeline_phases_add_up_to_the_request_latencies(results):
    req = results.requests.filter(pl.col("status") == "finished")
    rid = int(req.filter(pl.col("system") == "split")["request_id"][7])
    spec = results.plot.timeline(rid).to_dict()
    rows = pl.DataFrame(dataset(spec))
    assert spec["encoding"]["x"]["field"] == "start_s" and spec["encoding"]["x2"]["field"] == "end_s"
    assert spec["encoding"]["color"]["scale"]["domain"] == ["queue", "prefill", "KV wait", "transfer", "decode"]
    for system in ("mixed", "split"):
        r = req.filter((pl.col("system") == system) & (pl.col("request_id") == rid)).row(0, named=True)
        mine = rows.filter(pl.col("system") == system)
        spans = dict(zip(mine["phase"], (mine["end_s"] - mine["start_s"]).to_list()))
        assert mine["start_s"].min() == pytest.approx(0.0) and mine["end_s"].max() == pytest.approx(r["e2e_s"])
        assert spans.get("queue", 0.0) == pytest.approx(r["queue_s"])
        assert spans["prefill"] == pytest.approx(r["ttft_s"] - r["queue_s"])
        assert spans.get("transfer", 0.0) == pytest.approx(r["kv_transfer_s"])
    assert "transfer" in set(rows.filter(pl.col("system") == "split")["phase"])
    assert "transfer" not in set(rows.filter(pl.col("system") == "mixed")["phase"])


def test_timeline_default_is_the_median_request_and_bad_ids_are_named(results):
    rows = dataset(P.timeline(results, system="mixed").to_dict())
    done = results.requests.filter((pl.col("system") == "mixed") & (pl.col("status") == "finished")).sort(
        "e2e_s", "request_id")
    assert {r["request_id"] for r in rows} == {done["request_id"][done.height // 2]}
    with pytest.raises(P.PlotError, match="no finished request with id 100000"):
        P.timeline(results, [1, 100000])


def test_results_plot_accessor_draws_the_summary(results):
    rows = dataset(results.plot.frontier().to_dict())
    assert {r["system"] for r in rows} == {"mixed", "split"}
    assert len(dataset(results.plot.latency().to_dict())) == 2 * 4
    assert len(dataset(results.plot.goodput_cost().to_dict())) == 2
    assert dataset(results.plot.utilisation(bins=5).to_dict())
