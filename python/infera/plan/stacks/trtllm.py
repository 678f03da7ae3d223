"""TensorRT-LLM's PyTorch backend (1.0–1.2), ``trtllm-serve`` with only a model and its parallelism flags."""

from infera.plan.stacks.profile import Stack

PROFILE = Stack(
    name="trtllm",
    version="1.0-1.2 (PyTorch backend)",
    max_batch=2048,
    max_batched_tokens=8192,
    chunked_prefill=False,
    policy="decode_first",
    block_size=32,
    memory_utilization=0.9,
    step_overhead_s=0.0,
    step_overhead_per_layer_s=24e-6,
    step_overhead_per_seq_s=0.0,
    graph_max_tokens=128,
    graph_prefill=False,
    graph_pad_tokens=1,
    eager_launch_s=100e-6,
    recv_interval=1,
    frontend_per_token_s=20e-6,
    prefix_cache=True,
    per_rank=("max_batch", "max_batched_tokens"),
    sources=(
        ("per_rank", "with enable_attention_dp each rank's PyExecutor schedules its own requests under "
                     "max_batch_size and max_num_tokens (tensorrt_llm/_torch/pyexecutor/py_executor.py; its CUDA "
                     "graphs pad to the largest rank's batch, cuda_graph_runner.py _get_padded_batch)"),
        ("frontend_per_token_s", "trtllm-serve tokenizes each prompt in its asyncio server loop "
                                 "(tensorrt_llm/serve/openai_server.py); the cost per token fitted on the "
                                 "development sets' TTFT against prompt length (docs/validation-serving.md)"),
        ("prefix_cache", "tensorrt_llm/llmapi/llm_args.py KvCacheConfig: enable_block_reuse True (KV cache block "
                         "reuse across requests, docs/source/features/kvcache.md)"),
        ("max_batch", "tensorrt_llm/commands/serve.py: max_batch_size from BuildConfig, 2048"),
        ("max_batched_tokens", "tensorrt_llm/commands/serve.py: max_num_tokens from BuildConfig, 8192"),
        ("chunked_prefill", "tensorrt_llm/commands/serve.py: --enable_chunked_prefill off"),
        ("policy", "in-flight batching with the GUARANTEED_NO_EVICT capacity scheduler (serve.py, llm_args.py "
                   "SchedulerConfig): generation requests and new context requests share an iteration"),
        ("block_size", "tensorrt_llm/llmapi/llm_args.py KvCacheConfig: tokens_per_block 32"),
        ("memory_utilization", "llm_args.py KvCacheConfig: free_gpu_memory_fraction 0.9 (of the memory left "
                               "after weights; infera's share is of the whole)"),
        ("step_overhead_s", "overlap scheduler on (llm_args.py disable_overlap_scheduler False; TensorRT-LLM docs, "
                            "overlap scheduler) hides the fixed CPU step: 0, what steps measure beyond the operators "
                            "is priced per layer (step_overhead_per_layer_s)"),
        ("step_overhead_per_seq_s", "fitted on the development sets' decode steps (docs/validation-serving.md)"),
        ("step_overhead_per_layer_s", "fitted on the development sets' decode steps at 4-8 users against the "
                                      "model's depth (docs/validation-serving.md)"),
        ("graph_max_tokens", "llm_args.py CudaGraphConfig: on by default, max_batch_size 128 when unset"),
        ("graph_prefill", "llm_args.py cuda_graph_config: graphs for generation-only batches"),
        ("graph_pad_tokens", "llm_args.py CudaGraphConfig enable_padding False: a batch replays only a graph of "
                             "its exact size (1..31, 32, 64, 128 captured)"),
        ("eager_launch_s", "fitted on the development sets' short-prompt TTFT (docs/validation-serving.md)"),
        ("recv_interval", "tensorrt_llm/_torch/pyexecutor/py_executor.py _executor_loop: "
                          "_fetch_and_activate_new_requests at the top of every iteration"),
    ),
)
