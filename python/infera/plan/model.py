"""Transformer shapes → per-operator cost coefficients (the ``operators`` table).

Each operator's FLOPs and bytes in one engine step are linear in five step statistics (see
``docs/cost-model.md``)::

    flops = count * (flops_per_token * T + flops_per_sampled * S + flops_per_attn_pair * A)
    bytes = count * (weight_bytes + bytes_per_token * T + bytes_per_sampled * S + bytes_per_kv_token * K)

with T the tokens in the step, S the tokens that reach the LM head, A the query–key pairs attention scores
and K the context tokens whose keys and values are read. Coefficients here are for the whole model (one
chip); the core divides sharded operators by the tensor-parallel degree.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bytes per element of each supported precision.
DTYPE_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
#: Activations are kept in bf16 whatever the weight precision.
ACT_BYTES = 2.0
#: FLOPs per element of an RMSNorm with its residual add (square, sum, scale, weight, add).
NORM_FLOPS = 5.0
#: FLOPs per element of SiLU(gate) * up.
SWIGLU_FLOPS = 5.0


@dataclass(frozen=True)
class ModelShape:
    """The shape of a dense decoder-only transformer with grouped-query attention."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = False
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"

    @property
    def weight_elem_bytes(self) -> float:
        return DTYPE_BYTES[self.weight_dtype]

    @property
    def kv_elem_bytes(self) -> float:
        return DTYPE_BYTES[self.kv_dtype]

    def layer_params(self) -> int:
        h, d = self.hidden, self.head_dim
        attn = h * (self.heads + 2 * self.kv_heads) * d + self.heads * d * h
        mlp = 3 * h * self.intermediate
        norms = 2 * h
        return attn + mlp + norms

    def params(self) -> int:
        """Parameter count (embeddings, layers, final norm, LM head unless tied)."""
        embed = self.vocab * self.hidden
        head = 0 if self.tied_embeddings else self.vocab * self.hidden
        return embed + self.layers * self.layer_params() + self.hidden + head

    def weight_bytes(self) -> float:
        return self.params() * self.weight_elem_bytes

    def kv_bytes_per_token(self) -> float:
        """Bytes of K and V cached per token, over all layers."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * self.kv_elem_bytes


@dataclass(frozen=True)
class Operator:
    name: str
    engine: str  # tensor | vector | collective
    dtype: str
    count: float
    flops_per_token: float = 0.0
    flops_per_sampled: float = 0.0
    flops_per_attn_pair: float = 0.0
    weight_bytes: float = 0.0
    bytes_per_token: float = 0.0
    bytes_per_sampled: float = 0.0
    bytes_per_kv_token: float = 0.0
    tp_shard: bool = True


def operators(m: ModelShape) -> list[Operator]:
    """The operators of one step of model ``m``, in execution order."""
    h, d, L = m.hidden, m.head_dim, m.layers
    q, kv, inter = m.heads * d, m.kv_heads * d, m.intermediate
    wb, kvb, a = m.weight_elem_bytes, m.kv_elem_bytes, ACT_BYTES
    # Matmuls run at the weights' precision (an fp8 model uses fp8 tensor cores; int4 weights are
    # dequantised and run wherever the chip's fallback puts them).
    mm = m.weight_dtype
    ops = [
        # Embedding lookup: one row of the table read per token.
        Operator("embedding", "vector", "bf16", 1, bytes_per_token=h * wb + h * a, tp_shard=False),
        Operator("attn_norm", "vector", "bf16", L, flops_per_token=NORM_FLOPS * h,
                 weight_bytes=h * wb, bytes_per_token=3 * h * a, tp_shard=False),
        Operator("qkv_proj", "tensor", mm, L, flops_per_token=2 * h * (q + 2 * kv),
                 weight_bytes=h * (q + 2 * kv) * wb, bytes_per_token=(h + q + 2 * kv) * a),
        # Attention (flash-style): QK^T and PV are 2 FLOPs per multiply-add each, per head and pair; reads
        # K and V of every context token once; writes this step's K and V to the cache.
        Operator("attention", "tensor", "bf16", L, flops_per_attn_pair=4 * q,
                 bytes_per_token=2 * q * a + 2 * kv * kvb, bytes_per_kv_token=2 * kv * kvb),
        Operator("o_proj", "tensor", mm, L, flops_per_token=2 * q * h,
                 weight_bytes=q * h * wb, bytes_per_token=(q + h) * a),
        Operator("attn_allreduce", "collective", "bf16", L, bytes_per_token=h * a, tp_shard=False),
        Operator("mlp_norm", "vector", "bf16", L, flops_per_token=NORM_FLOPS * h,
                 weight_bytes=h * wb, bytes_per_token=3 * h * a, tp_shard=False),
        Operator("gate_up_proj", "tensor", mm, L, flops_per_token=2 * h * 2 * inter,
                 weight_bytes=2 * h * inter * wb, bytes_per_token=(h + 2 * inter) * a),
        Operator("swiglu", "vector", "bf16", L, flops_per_token=SWIGLU_FLOPS * inter,
                 bytes_per_token=3 * inter * a),
        Operator("down_proj", "tensor", mm, L, flops_per_token=2 * inter * h,
                 weight_bytes=inter * h * wb, bytes_per_token=(inter + h) * a),
        Operator("mlp_allreduce", "collective", "bf16", L, bytes_per_token=h * a, tp_shard=False),
        Operator("final_norm", "vector", "bf16", 1, flops_per_token=NORM_FLOPS * h,
                 weight_bytes=h * wb, bytes_per_token=3 * h * a, tp_shard=False),
        # LM head: only sampled positions (the last of each finished prefill, every decode) get logits;
        # vocabulary-parallel under tensor parallelism.
        Operator("lm_head", "tensor", mm, 1, flops_per_sampled=2 * h * m.vocab,
                 weight_bytes=h * m.vocab * wb, bytes_per_sampled=(h + m.vocab) * a),
    ]
    return ops
