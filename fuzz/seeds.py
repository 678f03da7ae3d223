"""Writes the seed corpora of the atheris targets, fuzz/corpus/<target>/, from the examples and the tests.

    PYTHONPATH=python python fuzz/seeds.py          # all targets
    PYTHONPATH=python python fuzz/seeds.py trace    # one

Each folder is emptied and refilled; a seed's file name is the SHA-1 of its bytes, as libFuzzer names inputs.
Long files are cut to their first lines so that the corpora stay a few hundred KB in all.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "dsl"), str(ROOT / "tests" / "compile"),
                str(ROOT / "tests" / "plan")]

import polars as pl  # noqa: E402

import helpers  # noqa: E402
import infera  # noqa: E402
import test_fuzz_dsl  # noqa: E402
import test_fuzz_plan  # noqa: E402
import test_trace_rows  # noqa: E402
import test_traces  # noqa: E402


def head(path: Path, lines: int) -> bytes:
    """The first ``lines`` lines of a file."""
    return b"".join(path.read_bytes().splitlines(keepends=True)[:lines])


def programs() -> Iterator[str]:
    """The examples, the catalog, and the tests' small programs on the helpers' headers."""
    for path in sorted((ROOT / "examples").glob("*.infera")):
        yield path.read_text()
    for path in sorted((ROOT / "python" / "infera" / "catalog").glob("*.infera")):
        yield path.read_text()
    yield helpers.program(test_fuzz_dsl.TINY_BODY)
    yield helpers.program(test_fuzz_dsl.H100_BODY, header=helpers.H100_8B)
    yield helpers.program(test_fuzz_plan.BODY)


def dsl() -> Iterator[bytes]:
    for text in programs():
        yield text.encode()


def _parquet(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.write_parquet(sink)
    return sink.getvalue()


def trace() -> Iterator[bytes]:
    """Flag byte (bit 0 Parquet, bits 1-3 requests, duration, time scale from the next bytes, bit 4 sort, bits 5-6
    window and sample, bit 7 the sample's seed), then the file."""
    sample = head(ROOT / "examples" / "traces" / "conversation_sample.csv", 40)
    yield b"\x00" + sample
    yield b"\x0e" + b"\x05\x10\x20" + sample
    yield b"\x70" + b"\x02\x40\x80" + sample  # sort, a window and a sample
    messy = test_traces.test_messy_traces_are_rejected_with_the_row.pytestmark[0].args[1]
    for csv_text, _ in messy:
        yield b"\x00" + csv_text.encode()
    yield b"\x00TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.000000,10,2\n2023-11-16 18:15:48.5,20,2\n"
    frame = pl.read_csv(sample)
    yield b"\x01" + _parquet(frame.head(8))
    yield b"\x01" + _parquet(pl.DataFrame({"arrival_s": [0.0, 1.0, 2.0], "prompt_tokens": [5, 6, 7],
                                           "output_tokens": [1, 2, 3]}))


def trace_jsonl() -> Iterator[bytes]:
    """Flag byte (bit 0 format = mooncake, bit 1 sort, bits 2-4 window, sample, requests from the next bytes),
    then the file: lines shaped like the published Mooncake traces, infera's JSONL, the tests' bad lines."""
    mooncake = b"".join(json.dumps({"timestamp": 3000 * (i // 4), "input_length": 600 + 700 * i, "output_length": 5 + i,
                                    "hash_ids": [0] + [10 * i + j for j in range(1, 2 + (600 + 700 * i) // 512)]}
                                   ).encode() + b"\n" for i in range(12))
    yield b"\x00" + mooncake
    yield b"\x01" + mooncake
    yield b"\x1c" + b"\x00\x20\x80\x05" + mooncake
    yield b"\x02" + b"\n".join(reversed(mooncake.splitlines())) + b"\n"
    yield b"\x00" + b"".join(json.dumps({"arrival_s": 0.5 * i, "prompt_tokens": 10 + i, "output_tokens": 2}).encode()
                            + b"\n" for i in range(8))
    bad = test_trace_rows.test_bad_jsonl_lines_are_named.pytestmark[0].args[1]
    for second, _ in bad:
        if len(second) < 1000:
            yield b"\x00" + (test_trace_rows.MOONCAKE + second + "\n").encode()


def profile() -> Iterator[bytes]:
    """Cut-down measured profiles and measurements, and the shapes the calibration tests write."""
    yield head(ROOT / "validation" / "h100_bf16_profile.csv", 30)
    yield head(ROOT / "validation" / "gpu" / "h100" / "measurements.csv", 30)
    yield (b"run,operator,tokens,seconds\n1,qkv_proj,1,3e-6\n2,qkv_proj,1,1e-6\n1,qkv_proj,200,4e-5\n"
           b"1,down_proj,64,7e-6\n")
    yield b"operator,stat,x,seconds\nqkv_proj,tokens,1,2e-6\nqkv_proj,tokens,200,4e-5\n"
    yield b"operator,x,stat,seconds\nattention,10,attn_pairs,1e-6\nlm_head,4,sampled,3e-6\n"
    yield b"model,operator,tp,kv_tokens,seconds\ntiny,attention,2,100,1e-6\n"


def plan() -> Iterator[bytes]:
    """Plans of the tests' small programs, saved as Arrow IPC files."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, body in enumerate((test_fuzz_plan.BODY, test_fuzz_dsl.TINY_BODY)):
            path = Path(tmp) / f"{i}.arrow"
            infera.compile_text(helpers.program(body)).save(path)
            yield path.read_bytes()


def config() -> Iterator[bytes]:
    """The shipped Hugging Face configs, and small ones of each family that fit a pool and simulate."""
    for path in sorted((ROOT / "python" / "infera" / "catalog" / "configs").glob("*.json")):
        yield path.read_bytes()
    small = {"num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 512, "vocab_size": 1000, "torch_dtype": "bfloat16"}
    yield json.dumps({"model_type": "llama", **small}).encode()
    yield json.dumps({"model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2, **small}).encode()
    yield json.dumps({"model_type": "deepseek_v3", **small, "n_routed_experts": 4, "num_experts_per_tok": 2,
                      "n_shared_experts": 1, "moe_intermediate_size": 64, "first_k_dense_replace": 1,
                      "kv_lora_rank": 32, "q_lora_rank": None, "qk_rope_head_dim": 16, "qk_nope_head_dim": 32,
                      "v_head_dim": 32, "quantization_config": {"quant_method": "fp8"}}).encode()


TARGETS: dict[str, Callable[[], Iterator[bytes]]] = {"dsl": dsl, "trace": trace, "trace_jsonl": trace_jsonl,
                                                      "profile": profile, "plan": plan, "config": config}


def write(target: str) -> None:
    folder = CORPUS / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seeds = list(TARGETS[target]())
    for data in seeds:
        (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{folder.relative_to(ROOT)}: {len(seeds)} seeds, {sum(map(len, seeds))} bytes")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(TARGETS):
        write(name)
