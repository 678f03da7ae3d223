"""Measured serving rows → the infera system each one ran, or the reason it cannot be expressed.

One row of either development set (``aiconfigurator/measurements.csv``, ``inferencex/measurements.csv``) is one
deployment under a closed-loop benchmark client. :func:`read_rows` turns every row into a :class:`Row`: the
measured metrics, the group it belongs to, and either a :class:`Deployment` (what to simulate) or ``reason``.
:func:`program` writes a deployment as an ``.infera`` program. Nothing here is tuned per row: every choice is a
rule over all rows, documented in ``docs/validation-serving.md``.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import infera._core
from infera import catalog
from serving_recipes import (disaggregated_kv_fp8, disaggregated_prefill_limits, disaggregated_redundant_experts,
                             recipe_kv_fp8, sglang_recv_interval)

HERE = Path(__file__).resolve().parent

# ---- the one name table: each set's model / chip / precision / backend spelling → infera's names ----------
# Models whose catalog entry is still missing keep their agreed name; such rows say "model not in catalog".
MODELS = {
    "deepseek-ai/DeepSeek-R1": "deepseek_r1", "nvidia/DeepSeek-R1-NVFP4": "deepseek_r1", "dsr1": "deepseek_r1",
    "deepseek-ai/DeepSeek-V3": "deepseek_v3", "nvidia/DeepSeek-V3.1-NVFP4": "deepseek_v3_1",
    "dsv4": "deepseek_v4_pro",
    "moonshotai/Kimi-K2.5": "kimi_k2_5", "kimik2.5": "kimi_k2_5",
    "zhipuai/GLM-5": "glm_5", "glm5": "glm_5",
    "MiniMaxAI/MiniMax-M2.5": "minimax_m2_5", "minimaxm2.5": "minimax_m2_5",
    "Qwen/Qwen3.5-397B-A17B": "qwen3_5_397b_a17b", "qwen3.5": "qwen3_5_397b_a17b",
    "openai/gpt-oss-120b": "gpt_oss_120b", "gptoss120b": "gpt_oss_120b",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3_235b_a22b",
    "Qwen/Qwen3-32B": "qwen3_32b", "nvidia/Qwen3-32B-NVFP4": "qwen3_32b",
    "meta-llama/Llama-3.1-70B": "llama3_1_70b",
    # InferenceX's "llama70b" is Llama-3.3-70B-Instruct-FP8, whose config.json has Llama-3.1-70B's shapes.
    "llama70b": "llama3_1_70b",
}
CHIPS = {"b200_sxm": "b200", "b200": "b200", "b300_sxm": "b300", "b300": "b300", "gb200": "gb200_gpu",
         "gb300": "gb300_gpu", "h100_sxm": "h100_sxm", "h100": "h100_sxm", "h200_sxm": "h200_sxm",
         "h200": "h200_sxm", "mi355x": "mi355x"}
#: Set precision → (weights, compute). InferenceX's "fp4" is NVFP4 on NVIDIA chips except gpt-oss, released as
#: MXFP4 (its config.json quantization_config); "int4" is Kimi-K2.5's weight-only INT4 (bf16 matmuls).
PRECISIONS = {"fp8": ("fp8", "fp8"), "fp8_block": ("fp8", "fp8"), "nvfp4": ("nvfp4", "nvfp4"),
              "mxfp4": ("mxfp4", "mxfp4"), "int4_wo": ("int4", "bf16"), "int4": ("int4", "bf16"),
              "bf16": ("bf16", "bf16"), "": ("bf16", "bf16")}
#: Chips without FP4 tensor cores, where the stacks run FP4 checkpoints with weight-only kernels that dequantise
#: the 4-bit weights into bf16 matmuls (W4A16): vLLM's Marlin NVFP4 kernels and its triton_kernels MXFP4 MoE
#: (matmul_ogs) on Hopper, TensorRT-LLM's Triton MoE backend for gpt-oss on Hopper.
NO_FP4 = {"h100_sxm", "h200_sxm"}
#: Serving stack each backend / framework imitates (dynamo-* is Dynamo's router in front of that engine).
STACKS = {"trtllm": "trtllm", "trt": "trtllm", "dynamo-trt": "trtllm", "vllm": "vllm", "dynamo-vllm": "vllm",
          "sglang": "sglang", "dynamo-sglang": "sglang"}
#: Chips one scale-up (NVLink) domain holds: an HGX/DGX board of 8, a GB200/GB300 NVL72 rack of 72.
NODE_SIZE = {"h100_sxm": 8, "h200_sxm": 8, "b200": 8, "b300": 8, "gb200_gpu": 72, "gb300_gpu": 72, "mi355x": 8}
#: Per-GPU network bandwidth the KV cache crosses between prefill and decode workers (one direction): one
#: ConnectX-7 (400 Gb/s) per GPU on DGX H100/H200/B200 and GB200 compute trays, one ConnectX-8 (800 Gb/s) per
#: GPU on DGX B300 and GB300 (NVIDIA DGX and GB200/GB300 NVL72 datasheets). Dynamo moves KV with NIXL over RDMA.
KV_NIC_GBPS = {"h100_sxm": 400, "h200_sxm": 400, "b200": 400, "gb200_gpu": 400, "b300": 800, "gb300_gpu": 800,
               "mi355x": 400}

#: Dynamo's front end (``python -m dynamo.frontend``, in Rust) tokenizes requests on the worker threads of its
#: async runtime, one per host CPU core by default, not in the engine's single server loop: requests do not
#: queue for the tokenizer at these rates. 64 workers stand for that (docs/validation-serving.md).
DYNAMO_FRONTEND_WORKERS = 64

# ---- the benchmark clients (docs/validation-serving.md cites each) ----------------------------------------
#: InferenceX runs `utils/bench_serving/benchmark_serving.py --num-prompts $((CONC * 10)) --max-concurrency
#: $CONC --random-range-ratio $RANDOM_RANGE_RATIO --request-rate inf --ignore-eos --num-warmups $((2 * CONC))`
#: with RANDOM_RANGE_RATIO = 0.8 (benchmarks/benchmark_lib.sh, .github/workflows/benchmark-tmpl.yml): every
#: prompt and output length uniform in [floor(0.8 L), L], warm-up requests excluded from the metrics.
INFERENCEX_CLIENT = {"prompts_per_user": 10, "range_ratio": 0.8}
#: aiconfigurator's own collection (`generator/.../benchmark/bench_run.sh.j2`): aiperf with `--concurrency C
#: --num-requests $((C * 20)) --warmup-request-count $((C * 2))`, isl/osl standard deviation 0, ignore_eos.
AICONFIGURATOR_CLIENT = {"prompts_per_user": 20, "range_ratio": 1.0}


@dataclass(frozen=True)
class PoolSpec:
    name: str
    role: str            # mixed | prefill | decode
    workers: int
    tp: int              # chips per worker (attention-DP ranks included)
    pp: int = 1
    ep: int = 1
    dp_attention: int = 1

    @property
    def chips(self) -> int:
        return self.workers * self.tp * self.pp


@dataclass(frozen=True)
class Deployment:
    """What one row ran, in infera's terms."""
    model: str
    chip: str
    weights: str
    compute: str
    stack: str
    pools: tuple[PoolSpec, ...]
    isl: int
    osl: int
    users: int
    requests: int
    range_ratio: float
    kv_link_gbs: float | None = None    # prefill → decode bandwidth (disaggregated only)
    recv_interval: int = 1              # SGLang's --scheduler-recv-interval, as the row's recipe set it
    dynamo: bool = False                # served behind Dynamo's front end rather than the stack's own
    kv_fp8: bool = False                # the recipe kept the KV cache in FP8 (serving_recipes.recipe_kv_fp8)
    redundant_experts: int = 0          # extra expert slots of each expert-parallel pool, as the recipe set them
    prefill_limits: tuple[int, int] | None = None   # a prefill rank's max batch and tokens, as the recipe set them


@dataclass
class Row:
    set: str
    id: str
    model: str           # infera's name (or the set's, if unmapped)
    chip: str
    backend: str         # the set's spelling (trt, dynamo-trt, vllm, ...)
    precision: str
    mode: str            # agg | disagg
    measured: dict[str, float]    # metric → seconds: ttft_mean, tpot_mean (+ medians, p99 for InferenceX)
    deployment: Deployment | None
    reason: str | None = None

    @property
    def group(self) -> tuple[str, str, str, str, str]:
        return (self.model, self.chip, self.backend, self.precision, self.mode)


def _int(v: str, default: int = 0) -> int:
    """A count column; empty (and, with a default, 0) means not recorded."""
    return (int(v) if v not in ("", None) else 0) or default


def _catalog_reason(model: str | None, chip: str | None, weights: str | None) -> str | None:
    if model is None:
        return "model not in the name table"
    if chip is None:
        return "chip not in the name table"
    if weights is None:
        return "precision not in the name table"
    if model not in catalog.section("models"):
        return f"model not in catalog ({model})"
    if chip not in catalog.section("chips"):
        return f"chip not in catalog ({chip})"
    if weights not in infera._core.PRECISIONS:
        return f"precision unsupported ({weights})"
    return None


def _layout_reason(pools: tuple[PoolSpec, ...], chip: str) -> str | None:
    for p in pools:
        if p.workers < 1 or p.tp < 1:
            return "worker count or layout not recorded"
        if p.tp * p.pp > NODE_SIZE.get(chip, 8):
            return "multi-node instance (tp x pp over one scale-up domain)"
        if p.tp % p.ep or p.tp % p.dp_attention:
            return "parallel layout inconsistent (ep or attention DP does not divide tp)"
    return None


def _deployment(model, chip, prec, stack, pools, isl, osl, users, client,
                measured_on: str | None = None, dynamo: bool = False) -> tuple[Deployment | None, str | None]:
    weights, compute = PRECISIONS.get(prec, (None, None))
    if compute in ("nvfp4", "mxfp4") and chip in NO_FP4:
        compute = "bf16"
    reason = _catalog_reason(model, chip, weights) or _layout_reason(pools, chip)
    if reason is None and stack is None:
        reason = "serving stack not in the name table"
    if reason is None and users < 1:
        reason = "concurrency not recorded"
    if reason:
        return None, reason
    link = None
    if any(p.role == "prefill" for p in pools):
        prefill_chips = sum(p.chips for p in pools if p.role == "prefill")
        link = KV_NIC_GBPS[chip] / 8 * prefill_chips
    recv = 1
    if stack == "sglang" and client is INFERENCEX_CLIENT and link is None:
        recv = sglang_recv_interval(model, chip, weights, users, measured_on,
                                    any(p.dp_attention > 1 for p in pools))
    kv_fp8 = client is INFERENCEX_CLIENT and (recipe_kv_fp8(model, chip, weights, stack, measured_on) if link is None
                                               else disaggregated_kv_fp8(model, chip, stack))
    redundant = disaggregated_redundant_experts(model, chip, stack) if client is INFERENCEX_CLIENT and link else 0
    limits = disaggregated_prefill_limits(model, chip, weights, isl) \
        if client is INFERENCEX_CLIENT and link and stack == "trtllm" else None
    return Deployment(model, chip, weights, compute, stack, pools, isl, osl, users,
                      client["prompts_per_user"] * users, client["range_ratio"], link, recv, dynamo, kv_fp8,
                      redundant, limits), None


def aiconfigurator_client(source: str) -> dict:
    """Which client measured an aiconfigurator row, from its ``silicon_data_source``: rows dumped from the
    InferenceX database (``db-dump/...; config_id=...; workflow_run_id=...``, the columns of InferenceX-app's
    ``benchmark_results`` table) and its dated exports ran InferenceX's client; gap-analysis rows
    (``gtl_job_id``, ``aic_database_mode``) ran aiconfigurator's own."""
    if "gap-analysis" in source or "gtl_job_id" in source or "aic_database_mode" in source:
        return AICONFIGURATOR_CLIENT
    return INFERENCEX_CLIENT


def aiconfigurator_row(r: dict[str, str]) -> Row:
    model, chip = MODELS.get(r["model_path"]), CHIPS.get(r["system"])
    prec = r["gemm_quant_mode"] if r["gemm_quant_mode"] == r["moe_quant_mode"] or not r["moe_quant_mode"] \
        else ("fp8" if {r["gemm_quant_mode"], r["moe_quant_mode"]} <= {"fp8", "fp8_block"} else "mixed")
    if model == "gpt_oss_120b" and prec == "nvfp4":
        # openai/gpt-oss-120b is released in MXFP4 only (its config.json quantization_config), as InferenceX's
        # own copies of these runs say; this set labels its FP4 rows nvfp4.
        prec = "mxfp4"
    m = re.search(r"silicon_concurrency=(\d+)", r["silicon_data_source"])
    users = int(m.group(1)) if m else _int(r["batch_size"])

    def pool(name: str, role: str, pre: str, workers: int) -> PoolSpec:
        # aiconfigurator's worker is tp_size x attention_dp_size GPUs (= moe_tp_size x moe_ep_size).
        tp, dp = _int(r[pre + "tp_size"], 1), _int(r[pre + "attention_dp_size"], 1)
        return PoolSpec(name, role, workers, tp * dp, _int(r[pre + "pp_size"], 1), _int(r[pre + "moe_ep_size"], 1),
                        dp)

    client = aiconfigurator_client(r["silicon_data_source"])
    if r["mode"] == "agg":
        # Rows whose worker count is not what they seem keep none (0 workers: "layout not recorded"):
        # - every aggregated InferenceX run is one node (its set: 2129 of 2129, none above 8 GPUs), and its
        #   early GB200 exports list disaggregated runs by their GPU total alone (InferenceX's own copies of them
        #   record no workers), which this export files as aggregated at tp = that total;
        # - a gap-analysis aggregated row's batch_size is one worker's batch, and 326 of its 355 rows ran at
        #   that concurrency: one worker. The other 29 ran 2-32 times it (the Qwen3-32B NVFP4 ones at 32 x tp 2,
        #   the GPU count of the disaggregated run beside them) on a worker count the row does not record.
        unrecorded = (client is INFERENCEX_CLIENT and pool("p", "mixed", "", 1).chips > 8) or (
            client is AICONFIGURATOR_CLIENT and m is not None and _int(r["batch_size"]) not in (0, users))
        pools = (pool("p", "mixed", "", 0 if unrecorded else 1),)
    else:
        pools = (pool("prefill", "prefill", "prefill_", _int(r["prefill_num_workers"])),
                 pool("decode", "decode", "decode_", _int(r["decode_num_workers"])))
    day = re.search(r"measured=(\d{4}-\d\d-\d\d)", r["silicon_data_source"])
    # Every disaggregated InferenceX run is a Dynamo deployment (its set names them dynamo-trt, dynamo-sglang,
    # dynamo-vllm; 431 of its 461 multi-node recipes set `frontend: type: dynamo`), so the rows aiconfigurator
    # copied from InferenceX's database entered through Dynamo's front end even where the source omits it.
    dynamo = "dynamo" in r["silicon_data_source"].lower() or (r["mode"] != "agg" and client is INFERENCEX_CLIENT)
    dep, reason = _deployment(model, chip, prec, STACKS.get(r["backend"]), pools, int(r["isl"]), int(r["osl"]),
                              users, client, day.group(1) if day else None, dynamo)
    measured = {"ttft_mean": float(r["silicon_ttft_ms"]) / 1e3, "tpot_mean": float(r["silicon_tpot_ms"]) / 1e3}
    return Row("aiconfigurator", r["id"], model or r["model_path"], chip or r["system"], r["backend"],
               prec or "bf16", r["mode"], measured, dep, reason)


def inferencex_row(r: dict[str, str], index: int) -> Row:
    model, chip = MODELS.get(r["model"]), CHIPS.get(r["hardware"])
    prec = "mxfp4" if r["precision"] == "fp4" and model == "gpt_oss_120b" else \
        ("nvfp4" if r["precision"] == "fp4" else r["precision"])
    disagg = r["disagg"] == "True"

    def pool(name: str, role: str, side: str) -> PoolSpec:
        workers, tp = _int(r[f"{side}_num_workers"]), _int(r[f"{side}_tp"], 1)
        if not disagg:
            # Aggregated rows are one worker of `decode_tp` GPUs; their num_decode_gpu is tp x ep (SCHEMA.md
            # notes the GPU counts are derived), not the GPUs the worker used.
            workers = 1
        elif workers and _int(r[f"num_{side}_gpu"]) != workers * tp:
            workers = 0  # GPUs per worker disagree with tp: the layout is not what the row says
        dp = tp if r[f"{side}_dp_attention"] == "True" else 1  # the flag means attention DP over all tp ranks
        return PoolSpec(name, role, workers, tp, 1, _int(r[f"{side}_ep"], 1), dp)

    pools = (pool("prefill", "prefill", "prefill"), pool("decode", "decode", "decode")) if disagg \
        else (pool("p", "mixed", "decode"),)
    if r["spec_method"] != "none":
        dep, reason = None, f"speculative decoding ({r['spec_method']}) not modelled"
    else:
        dep, reason = _deployment(model, chip, prec, STACKS.get(r["framework"]), pools, int(r["isl"]),
                                  int(r["osl"]), _int(r["conc"]), INFERENCEX_CLIENT, r["date"][:10] or None,
                                  r["framework"].startswith("dynamo-"))
    measured = {f"{m}_{q}": float(r[f"{q}_{m}"]) for m in ("ttft", "tpot") for q in ("mean", "median", "p99")}
    return Row("inferencex", f"{r['source_file']}:{index}", model or r["model"], chip or r["hardware"],
               r["framework"], prec, "disagg" if disagg else "agg", measured, dep, reason)


def read_rows(which: str = "all") -> list[Row]:
    rows: list[Row] = []
    if which in ("all", "aiconfigurator"):
        with (HERE / "aiconfigurator" / "measurements.csv").open(newline="") as fh:
            rows += [aiconfigurator_row(r) for r in csv.DictReader(fh)]
    if which in ("all", "inferencex"):
        with (HERE / "inferencex" / "measurements.csv").open(newline="") as fh:
            rows += [inferencex_row(r, i + 2) for i, r in enumerate(csv.DictReader(fh))]
    return rows


def trtllm_token_budget(users: int, isl: int, osl: int) -> int:
    """The step budget InferenceX's TensorRT-LLM recipes launch with, ``MAX_NUM_TOKENS`` = max(8192, CONC + ISL
    + 64 rounded up to 64) (its ``benchmarks/single_node/fixed_seq_len/*trt*.sh``): TensorRT-LLM does not chunk
    prefills by default, so the budget must hold a whole prompt. infera's engine may preempt a request and
    recompute its whole context, which TensorRT-LLM's GUARANTEED_NO_EVICT scheduler never does, so the budget
    is raised to hold prompt + output where that is more."""
    return max(8192, -(-(users + isl + 64) // 64) * 64, isl + osl)


def trtllm_graph_tokens(max_batch: int, dp_attention: int) -> int:
    """The largest decode batch per attention rank the TensorRT-LLM rows captured a graph for: every recipe
    sizes ``cuda_graph_config`` to the running batch, with ``enable_padding: true``. InferenceX's single-node
    recipes set ``max_batch_size: $CONC`` (``$CONC / 4`` with attention DP, still above a rank's share of the
    users; ``benchmarks/single_node/fixed_seq_len/*_trt.sh``), its Dynamo recipes list ``batch_sizes`` up to the
    decode worker's ``max_batch_size`` (``benchmarks/multi_node/srt-slurm-recipes/``), and aiconfigurator's
    generator up to its ``max_batch_size`` + 8 (``generator/rule_plugin/trtllm.rule``)."""
    return -(-max_batch // max(1, dp_attention))


def pool_text(p: PoolSpec, chip: str, stack: str, max_batch: int, budget: int | None = None,
              recv_interval: int = 1, dynamo: bool = False, redundant_experts: int = 0) -> str:
    """One pool of the system, imitating ``stack``, the serving stack the row ran (docs/stacks.md); ``budget``
    and ``recv_interval`` override the stack's step token budget and input polling, and TensorRT-LLM pools
    capture graphs up to their running batch, where the benchmark recipe did; a ``dynamo`` deployment's
    requests enter through Dynamo's front end; ``redundant_experts`` extra expert slots go to an expert-parallel
    pool whose recipe gave them."""
    opts = [f"stack = {stack}", f"tp = {p.tp}", f"max_batch = {max_batch}"]
    if budget is not None:
        # TensorRT-LLM's max_num_tokens holds for each attention-DP rank, which schedules its own requests.
        opts.append(f"max_batched_tokens = {budget * (p.dp_attention if stack == 'trtllm' else 1)}")
    if stack == "trtllm":
        opts += [f"graph_max_tokens = {trtllm_graph_tokens(max_batch, p.dp_attention)}", "graph_pad = 8"]
    if recv_interval > 1:
        opts.append(f"recv_interval = {recv_interval}")
    if dynamo and p.role != "decode":
        opts.append(f"frontend_workers = {DYNAMO_FRONTEND_WORKERS}")
    if p.role != "mixed":
        opts.insert(0, f"role = {p.role}")
    if p.pp > 1:
        opts.append(f"pp = {p.pp}")
    if NODE_SIZE.get(chip, 8) != 8:
        # An NVL72 rack is one NVLink domain: an instance of up to 72 GPUs keeps its collectives on the chip link.
        opts.append(f"node_size = {NODE_SIZE[chip]}")
    if p.ep > 1:
        opts.append(f"ep = {p.ep}")
        if redundant_experts:
            opts.append(f"redundant_experts = {redundant_experts}")
    if p.dp_attention > 1:
        opts.append(f"dp_attention = {p.dp_attention}")
    return f"  pool {p.name}: {p.chips} x {chip}, {', '.join(opts)}"


def program(d: Deployment) -> str:
    """The deployment as an ``.infera`` program: closed-loop users with the client's lengths and request count.
    ``max_batch`` holds each instance's share of the users: the benchmark recipes size the running batch for
    the concurrency (`--max-num-seqs $CONC`, `--max-running-requests $CONC`), never below infera's default."""
    def length(n: int) -> str:
        lo = max(1, math.floor(n * d.range_ratio))
        return f"{n} tokens" if lo == n else f"uniform(min = {lo}, max = {n})"

    decode_workers = sum(p.workers for p in d.pools if p.role != "prefill")
    max_batch = max(256, math.ceil(d.users / decode_workers))
    budget = trtllm_token_budget(d.users, d.isl, d.osl) if d.stack == "trtllm" else None

    def limits(p: PoolSpec) -> tuple[int, int | None]:
        if p.role == "prefill" and d.prefill_limits:
            # the recipe's per-rank limits; pool_text scales the token budget to the instance's ranks
            return d.prefill_limits[0] * p.dp_attention, d.prefill_limits[1]
        return max_batch, budget

    pools = "\n".join(pool_text(p, d.chip, d.stack, *limits(p), d.recv_interval, d.dynamo, d.redundant_experts)
                      for p in d.pools)
    link = f"\n  link prefill -> decode {{ bandwidth = {d.kv_link_gbs:g} GB/s }}" if d.kv_link_gbs else ""
    return (f"use chips.{d.chip}, models.{d.model}\n"
            f"model m extends {d.model} {{ weights = {d.weights}, compute = {d.compute}"
            f"{', kv = fp8' if d.kv_fp8 else ''} }}\n"
            f"traffic t {{ arrivals = closed(users = {d.users}), prompt = {length(d.isl)}, "
            f"output = {length(d.osl)}, requests = {d.requests} }}\n"
            f"system s {{\n{pools}{link}\n}}\n"
            f"run r {{ model = m, traffic = t, system = s, record = [requests] }}\n")
