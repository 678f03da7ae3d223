"""Model catalog (MoE, MLA, weight precisions) and parallelism (pipeline, expert, cross-node tensor).

Parameter counts and per-operator FLOPs/bytes are checked against hand counts written here from each model's
published shape (config.json), independently of ``infera.plan.model``; step times against the formulas of
``docs/cost-model.md``.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import infera
from infera.plan import model as model_mod
from infera.plan.tables import Plan
from helpers import A, H, L, ROOT, compile_error, in_node_all_reduce, program, step_time

BF16, FP8 = 2, 1


def catalog_model(name: str, **override: str) -> model_mod.ModelShape:
    """A catalog model compiled through the DSL (optionally with overridden fields)."""
    from infera.dsl import parse
    from infera.plan.blocks.model import compile_model
    from infera.plan.compiler import Compiler

    body = ", ".join(f"{k} = {v}" for k, v in override.items())
    text = f"use models.{name}\nmodel m extends {name} {{ {body} }}\n"
    c = Compiler(parse(text))
    return compile_model(c.scope, c.scope.blocks["model"]["m"])


def ops_by_name(shape: model_mod.ModelShape) -> dict[str, model_mod.Operator]:
    ops = model_mod.operators(shape)
    assert len({o.name for o in ops}) == len(ops)
    return {o.name: o for o in ops}


# ----------------------------------------------------------------------------------------------------------
# Llama-3.1-8B: hidden 4096, 32 heads, 8 KV heads of 128, MLP 14336, vocab 128256, 32 layers, untied.


def test_llama3_1_8b_hand_counts() -> None:
    m = catalog_model("llama3_1_8b")
    h, q, kv, f, V, layers = 4096, 32 * 128, 8 * 128, 14336, 128256, 32
    per_layer = h * (q + 2 * kv) + q * h + 3 * h * f + 2 * h
    params = 2 * V * h + layers * per_layer + h
    assert params == 8_030_261_248
    assert m.params() == params == m.active_params()
    assert abs(params - 8.03e9) / 8.03e9 < 0.01
    assert m.weight_bytes() == params * BF16
    assert m.kv_bytes_per_token() == layers * 2 * kv * BF16 == 131_072
    ops = ops_by_name(m)
    expect = {  # name: (count, flops/token, weight bytes)
        "qkv_proj": (32, 2 * 4096 * 6144, 4096 * 6144 * BF16),
        "o_proj": (32, 2 * 4096 * 4096, 4096 * 4096 * BF16),
        "gate_up_proj": (32, 2 * 4096 * 2 * 14336, 2 * 4096 * 14336 * BF16),
        "down_proj": (32, 2 * 14336 * 4096, 14336 * 4096 * BF16),
    }
    for name, (count, flops, wbytes) in expect.items():
        assert (ops[name].count, ops[name].flops_per_token, ops[name].weight_bytes) == (count, flops, wbytes), name
    # Attention: QK^T and PV, 2 FLOPs per multiply-add, 32 heads x 128 per pair; K and V of 8 heads read.
    assert ops["attention"].flops_per_attn_pair == 4 * 32 * 128
    assert ops["attention"].bytes_per_kv_token == 2 * 8 * 128 * BF16
    assert ops["lm_head"].flops_per_sampled == 2 * 4096 * 128256
    assert ops["lm_head"].weight_bytes == 4096 * 128256 * BF16
    # Every weight but the embedding table (read per token) is read once per step.
    assert sum(o.count * o.weight_bytes for o in ops.values()) == (params - V * h) * BF16
    assert "router" not in ops and "moe_alltoall" not in ops


# ----------------------------------------------------------------------------------------------------------
# DeepSeek-V3: 61 layers (3 dense of MLP 18432, 58 MoE: 256 routed experts of 2048, 8 per token, 1 shared),
# hidden 7168, 128 heads, MLA with q_lora 1536, kv_lora 512, RoPE 64, nope 128, v 128; vocab 129280; fp8.

DS = dict(h=7168, H=128, ql=1536, kl=512, r=64, nope=128, v=128, L=61, dense=3, E=256, k=8, shared=1,
          mi=2048, di=18432, V=129280)


def deepseek_hand_params(active: bool) -> int:
    d = DS
    h, H = d["h"], d["H"]
    attn = (h * d["ql"] + d["ql"]                          # q_a_proj + q_a_layernorm
            + d["ql"] * H * (d["nope"] + d["r"])           # q_b_proj
            + h * (d["kl"] + d["r"]) + d["kl"]             # kv_a_proj_with_mqa + kv_a_layernorm
            + d["kl"] * H * (d["nope"] + d["v"])           # kv_b_proj
            + H * d["v"] * h)                              # o_proj
    expert = 3 * h * d["mi"]
    routed = d["k"] if active else d["E"]
    moe = (routed + d["shared"]) * expert + h * d["E"]     # experts + shared + router (gate)
    dense = 3 * h * d["di"]
    return (d["L"] * (attn + 2 * h) + d["dense"] * dense + (d["L"] - d["dense"]) * moe
            + 2 * d["V"] * h + h)


def test_deepseek_v3_parameter_counts() -> None:
    m = catalog_model("deepseek_v3")
    total, active = deepseek_hand_params(False), deepseek_hand_params(True)
    assert m.params() == total
    assert m.active_params() == active
    assert abs(total - 671e9) / 671e9 < 0.01  # 671.03 B
    # Published "37B activated" is rounded to two digits; the hand count with embeddings is 37.55 B.
    assert abs(active - 37e9) / 37e9 < 0.02
    assert m.weight_bytes() == total * FP8


def test_deepseek_v3_operator_hand_counts() -> None:
    m = catalog_model("deepseek_v3")
    d = DS
    h, H, kl, r = d["h"], d["H"], d["kl"], d["r"]
    assert m.kv_bytes_per_token() == 61 * (512 + 64) * BF16 == 70_272
    assert m.cache_kv_heads == 1
    ops = ops_by_name(m)
    expect = {  # name: (count, flops/token, weight bytes at fp8)
        "latent_proj": (61, 2 * h * (1536 + 512 + 64), h * (1536 + 512 + 64)),
        "q_up_proj": (61, 2 * 1536 * 128 * 192, 1536 * 128 * 192),
        "kv_up_proj": (61, 2 * 128 * 512 * (128 + 128), 512 * 128 * 256),
        "o_proj": (61, 2 * 128 * 128 * h, 128 * 128 * h),
        "gate_up_proj": (3, 2 * h * 2 * 18432, 2 * h * 18432),
        "down_proj": (3, 2 * 18432 * h, 18432 * h),
        "router": (58, 2 * h * 256, h * 256),
        "expert_gate_up_proj": (58, 8 * 2 * h * 2 * 2048, 256 * 2 * h * 2048),
        "expert_down_proj": (58, 8 * 2 * 2048 * h, 256 * 2048 * h),
        "shared_gate_up_proj": (58, 2 * h * 2 * 2048, 2 * h * 2048),
        "shared_down_proj": (58, 2 * 2048 * h, 2048 * h),
    }
    for name, (count, flops, wbytes) in expect.items():
        assert (ops[name].count, ops[name].flops_per_token, ops[name].weight_bytes) == (count, flops, wbytes), name
    assert (ops["expert_gate_up_proj"].experts, ops["expert_gate_up_proj"].experts_per_token) == (256, 8)
    assert ops["shared_gate_up_proj"].experts == 0
    # Absorbed MLA: per head and pair, QK over 512 + 64 latent values and PV over 512, 2 FLOPs per MAC;
    # the latent cache (576 values) is read once per context token for all heads.
    assert ops["attention"].flops_per_attn_pair == 2 * H * (kl + r) + 2 * H * kl == 278_528
    assert ops["attention"].bytes_per_kv_token == (kl + r) * BF16
    assert (ops["moe_alltoall"].engine, ops["moe_alltoall"].count, ops["moe_alltoall"].experts_per_token) == \
        ("alltoall", 58, 8)
    # Matmul FLOPs per token = 2 x the activated matmul parameters (all but the embedding table and norms).
    norms = 61 * (2 * h + 1536 + 512) + h
    matmul = sum(o.count * o.flops_per_token for o in ops.values() if o.engine == "tensor" and o.name != "attention")
    assert matmul + ops["lm_head"].flops_per_sampled == 2 * (deepseek_hand_params(True) - d["V"] * h - norms)


@pytest.mark.parametrize("name, total, active", [
    ("mixtral_8x7b", 46.7e9, 12.9e9),         # Mistral's announcement: 46.7B total, 12.9B per token
    ("qwen3_235b_a22b", 235e9, 22e9),         # Qwen3 model card: 235B total, 22B activated
])
def test_moe_catalog_parameter_counts(name: str, total: float, active: float) -> None:
    m = catalog_model(name)
    assert abs(m.params() - total) / total < 0.01
    assert abs(m.active_params() - active) / active < 0.01


# ----------------------------------------------------------------------------------------------------------
# Catalog entries compile and simulate

RUN = """
use chips.h100_sxm, chips.h200_sxm, models.{model}
traffic t {{ arrivals = burst, prompt = 300 tokens, output = 20 tokens, requests = 6 }}
system s {{
  network {{ node_size = 8, bandwidth = 50 GB/s, latency = 5 us }}
  pool p: {pool}
}}
run r {{ model = {model}, traffic = t, system = s }}
"""


@pytest.mark.parametrize("model, pool", [
    ("mixtral_8x7b", "2 x h100_sxm, tp = 2"),
    ("mixtral_8x7b", "4 x h100_sxm, tp = 4, ep = 4"),
    ("qwen3_235b_a22b", "8 x h200_sxm, tp = 4, ep = 4"),
    ("deepseek_v3", "8 x h200_sxm, tp = 8, ep = 8"),
    ("deepseek_v3", "16 x h100_sxm, tp = 8, pp = 2, ep = 8"),
    ("llama3_1_70b", "4 x h100_sxm, tp = 2, pp = 2, microbatches = 4"),
])
def test_catalog_entries_compile_and_simulate(model: str, pool: str) -> None:
    res = infera.simulate(infera.compile_text(RUN.format(model=model, pool=pool)))
    assert res.requests.height == 6
    assert (res.requests["status"].cast(str) == "finished").all()
    assert res.summary["energy_j"][0] > 0


def test_moe_decode_reads_few_experts_and_large_batches_read_all() -> None:
    """Mixtral on one H200: one decode token touches 2 of 8 experts, a 512-token prefill all of them."""
    shape = catalog_model("mixtral_8x7b", weights="fp8")
    experts = sum(o.count * o.weight_bytes for o in model_mod.operators(shape) if o.experts)
    other = sum(o.count * o.weight_bytes for o in model_mod.operators(shape) if not o.experts)
    text = RUN.format(model="mixtral_8x7b", pool="1 x h200_sxm").replace(
        "models.mixtral_8x7b", "models.mixtral_8x7b\nmodel mx extends mixtral_8x7b { weights = fp8 }").replace(
        "model = mixtral_8x7b", "model = mx").replace("requests = 6", "requests = 1")
    res = infera.simulate(infera.compile_text(text))
    decode = res.iterations.filter(res.iterations["decode_tokens"] == 1)["duration_s"].min()
    # Memory bound: (non-expert weights + 2/8 of expert weights) / (4.8 TB/s x 0.8), plus the catalog GPU's
    # 3 us per kernel (every compute operator occurrence) and a little more.
    kernels = 3e-6 * sum(o.count for o in model_mod.operators(shape) if o.engine in ("tensor", "vector"))
    lower = (other + experts * 2 / 8) / (4.8e12 * 0.8) + kernels
    assert lower < decode < lower * 1.1 + 0.5e-3
    assert decode < (other + experts) / (4.8e12 * 0.8) + kernels


# ----------------------------------------------------------------------------------------------------------
# Weight and KV precisions

def test_int4_weights_halve_weight_bytes_versus_fp8_and_run_end_to_end() -> None:
    fp8, int4 = catalog_model("llama3_1_8b", weights="fp8"), catalog_model("llama3_1_8b", weights="int4")
    assert int4.weight_bytes() == fp8.weight_bytes() / 2
    w = lambda m: sum(o.count * o.weight_bytes for o in model_mod.operators(m))  # noqa: E731
    assert w(int4) == w(fp8) / 2
    assert int4.kv_bytes_per_token() == fp8.kv_bytes_per_token()  # KV precision is independent
    kv4 = catalog_model("llama3_1_8b", weights="int4", kv="fp8")
    assert kv4.kv_bytes_per_token() == fp8.kv_bytes_per_token() / 2

    base = """
use chips.h100_sxm, models.llama3_1_8b
model q8 extends llama3_1_8b { weights = fp8 }
model q4 extends llama3_1_8b { weights = int4 }
model w4a16 extends llama3_1_8b { weights = int4, compute = bf16 }
traffic t { arrivals = burst, prompt = 2000 tokens, output = 8 tokens, requests = 1 }
system s { pool p: 1 x h100_sxm }
"""
    runs = "".join(f"run {m} {{ model = {m}, traffic = t, system = s }}\n" for m in ("q8", "q4", "w4a16"))
    res = infera.simulate(infera.compile_text(base + runs))
    it = res.iterations
    dec = {m: it.filter((it["run"].cast(str) == m) & (it["decode_tokens"] == 1))["duration_s"].mean()
           for m in ("q8", "q4", "w4a16")}
    pre = {m: it.filter((it["run"].cast(str) == m) & (it["prefill_tokens"] > 0))["duration_s"][0]
           for m in ("q8", "q4", "w4a16")}
    # Decode is memory bound: half the weight bytes, faster. int4 matmuls on H100 (no int4 engine) fall
    # back to its int8 rate (= fp8 rate), so prefill costs the same as fp8; compute = bf16 halves the rate.
    assert dec["q4"] < dec["q8"] * 0.75
    assert pre["q4"] == pytest.approx(pre["q8"], rel=0.05)
    assert pre["w4a16"] > pre["q4"] * 1.5


# ----------------------------------------------------------------------------------------------------------
# Pipeline parallelism: tiny model on the toy chip (tests/helpers.py), whose step is written out by hand in
# helpers.step_time.

PP = """
traffic one { arrivals = burst, prompt = 100 tokens, output = 4 tokens, requests = 1 }
system s { pool p: 2 x toy, pp = 2, step_overhead = 1 ms }
run r { model = tiny, traffic = one, system = s }
"""


def test_pipeline_step_time_matches_formula() -> None:
    res = infera.simulate(infera.compile_text(program(PP)))
    it = res.iterations.sort("step")["duration_s"].to_list()
    P, pp = 100, 2
    send = lambda tokens: tokens * H * A / 100e9 + 1e-6  # noqa: E731 - one boundary over the chip link
    # Prefill: m = 2 micro-batches of 50 tokens (each statistic halves); each stage holds half of every
    # operator, so a stage takes half the single-chip time of its micro-batch.
    stage = step_time(50, 0.5, P * (P + 1) / 4, 50, overhead=0) / pp
    assert it[0] == pytest.approx(1e-3 + (2 + pp - 1) * stage + send(50), rel=1e-12)
    # Decode: one token, m = 1: it crosses both stages, i.e. the whole model, plus one send.
    for k, d in enumerate(it[1:], 1):
        assert d == pytest.approx(1e-3 + pp * step_time(1, 1, P + k, P + k, overhead=0) / pp + send(1), rel=1e-12)
    # Both chips of the instance draw power; each stage keeps only half the layers' KV, so blocks double.
    one = infera.simulate(infera.compile_text(program(PP.replace(", pp = 2", "").replace("2 x toy", "1 x toy"))))
    weights = 2 * 1000 * 256 + L * (256 * 512 + 256 * 256 + 3 * 256 * 512 + 512) + 256
    kv_tok = 2 * L * 128 * 2
    assert res.instances["kv_blocks"][0] == (2e9 * 0.9 - weights * 2) // (kv_tok * 16)
    assert one.instances["kv_blocks"][0] == (1e9 * 0.9 - weights * 2) // (kv_tok * 16)
    busy = res.instances["busy_s"][0]
    assert res.iterations["energy_j"].sum() == pytest.approx(2 * 500 * busy, rel=1e-9)


def test_more_microbatches_shrink_the_bubble_for_big_batches() -> None:
    text = lambda m: program(PP.replace("pp = 2", f"pp = 2, microbatches = {m}").replace(  # noqa: E731
        "prompt = 100 tokens", "prompt = 4000 tokens"))
    t = {m: infera.simulate(infera.compile_text(text(m))).iterations.sort("step")["duration_s"][0] for m in (1, 2, 8)}
    assert t[8] < t[2] < t[1]


# ----------------------------------------------------------------------------------------------------------
# Expert parallelism and cross-node tensor parallelism on the toy chip (100 GB/s link, 1 us latency)

MOE = """
model tmoe extends tiny { experts = 4, experts_per_token = 2, moe_intermediate = 128 }
traffic one { arrivals = burst, prompt = 64 tokens, output = 4 tokens, requests = 1 }
system s { pool p: 4 x toy, tp = 4, ep = EP }
run r { model = tmoe, traffic = one, system = s }
"""


def test_expert_parallel_step_includes_all_to_all_time() -> None:
    times = {}
    for ep in (1, 2, 4):
        res = infera.simulate(infera.compile_text(program(MOE.replace("EP", str(ep)))))
        times[ep] = res.iterations.sort("step")["duration_s"].to_list()
    p, k, W, lat = 4, 2, 100e9, 1e-6
    allreduce = lambda b: in_node_all_reduce(p, b, W, lat)  # noqa: E731
    alltoall = lambda b: (p - 1) * (b / p / W + lat)  # noqa: E731 - pairwise exchange within the node
    for ep in (2, 4):
        for tokens, got, ref in zip([64, 1, 1, 1], times[ep], times[1]):
            # Per MoE layer: ep = 1 all-reduces the activations; ep > 1 dispatches and combines the k copies.
            extra = L * (2 * alltoall(tokens * k * H * A / ep) - allreduce(tokens * H * A))
            assert got - ref == pytest.approx(extra, rel=1e-9, abs=1e-15)


CROSS = """
traffic one { arrivals = burst, prompt = 100 tokens, output = 3 tokens, requests = 1 }
system s {
  network { bandwidth = 10 GB/s, latency = 5 us }
  pool p: 4 x toy, tp = 4, node_size = NODE
}
run r { model = tiny, traffic = one, system = s }
"""


def test_cross_node_tensor_parallel_is_slower_by_the_documented_amount() -> None:
    t = {n: infera.simulate(infera.compile_text(program(CROSS.replace("NODE", str(n))))).iterations.sort("step")
         ["duration_s"].to_list() for n in (4, 2)}
    p = 4
    intra = lambda b: in_node_all_reduce(p, b, 100e9, 1e-6)  # noqa: E731
    # Two nodes of 2 chips: a ring per chip's network port, bandwidth min(100, 2 x 10) GB/s, 5 us per step.
    cross = lambda b: 2 * (p - 1) / p * b / 20e9 + 2 * (p - 1) * 5e-6  # noqa: E731
    for tokens, fast, slow in zip([100, 1, 1], t[4], t[2]):
        m = tokens * H * A
        # Two all-reduces per layer (after attention and after the MLP).
        assert slow - fast == pytest.approx(2 * L * (cross(m) - intra(m)), rel=1e-9)
        assert slow > fast


def test_an_instance_within_one_node_needs_no_alignment() -> None:
    # An NVL72 rack holds an instance of 32: tp need not divide the node when the whole instance fits in it.
    # Its collectives stay on the chip link, so the steps are those of a node of exactly its size; the core
    # accepts the plan as the compiler does, and still rejects a group split across two nodes.
    t = {n: infera.simulate(infera.compile_text(program(CROSS.replace("NODE", str(n))))).iterations.sort("step")
         ["duration_s"].to_list() for n in (4, 6)}
    assert t[6] == t[4]
    plan = infera.compile_text(program(CROSS.replace("NODE", "6")))
    pools = plan["pools"]
    i = pools.schema.get_field_index("node_size")
    split = Plan({**plan.tables, "pools": pools.set_column(i, "node_size", pa.array([3], pa.uint32()))})
    with pytest.raises(infera.PlanError, match="node_size=3 and tp=4 must divide one another"):
        infera.check(split)


def test_pools_carry_parallelism_and_network_columns() -> None:
    plan = infera.compile_text(program(CROSS.replace("NODE", "2")))
    row = plan["pools"].to_pylist()[0]
    assert (row["tp"], row["pp"], row["ep"], row["microbatches"], row["node_size"]) == (4, 1, 1, 1, 2)
    assert (row["network_bw"], row["network_latency_s"]) == (10e9, 5e-6)
    plan2 = infera.compile_text(program(PP))
    assert [(r["pp"], r["microbatches"], r["instances"]) for r in plan2["pools"].to_pylist()] == [(2, 2, 1)]


def test_plans_without_parallelism_columns_still_load() -> None:
    plan = infera.compile_text(program(PP.replace(", pp = 2", "").replace("2 x toy", "1 x toy")))
    keep = [n for n in plan["pools"].column_names
            if n not in ("pp", "ep", "microbatches", "node_size", "network_bw", "network_latency_s")]
    ops_keep = [n for n in plan["operators"].column_names if n not in ("experts", "experts_per_token")]
    old = Plan({**plan.tables, "pools": plan["pools"].select(keep), "operators": plan["operators"].select(ops_keep)})
    a, b = infera.simulate(plan), infera.simulate(old)
    assert a.iterations["duration_s"].to_list() == b.iterations["duration_s"].to_list()


def test_core_rejects_inconsistent_parallelism_columns() -> None:
    plan = infera.compile_text(program(PP))
    pools = plan["pools"]

    def with_col(name: str, value: object, typ: pa.DataType) -> Plan:
        i = pools.schema.get_field_index(name)
        return Plan({**plan.tables, "pools": pools.set_column(i, name, pa.array([value], typ))})

    with pytest.raises(infera.PlanError, match="tp=1 x pp=3"):
        infera.check(with_col("pp", 3, pa.uint32()))
    with pytest.raises(infera.PlanError, match="ep=2 must divide tp=1"):
        infera.check(with_col("ep", 2, pa.uint32()))
    with pytest.raises(infera.PlanError, match="network_bw"):
        infera.check(with_col("node_size", 1, pa.uint32()))


# ----------------------------------------------------------------------------------------------------------
# Compile errors

@pytest.mark.parametrize("pool, message", [
    ("pool p: 4 x toy, tp = 2, ep = 2", "needs a mixture-of-experts model"),
    ("pool p: 4 x toy, tp = 4, ep = 3", "ep = 3 must divide tp = 4"),
    ("pool p: 3 x toy, tp = 1, pp = 2", "3 chips do not divide into instances of tp = 1 x pp = 2"),
    ("pool p: 3 x toy, pp = 3", "pp = 3 exceeds the 2 layers"),
    ("pool p: 1 x toy, microbatches = 4", "microbatches splits a step across pipeline stages"),
    ("pool p: 4 x toy, tp = 4, node_size = 3", "tp = 4 and node_size = 3 must divide one another"),
    ("pool p: 4 x toy, tp = 2, pp = 2, node_size = 2", "spans 2 nodes of node_size = 2"),
    # Redundant expert slots copy experts across expert-parallel ranks (tests/compile/test_redundant_experts.py).
    ("pool p: 1 x toy, redundant_experts = 2", "needs a mixture-of-experts model and ep > 1"),
    ("pool p: 1 x toy, redundant_experts = -1", "redundant_experts"),
])
def test_parallelism_errors(pool: str, message: str) -> None:
    text = program(f"""
traffic t {{ arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 1 }}
system s {{ {pool} }}
run r {{ model = tiny, traffic = t, system = s }}
""")
    assert message in str(compile_error(text))


@pytest.mark.parametrize("fields, message", [
    ("experts = 8", "missing required field 'experts_per_token'"),
    ("experts = 4, experts_per_token = 5", "experts_per_token (5) exceeds experts (4)"),
    ("dense_layers = 1", "'dense_layers' needs experts = N"),
    ("experts = 4, experts_per_token = 1, dense_layers = 2", "must leave at least one MoE layer"),
    ("kv_lora_rank = 64", "'kv_lora_rank' needs attention = mla"),
    ("attention = mla, kv_lora_rank = 64", "missing required field 'qk_rope_head_dim'"),
    ("compute = fp9", "field 'compute' must be one of"),
])
def test_model_family_errors(fields: str, message: str) -> None:
    text = program(f"""
model bad extends tiny {{ {fields} }}
traffic t {{ arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 1 }}
system s {{ pool p: 1 x toy }}
run r {{ model = tiny, traffic = t, system = s }}
""")
    assert message in str(compile_error(text))


def test_network_block_errors() -> None:
    base = program("""
traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 1 }
system s { BLOCK
  pool p: 1 x toy }
run r { model = tiny, traffic = t, system = s }
""")
    assert "unknown field 'speed'" in str(compile_error(base.replace("BLOCK", "network { speed = 1 GB/s }")))
    assert "'memory' block is not allowed in a system" in str(compile_error(base.replace("BLOCK", "memory { }")))
    two = "network { bandwidth = 1 GB/s }\n network { latency = 1 us }"
    assert "network given twice" in str(compile_error(base.replace("BLOCK", two)))


def test_moe_parallel_example_runs() -> None:
    example = ROOT / "examples" / "moe_parallel.infera"
    res = infera.simulate(infera.compile_file(example))
    s = {row["system"]: row for row in res.summary.iter_rows(named=True)}
    assert set(s) == {"h200_ep8", "h100_pp2", "h100_tp16"}
    assert all(row["slo_attainment"] > 0.9 for row in s.values())
    # One H200 node (4.8 TB/s per chip) decodes faster than two H100 nodes that must cross the network.
    assert s["h200_ep8"]["tpot_p50_s"] < s["h100_pp2"]["tpot_p50_s"]
