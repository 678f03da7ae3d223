"""vLLM's V1 engine (0.14–0.19), ``vllm serve`` with only a model and its parallelism flags."""

from infera.plan.stacks.profile import Stack


def _large(memory_gib: float) -> bool:
    # vLLM keys its batch defaults on >= 70 GiB of device memory (A100s excepted, which infera cannot tell).
    return memory_gib >= 70


PROFILE = Stack(
    name="vllm",
    version="0.14-0.19 (V1 engine, async scheduling)",
    max_batch=lambda mem, tp: 1024 if _large(mem) else 256,
    max_batched_tokens=lambda mem, tp: 8192 if _large(mem) else 2048,
    chunked_prefill=True,
    policy="decode_first",
    block_size=16,
    memory_utilization=0.9,
    step_overhead_s=0.0,
    step_overhead_per_layer_s=47e-6,
    step_overhead_per_seq_s=8.5e-6,
    graph_max_tokens=512,
    graph_prefill=True,
    graph_pad_tokens=8,
    eager_launch_s=100e-6,
    recv_interval=1,
    frontend_per_token_s=15e-6,
    prefix_cache=True,
    per_rank=("max_batch", "max_batched_tokens"),
    sources=(
        ("per_rank", "docs/serving/data_parallel_deployment.md: each DP rank is a separate core engine process, "
                     "with its own scheduler (max_num_seqs, max_num_batched_tokens)"),
        ("frontend_per_token_s", "the API server tokenizes prompts on a single-thread executor "
                                 "(vllm/utils/async_utils.py AsyncMicrobatchTokenizer); the cost per token "
                                 "fitted on the development sets' TTFT against prompt length "
                                 "(docs/validation-serving.md)"),
        ("prefix_cache", "vllm/config/cache.py: enable_prefix_caching on by default in the V1 engine (automatic "
                         "prefix caching, docs/design/prefix_caching.md)"),
        ("max_batch", "vllm/engine/arg_utils.py EngineArgs.get_batch_defaults: max_num_seqs 1024 on >= 70 GiB, "
                      "else 256 (0.10.1.1-0.19.0)"),
        ("max_batched_tokens", "vllm/engine/arg_utils.py EngineArgs.get_batch_defaults: API server 8192 on "
                               ">= 70 GiB, else 2048"),
        ("chunked_prefill", "vllm/config/scheduler.py: enable_chunked_prefill on for decoder models"),
        ("policy", "vllm/v1/core/sched/scheduler.py Scheduler.schedule: running requests first, then waiting "
                   "ones while the token budget lasts, in one step"),
        ("block_size", "vllm/config/cache.py + platform check_and_update_config: 16 on CUDA"),
        ("memory_utilization", "vllm/config/cache.py: gpu_memory_utilization 0.9"),
        ("step_overhead_s", "async scheduling on by default from 0.14 (vllm/config/vllm.py) hides most of the "
                            "CPU step: 0, what the steps measure beyond the operators is priced per layer "
                            "(step_overhead_per_layer_s, docs/validation-serving.md)"),
        ("step_overhead_per_seq_s", "fitted on the development sets' decode steps (docs/validation-serving.md)"),
        ("step_overhead_per_layer_s", "fitted on the development sets' decode steps at 4-8 users against the "
                                      "model's depth (docs/validation-serving.md)"),
        ("graph_max_tokens", "vllm/config/vllm.py _set_cudagraph_sizes: max_cudagraph_capture_size "
                             "min(2 x max_num_seqs, 512)"),
        ("graph_prefill", "vllm/config/compilation.py: FULL_AND_PIECEWISE graphs (default from 0.11) cover "
                          "mixed prefill/decode steps piecewise"),
        ("graph_pad_tokens", "vllm/config/vllm.py _set_cudagraph_sizes: capture sizes 1, 2, 4, then every 8 up to 256 "
                             "(every 16 above), padded up"),
        ("eager_launch_s", "fitted on the development sets' short-prompt TTFT (docs/validation-serving.md)"),
        ("recv_interval", "vllm/v1/engine/core.py EngineCoreProc.run_busy_loop: _process_input_queue drains the "
                          "input queue before every engine step"),
    ),
)
