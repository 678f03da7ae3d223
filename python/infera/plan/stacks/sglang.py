"""SGLang (0.5.3–0.5.12), ``python -m sglang.launch_server`` with only a model and its parallelism flags."""

from infera.plan.stacks.profile import Stack


def _chunk(mem: float, tp: int) -> int:
    # server_args.py _handle_gpu_memory_settings: chunked_prefill_size by GPU memory (GB).
    return 2048 if mem < 35 else 4096 if mem < 60 else 8192 if mem < 160 else 16384


def _graph_bs(mem: float, tp: int) -> int:
    # server_args.py _handle_gpu_memory_settings: cuda_graph_max_bs by GPU memory and TP.
    if mem < 60:
        return 32 if tp < 4 else 160
    if mem < 160:
        return 256 if tp < 4 else 512
    return 512


PROFILE = Stack(
    name="sglang",
    version="0.5.3-0.5.12",
    max_batch=4096,
    max_batched_tokens=_chunk,
    chunked_prefill=True,
    policy="prefill_first",
    block_size=1,
    memory_utilization=0.88,
    step_overhead_s=0.0,
    step_overhead_per_layer_s=57e-6,
    step_overhead_per_seq_s=27e-6,
    graph_max_tokens=_graph_bs,
    graph_prefill=False,
    graph_pad_tokens=8,
    eager_launch_s=100e-6,
    recv_interval=1,
    frontend_per_token_s=35e-6,
    prefix_cache=True,
    sources=(
        ("frontend_per_token_s", "TokenizerManager tokenizes each prompt in the server's main process "
                                 "(managers/tokenizer_manager.py); the cost per token fitted on the development "
                                 "sets' TTFT against prompt length (docs/validation-serving.md)"),
        ("prefix_cache", "server_args.py: disable_radix_cache False (the radix cache is on unless disabled)"),
        ("max_batch", "managers/tp_worker.py + model_executor/model_runner.py: max_running_requests derived from "
                      "the KV pool, request pool clamped to [2048, 4096]; the KV capacity binds first"),
        ("max_batched_tokens", "server_args.py _handle_gpu_memory_settings: chunked_prefill_size 2048 (< 35 GB), "
                               "4096 (< 60 GB), 8192 (< 160 GB), 16384 (>= 160 GB)"),
        ("chunked_prefill", "server_args.py: chunked_prefill_size > 0, enable_mixed_chunk False"),
        ("policy", "managers/scheduler.py get_next_batch_to_run: a new prefill batch runs as a step of its own, "
                   "decoding waits"),
        ("block_size", "server_args.py: page_size 1"),
        ("memory_utilization", "server_args.py: mem_fraction_static computed per GPU (about 0.86-0.90 on "
                               "H100/H200 at TP 1-8); 0.88 is its fallback"),
        ("step_overhead_s", "overlap scheduler on (disable_overlap_schedule False; SGLang v0.4 blog, zero-overhead "
                            "batch scheduler) hides the fixed CPU step: 0, what the steps measure beyond the operators "
                            "is priced per layer (step_overhead_per_layer_s)"),
        ("step_overhead_per_seq_s", "fitted on the development sets' decode steps (docs/validation-serving.md)"),
        ("step_overhead_per_layer_s", "fitted on the development sets' decode steps at 4-8 users against the "
                                      "model's depth (docs/validation-serving.md)"),
        ("graph_max_tokens", "server_args.py: cuda_graph_max_bs 32/160 (< 60 GB, TP < 4 / >= 4), 256/512 "
                             "(< 160 GB), 512 (>= 160 GB)"),
        ("graph_prefill", "model_executor/cuda_graph_runner.py: graphs capture decode batches only"),
        ("graph_pad_tokens", "server_args.py _generate_cuda_graph_batch_sizes: 1, 2, 4, 8, 12, then every 8 up to 256; "
                             "cuda_graph_runner.py pads up (bisect)"),
        ("eager_launch_s", "fitted on the development sets' short-prompt TTFT (docs/validation-serving.md)"),
        ("recv_interval", "server_args.py: scheduler_recv_interval 1, the scheduler reads its input socket before "
                          "every step (managers/scheduler_recv_skipper.py is created only for a value above 1)"),
    ),
)
