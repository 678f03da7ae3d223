"""The serving harness maps each measured row to the system it ran, or to the reason it cannot (validation/serving/)."""

from __future__ import annotations

import csv
import sys

import polars as pl
import pytest

import infera
from helpers import ROOT

sys.path.insert(0, str(ROOT / "validation" / "serving"))
import serving_rows as sr  # noqa: E402
from serving_run import client_metrics, compile_reason  # noqa: E402

DATA = ROOT / "validation" / "serving"


def _first(which: str, **match: str) -> dict[str, str]:
    with (DATA / which / "measurements.csv").open(newline="") as fh:
        return next(r for r in csv.DictReader(fh) if all(r[k] == v for k, v in match.items()))


def test_inferencex_agg_row_is_one_worker_with_the_clients_lengths_and_prompts() -> None:
    raw = _first("inferencex", model="llama70b", hardware="b200", framework="trt", conc="4", isl="1024",
                 osl="1024", spec_method="none")
    row = sr.inferencex_row(raw, 2)
    d = row.deployment
    assert row.reason is None and d is not None
    assert (d.model, d.chip, d.weights, d.stack) == ("llama3_1_70b", "b200", "fp8", "trtllm")
    assert d.pools == (sr.PoolSpec("p", "mixed", 1, int(raw["decode_tp"])),)
    # --num-prompts $((CONC * 10)), lengths uniform in [0.8 L, L] (random-range-ratio 0.8)
    assert d.users == 4 and d.requests == 40
    text = sr.program(d)
    assert "closed(users = 4)" in text and "prompt = uniform(min = 819, max = 1024)" in text
    assert "requests = 40" in text and "stack = trtllm" in text
    assert infera.compile_text(text)["requests"].num_rows == 40
    assert row.measured["ttft_p99"] == float(raw["p99_ttft"])


def test_inferencex_agg_row_ignores_the_tp_times_ep_gpu_count() -> None:
    raw = dict(_first("inferencex", model="dsr1", disagg="False", decode_ep="8", spec_method="none"),
               model="llama70b", precision="fp8", hardware="b200")
    assert int(raw["num_decode_gpu"]) == 64
    d = sr.inferencex_row(raw, 2).deployment
    assert d is not None and d.pools[0].chips == 8 and d.pools[0].ep == 8


def test_aiconfigurator_agg_row_uses_silicon_concurrency_and_its_client() -> None:
    raw = _first("aiconfigurator", model_path="meta-llama/Llama-3.1-70B", system="b200_sxm", backend="vllm")
    row = sr.aiconfigurator_row(raw)
    d = row.deployment
    assert d is not None and row.mode == "agg"
    assert d.users == int(raw["silicon_data_source"].split("silicon_concurrency=")[1].split(";")[0])
    assert d.pools[0].tp == int(raw["tp_size"]) and d.stack == "vllm"
    assert row.measured["tpot_mean"] == pytest.approx(float(raw["silicon_tpot_ms"]) / 1e3)


def test_aiconfigurator_client_follows_the_rows_source() -> None:
    assert sr.aiconfigurator_client("db-dump/2026-04-27; config_id=1; workflow_run_id=2") is sr.INFERENCEX_CLIENT
    assert sr.aiconfigurator_client("source_file=x-gap-analysis.csv; aic_database_mode=SILICON") \
        is sr.AICONFIGURATOR_CLIENT


def test_aiconfigurator_disagg_row_is_prefill_and_decode_pools_with_the_kv_link() -> None:
    raw = dict(_first("aiconfigurator", mode="disagg", prefill_num_workers="1", decode_num_workers="4"),
               model_path="meta-llama/Llama-3.1-70B", system="b200_sxm", gemm_quant_mode="fp8",
               moe_quant_mode="fp8", prefill_attention_dp_size="1", decode_attention_dp_size="1",
               prefill_tp_size="4", prefill_moe_ep_size="1", decode_tp_size="8", decode_moe_ep_size="1")
    row = sr.aiconfigurator_row(raw)
    d = row.deployment
    assert row.reason is None and d is not None and row.mode == "disagg"
    assert d.pools == (sr.PoolSpec("prefill", "prefill", 1, 4), sr.PoolSpec("decode", "decode", 4, 8))
    assert d.kv_link_gbs == pytest.approx(400 / 8 * 4)    # one 400 Gb/s NIC per prefill GPU
    text = sr.program(d)
    assert "pool prefill: 4 x b200, role = prefill, stack = trtllm, tp = 4" in text
    assert "pool decode: 32 x b200, role = decode, stack = trtllm, tp = 8" in text
    assert "link prefill -> decode { bandwidth = 200 GB/s }" in text
    plan = infera.compile_text(text)
    assert plan["requests"].num_rows == d.requests and plan["links"].num_rows == 1


def test_attention_dp_is_written_only_when_above_one() -> None:
    p = sr.PoolSpec("p", "mixed", 1, 8, ep=8, dp_attention=8)
    assert "dp_attention = 8" in sr.pool_text(p, "b200", "sglang", 256)
    assert "dp_attention" not in sr.pool_text(sr.PoolSpec("p", "mixed", 1, 8, ep=8), "b200", "sglang", 256)


@pytest.mark.parametrize(("which", "change", "reason"), [
    ("inferencex", {"model": "dsv4"}, "model not in catalog (deepseek_v4_pro)"),
    ("inferencex", {"model": "somethingelse"}, "model not in the name table"),
    ("inferencex", {"hardware": "tpu9"}, "chip not in the name table"),
    ("inferencex", {"spec_method": "mtp"}, "speculative decoding (mtp) not modelled"),
    ("inferencex", {"framework": "mystack"}, "serving stack not in the name table"),
    # aiconfigurator's own collection (a gap-analysis job) may run an instance over two boards: not expressed.
    ("aiconfigurator", {"tp_size": "16", "silicon_data_source": "gap-analysis; gtl_job_id=1; silicon_concurrency=4"},
     "multi-node instance (tp x pp over one scale-up domain)"),
    # An aggregated row from InferenceX's database above one node is a disaggregated run listed by its GPU total.
    ("aiconfigurator", {"tp_size": "16"}, "worker count or layout not recorded"),
    ("aiconfigurator", {"mode": "disagg", "prefill_num_workers": ""}, "worker count or layout not recorded"),
    ("aiconfigurator", {"silicon_data_source": "no count here", "batch_size": ""}, "concurrency not recorded"),
])
def test_each_reason_a_row_cannot_be_expressed(which: str, change: dict[str, str], reason: str) -> None:
    if which == "inferencex":
        base = _first("inferencex", model="llama70b", hardware="b200", framework="trt", spec_method="none")
        row = sr.inferencex_row({**base, **change}, 2)
    else:
        base = _first("aiconfigurator", model_path="meta-llama/Llama-3.1-70B", system="b200_sxm", tp_size="8",
                      gemm_quant_mode="fp8")
        row = sr.aiconfigurator_row({**base, **change})
    assert row.deployment is None and row.reason == reason


def test_a_chip_or_precision_the_catalog_lacks_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every chip and precision of the name table is in this build, so name ones that are not.
    monkeypatch.setitem(sr.CHIPS, "b300_sxm", "b400")
    monkeypatch.setitem(sr.PRECISIONS, "fp6", ("fp6", "fp6"))
    base = _first("aiconfigurator", model_path="meta-llama/Llama-3.1-70B", system="b200_sxm", tp_size="8",
                  gemm_quant_mode="fp8")
    assert sr.aiconfigurator_row({**base, "system": "b300_sxm"}).reason == "chip not in catalog (b400)"
    row = sr.aiconfigurator_row({**base, "gemm_quant_mode": "fp6", "moe_quant_mode": "fp6"})
    assert row.reason == "precision unsupported (fp6)" and "fp6" not in infera._core.PRECISIONS


def test_inferencex_layout_whose_gpus_disagree_with_tp_is_not_expressed() -> None:
    base = _first("inferencex", disagg="True", prefill_num_workers="6", prefill_tp="1", num_prefill_gpu="48")
    row = sr.inferencex_row({**base, "model": "llama70b", "precision": "fp8", "spec_method": "none"}, 2)
    assert row.reason == "worker count or layout not recorded"


def test_compile_errors_become_shared_reasons() -> None:
    assert compile_reason("<serving-row>:5:3: error: system 's' pool 'p': model 'm' does not fit: weights 1 GB") \
        == "does not fit in memory as infera sizes it"
    assert compile_reason("<s>:5:82: error: system 's' pool 'prefill': unknown field 'dp_attention'") \
        == "attention DP (pool field dp_attention) not accepted by this build"


def test_client_metrics_follow_the_benchmark_definition() -> None:
    # TPOT per request = (e2e - ttft) / (output - 1); then mean / median / p99 over finished requests.
    frame = pl.DataFrame({"status": ["finished", "finished", "finished", "rejected_timeout"],
                          "ttft_s": [0.1, 0.2, 0.6, None], "tpot_mean_s": [0.01, 0.02, 0.03, None]})
    m = client_metrics(frame)
    assert m["ttft_mean"] == pytest.approx(0.3) and m["ttft_median"] == pytest.approx(0.2)
    assert m["tpot_p99"] == pytest.approx(0.02 + 0.98 * 0.01)   # numpy's linear interpolation, as vLLM


def test_sglang_rows_poll_as_their_recipe_did_on_the_day_they_ran() -> None:
    """InferenceX's DeepSeek-R1 B200 SGLang recipe passes --scheduler-recv-interval 10 below 16 users and 30
    from 16 (validation/serving/serving_recipes.py); its H200 recipe and runs under attention DP leave 1."""
    from serving_recipes import sglang_recv_interval

    assert sglang_recv_interval("deepseek_r1", "b200", "fp8", 4, "2026-03-01", False) == 10
    assert sglang_recv_interval("deepseek_r1", "b200", "fp8", 16, "2026-03-01", False) == 30
    assert sglang_recv_interval("deepseek_r1", "b200", "fp8", 64, "2026-03-01", True) == 1
    assert sglang_recv_interval("deepseek_r1", "h200_sxm", "fp8", 64, "2026-03-01", False) == 1
    # Qwen3.5 FP8 on B200: none before the recipe landed, 30 from 16 users, then from 5 users after 2026-05-15.
    assert sglang_recv_interval("qwen3_5_397b_a17b", "b200", "fp8", 8, "2026-02-01", False) == 1
    assert sglang_recv_interval("qwen3_5_397b_a17b", "b200", "fp8", 8, "2026-04-01", False) == 10
    assert sglang_recv_interval("qwen3_5_397b_a17b", "b200", "fp8", 8, "2026-05-20", False) == 30
    raw = _first("inferencex", model="dsr1", hardware="b200", framework="sglang", precision="fp8", conc="64",
                 spec_method="none", disagg="False", decode_dp_attention="False")
    d = sr.inferencex_row(raw, 2).deployment
    assert d is not None and d.recv_interval == 30 and "recv_interval = 30" in sr.program(d)
    trt = sr.inferencex_row(_first("inferencex", framework="trt", spec_method="none", disagg="False"), 2)
    assert trt.deployment is not None and "recv_interval" not in sr.program(trt.deployment)


def test_the_kv_cache_is_fp8_where_the_rows_recipe_set_it_that_day() -> None:
    base = _first("inferencex", model="dsr1", hardware="b200", framework="sglang", precision="fp8",
                  disagg="False", spec_method="none")
    # dsr1_fp8_b200.sh has passed --kv-cache-dtype fp8_e4m3 since 2025-09-03.
    assert sr.inferencex_row({**base, "date": "2026-01-10"}, 2).deployment.kv_fp8
    assert not sr.inferencex_row({**base, "date": "2025-08-20"}, 2).deployment.kv_fp8
    d = sr.inferencex_row({**base, "date": "2026-01-10"}, 2).deployment
    assert "kv = fp8" in sr.program(d)
    plan = infera.compile_text(sr.program(d))
    assert plan["models"].to_pylist()[0]["kv_bytes_per_token"] < infera.compile_text(
        sr.program(sr.inferencex_row({**base, "date": "2025-08-20"}, 2).deployment))["models"].to_pylist()[0][
        "kv_bytes_per_token"]
    # Llama-3.3-70B's recipes keep the model's KV precision.
    llama = _first("inferencex", model="llama70b", hardware="b200", framework="trt", spec_method="none")
    assert not sr.inferencex_row(llama, 2).deployment.kv_fp8
    assert "kv = fp8" not in sr.program(sr.inferencex_row(llama, 2).deployment)


def test_disaggregated_deepseek_runs_keep_an_fp8_kv_cache_except_sglang_on_hopper() -> None:
    base = _first("inferencex", model="dsr1", hardware="gb200", framework="dynamo-trt", disagg="True",
                  spec_method="none", prefill_num_workers="2", prefill_tp="4", decode_tp="16")
    row = sr.inferencex_row(base, 2)
    assert row.deployment is not None and row.deployment.kv_fp8
    assert "kv = fp8" in sr.program(row.deployment)
    assert not sr.disaggregated_kv_fp8("deepseek_r1", "h200_sxm", "sglang")
    assert sr.disaggregated_kv_fp8("deepseek_r1", "h200_sxm", "trtllm")


def test_gb200_deepseek_sglang_runs_get_their_recipes_redundant_experts() -> None:
    base = _first("inferencex", model="dsr1", hardware="gb200", framework="dynamo-sglang", disagg="True",
                  spec_method="none", decode_tp="48", prefill_num_workers="6")
    d = sr.inferencex_row(base, 2).deployment
    assert d is not None and d.redundant_experts == 32
    text = sr.program(d)
    assert "ep = 48, redundant_experts = 32" in text
    infera.compile_text(text)
    # Aggregated rows, and other stacks, keep the model's experts alone.
    llama = sr.inferencex_row(_first("inferencex", model="llama70b", hardware="b200", framework="trt",
                                     spec_method="none"), 2).deployment
    assert llama.redundant_experts == 0 and "redundant_experts" not in sr.program(llama)


def test_aiconfigurator_gpt_oss_fp4_rows_are_the_released_mxfp4_checkpoint() -> None:
    raw = _first("aiconfigurator", model_path="openai/gpt-oss-120b", system="b200_sxm", gemm_quant_mode="nvfp4")
    row = sr.aiconfigurator_row(raw)
    assert row.precision == "mxfp4" and row.deployment is not None and row.deployment.weights == "mxfp4"


def test_a_gap_analysis_agg_row_above_its_worker_batch_records_no_worker_count() -> None:
    raw = _first("aiconfigurator", id="nvidia_qwen3_32b_nvfp4_nvidia_qwen3_32b_nvfp4_b200_sxm_trtllm_agg_15000x500_c416"
                 "_tp2_0_epnone_2")
    assert (raw["batch_size"], raw["tp_size"]) == ("13", "2") and "silicon_concurrency=416" in \
        raw["silicon_data_source"]
    row = sr.aiconfigurator_row(raw)
    assert row.deployment is None and row.reason == "worker count or layout not recorded"
    # at its worker's batch, the same set's row is one worker
    one = dict(raw, silicon_data_source=raw["silicon_data_source"].replace("=416", "=13"))
    d = sr.aiconfigurator_row(one).deployment
    assert d is not None and d.users == 13 and d.pools[0].workers == 1


def test_disaggregated_trtllm_prefill_workers_take_their_recipes_small_batches() -> None:
    base = _first("inferencex", model="dsr1", hardware="gb200", framework="dynamo-trt", disagg="True",
                  spec_method="none", precision="fp4", isl="8192", prefill_tp="4", prefill_dp_attention="True")
    d = sr.inferencex_row(base, 2).deployment
    assert d is not None and d.prefill_limits == (2, 16640)
    prefill = next(line for line in sr.program(d).splitlines() if "role = prefill" in line)
    # two 8k prompts and 16,640 tokens on each of the worker's four attention-DP ranks
    assert "max_batch = 8, max_batched_tokens = 66560" in prefill and "dp_attention = 4" in prefill
    infera.compile_text(sr.program(d))
    assert sr.disaggregated_prefill_limits("deepseek_r1", "h100_sxm", "fp8", 1024) == (2, 2048)
    # aggregated rows and other stacks keep the single-node budget
    sglang = sr.inferencex_row(_first("inferencex", model="dsr1", hardware="gb200", framework="dynamo-sglang",
                                      disagg="True", spec_method="none", decode_tp="48",
                                      prefill_num_workers="6"), 2).deployment
    assert sglang is not None and sglang.prefill_limits is None
