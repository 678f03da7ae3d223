"""What the benchmark recipes launched the stacks with beyond their defaults, for the rows that ran them: SGLang's
input polling (below) and the KV cache's precision (at the end of the file).

InferenceX's SGLang recipes (``benchmarks/single_node/fixed_seq_len/*.sh`` of SemiAnalysisAI/InferenceX, and
their earlier paths ``benchmarks/*_docker.sh`` and ``benchmarks/single_node/*.sh``) pass
``--scheduler-recv-interval``: the scheduler reads new requests only every N decode steps (docs/stacks.md,
``recv_interval``). Which value a row ran follows the recipe for its model, chip and precision as it stood on
the day the row was measured, read from the repository's history:

* DeepSeek-R1 (and the V3 rows, which the sets' sources name DeepSeek-R1) on B200, FP8 and FP4: 10 below 16
  users, 30 from 16, since the recipes' first versions (2025-09-21 for FP4, 2025-09-23 for FP8,
  ``dsr1_fp{4,8}_b200_docker.sh``); on B300 since the recipes landed on 2026-04-17.
* Qwen3.5-397B on B200: BF16 since 2026-02-19, FP8 since 2026-03-03, FP4 since 2026-04-08, 10 / 30 at 16
  users; FP8 and FP4 switch to 30 above 4 users on 2026-05-15. On B300 from 2026-04-17: BF16 and FP4 10 / 30
  at 16 users, FP8 10 at every concurrency.
* GLM-5 FP4: 10 on B200 from 2026-04-09 and on B300 from 2026-04-17.
* Every other recipe (H100/H200, GLM-5 FP8, the disaggregated multi-node ones) leaves SGLang's default 1,
  and ``dsr1_fp4_b200.sh`` sets 1 when attention DP is on (SGLang 0.5's ``SchedulerRecvSkipper`` asserts
  that attention DP is off).

aiconfigurator's own gap-analysis collection launched SGLang without the flag.
"""

from __future__ import annotations

#: (model, chip, weights) → [(first day, users threshold, interval below, interval from)], oldest first; a
#: threshold of 0 means the interval does not depend on the users.
_RECV: dict[tuple[str, str, str], list[tuple[str, int, int, int]]] = {}


def _add(models: tuple[str, ...], chips: tuple[str, ...], weights: tuple[str, ...], since: str, threshold: int,
         below: int, at_or_above: int) -> None:
    for m in models:
        for c in chips:
            for w in weights:
                _RECV.setdefault((m, c, w), []).append((since, threshold, below, at_or_above))


_DS = ("deepseek_r1", "deepseek_v3")
_add(_DS, ("b200",), ("nvfp4",), "2025-09-21", 16, 10, 30)
_add(_DS, ("b200",), ("fp8",), "2025-09-23", 16, 10, 30)
_add(_DS, ("b300",), ("fp8", "nvfp4"), "2026-04-17", 16, 10, 30)
_Q = ("qwen3_5_397b_a17b",)
_add(_Q, ("b200",), ("bf16",), "2026-02-19", 16, 10, 30)
_add(_Q, ("b200",), ("fp8",), "2026-03-03", 16, 10, 30)
_add(_Q, ("b200",), ("nvfp4",), "2026-04-08", 16, 10, 30)
_add(_Q, ("b200",), ("fp8", "nvfp4"), "2026-05-15", 5, 10, 30)
_add(_Q, ("b300",), ("bf16", "nvfp4"), "2026-04-17", 16, 10, 30)
_add(_Q, ("b300",), ("fp8",), "2026-04-17", 0, 10, 10)
_add(("glm_5",), ("b200",), ("nvfp4",), "2026-04-09", 0, 10, 10)
_add(("glm_5",), ("b300",), ("nvfp4",), "2026-04-17", 0, 10, 10)


def sglang_recv_interval(model: str, chip: str, weights: str, users: int, measured_on: str | None,
                         dp_attention: bool) -> int:
    """The ``--scheduler-recv-interval`` an InferenceX SGLang recipe ran a row with (1: not set); ``measured_on``
    is the row's day (``YYYY-MM-DD``; None: unknown, taken as the latest recipe)."""
    if dp_attention:
        return 1
    value = 1
    for since, threshold, below, at_or_above in _RECV.get((model, chip, weights), []):
        if measured_on is None or measured_on >= since:
            value = at_or_above if users >= threshold else below
    return value


# ---- the KV cache's precision ------------------------------------------------------------------------------
# InferenceX's single-node recipes run most Blackwell deployments with an FP8 KV cache: SGLang's and vLLM's
# `--kv-cache-dtype fp8` / `fp8_e4m3`, TensorRT-LLM's `kv_cache_config: {dtype: fp8}`. The table lists each
# recipe (`benchmarks/single_node/fixed_seq_len/<model>_<precision>_<chip>[_trt].sh`, and its earlier paths)
# that sets it, with the first day its history carries the flag (`git log --follow -G`). Recipes absent here
# (H100/H200 but the ones listed, GLM-5 FP8 on H200, Kimi-K2.5 INT4, Qwen3.5 BF16, Llama-3.3-70B) keep the
# model's own KV precision.

#: (model, chip, weights, stack) → the first day the recipe ran an FP8 KV cache.
_KV_FP8: dict[tuple[str, str, str, str], str] = {}


def _kv(models: tuple[str, ...], chips: tuple[str, ...], weights: tuple[str, ...], stack: str, since: str) -> None:
    for m in models:
        for c in chips:
            for w in weights:
                _KV_FP8[(m, c, w, stack)] = since


_kv(_DS, ("b200", "b300"), ("fp8",), "sglang", "2025-09-03")
_kv(_DS, ("b200", "b300"), ("nvfp4",), "sglang", "2025-09-21")
_kv(_DS, ("b200",), ("fp8",), "trtllm", "2025-09-04")
_kv(_DS, ("b200",), ("nvfp4",), "trtllm", "2025-09-15")
_kv(_DS, ("h200_sxm",), ("fp8",), "trtllm", "2025-09-15")
_kv(("glm_5",), ("b200", "b300"), ("fp8", "nvfp4"), "sglang", "2026-03-04")
_kv(("gpt_oss_120b",), ("b200",), ("mxfp4",), "vllm", "2025-12-05")
_kv(("gpt_oss_120b",), ("b200",), ("mxfp4",), "trtllm", "2025-10-20")
_kv(("kimi_k2_5",), ("b200", "b300"), ("nvfp4",), "vllm", "2026-04-20")
_kv(("minimax_m2_5",), ("b200", "b300"), ("fp8", "nvfp4"), "vllm", "2026-04-03")
_kv(("minimax_m2_5",), ("b200", "b300"), ("nvfp4",), "trtllm", "2026-06-12")
_kv(("minimax_m2_5",), ("h200_sxm",), ("fp8",), "vllm", "2026-05-26")
_kv(_Q, ("b200", "b300"), ("nvfp4",), "sglang", "2026-03-03")
_kv(_Q, ("b200",), ("fp8",), "sglang", "2026-03-03")
_kv(_Q, ("b300", "h100_sxm", "h200_sxm"), ("fp8",), "sglang", "2026-03-04")
_kv(_Q, ("b200",), ("nvfp4",), "trtllm", "2026-06-16")


def recipe_kv_fp8(model: str, chip: str, weights: str, stack: str, measured_on: str | None) -> bool:
    """Whether the InferenceX recipe a row ran kept its KV cache in FP8 (``measured_on`` ``YYYY-MM-DD``; None:
    unknown, taken as the latest recipe)."""
    since = _KV_FP8.get((model, chip, weights, stack))
    return since is not None and (measured_on is None or measured_on >= since)


# InferenceX's disaggregated deployments (Dynamo, `benchmarks/multi_node/srt-slurm-recipes/`): every version of
# every DeepSeek-R1 recipe in the repository's history on B200, B300, GB200 and GB300 (SGLang and TensorRT-LLM)
# and on H100/H200 under TensorRT-LLM sets an FP8 KV cache, SGLang's H100/H200 ones do not; so do all the
# Kimi-K2.5 recipes (TensorRT-LLM and vLLM, GB200).
_KV_FP8_DISAGG: set[tuple[str, str, str]] = {
    *((m, c, s) for m in _DS for c in ("b200", "b300", "gb200_gpu", "gb300_gpu") for s in ("sglang", "trtllm")),
    *((m, c, "trtllm") for m in _DS for c in ("h100_sxm", "h200_sxm")),
    *(("kimi_k2_5", "gb200_gpu", s) for s in ("trtllm", "vllm")),
}


def disaggregated_kv_fp8(model: str, chip: str, stack: str) -> bool:
    """Whether InferenceX's disaggregated recipes for this model, chip and stack keep the KV cache in FP8."""
    return (model, chip, stack) in _KV_FP8_DISAGG


# ---- redundant experts -------------------------------------------------------------------------------------
# Every version of InferenceX's GB200/GB300 DeepSeek-R1 SGLang recipes (`srt-slurm-recipes/dsr1/sglang/gb{2,3}00-*`)
# passes `ep-num-redundant-experts: 32` to its expert-parallel workers (EP 8 to 48): 288 expert slots, which
# is what lets EP 24 and 48 split DeepSeek's 256 experts.
_REDUNDANT: dict[tuple[str, str, str], int] = {(m, c, "sglang"): 32 for m in _DS for c in ("gb200_gpu", "gb300_gpu")}


def disaggregated_redundant_experts(model: str, chip: str, stack: str) -> int:
    """The redundant expert slots InferenceX's disaggregated recipes give each expert-parallel worker."""
    return _REDUNDANT.get((model, chip, stack), 0)


# ---- disaggregated TensorRT-LLM prefill workers ----------------------------------------------------------------
# InferenceX's Dynamo TensorRT-LLM recipes (`srt-slurm-recipes/{dsr1,kimi2.5,kimik2.5,GLM5}/...`, and for
# gpt-oss `configs/deprecated/nvidia-gptoss-master.yaml` PREFILL_MAX_BATCH_SIZE / PREFILL_MAX_NUM_TOKENS) give
# the prefill workers small batches of their own: `max_batch_size` and `max_num_tokens` per attention-DP rank,
# the same in every version of every recipe for a model, chip, precision and prompt length. At 8k prompts
# that is one or two prompts a rank, not the single-node recipes' budget sized for the whole concurrency.
#: DeepSeek-R1 (and the V3 rows): (chip, weights) → {prompt length: (max_batch_size, max_num_tokens)}
_DS_PREFILL: dict[tuple[str, str], dict[int, tuple[int, int]]] = {
    ("gb200_gpu", "nvfp4"): {1024: (16, 16384), 8192: (2, 16640)},
    ("gb300_gpu", "nvfp4"): {1024: (16, 16384), 8192: (2, 16640)},
    ("gb200_gpu", "fp8"): {1024: (16, 16384), 8192: (2, 16384)},
    ("gb300_gpu", "fp8"): {1024: (16, 16384), 8192: (2, 16384)},
    ("b200", "nvfp4"): {1024: (8, 10240), 8192: (2, 16896)},
    ("b300", "nvfp4"): {1024: (8, 10240), 8192: (2, 16896)},
    ("b200", "fp8"): {1024: (16, 16384), 8192: (1, 8320)},
    ("b300", "fp8"): {1024: (8, 8320), 8192: (8, 8320)},
    ("h100_sxm", "fp8"): {1024: (2, 2048), 8192: (1, 8224)},
    ("h200_sxm", "fp8"): {1024: (8, 8192), 8192: (2, 16640)},
}
#: (model, chip, weights) → {prompt length: (max_batch_size, max_num_tokens)}
_PREFILL: dict[tuple[str, str, str], dict[int, tuple[int, int]]] = {
    (m, c, w): v for m in _DS for (c, w), v in _DS_PREFILL.items()}
_PREFILL[("kimi_k2_5", "gb200_gpu", "nvfp4")] = {1024: (16, 16384), 8192: (2, 16384)}
_PREFILL[("kimi_k2_5", "gb300_gpu", "nvfp4")] = {8192: (2, 16384)}
_PREFILL[("glm_5", "gb200_gpu", "nvfp4")] = {1024: (16, 16384), 8192: (2, 16640)}
_PREFILL[("gpt_oss_120b", "gb200_gpu", "mxfp4")] = {1024: (32, 20000), 8192: (32, 20000)}


def disaggregated_prefill_limits(model: str, chip: str, weights: str, isl: int) -> tuple[int, int] | None:
    """``(max_batch_size, max_num_tokens)`` per attention-DP rank of the prefill workers of InferenceX's
    disaggregated TensorRT-LLM recipe for this model, chip, precision and prompt length; None where none."""
    return _PREFILL.get((model, chip, weights), {}).get(isl)
