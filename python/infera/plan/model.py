"""Transformer shapes → per-operator cost coefficients (the ``operators`` table).

Each operator's FLOPs and bytes in one engine step are linear in five step statistics (see
``docs/cost-model.md``)::

    flops = count * (flops_per_token * T + flops_per_sampled * S + flops_per_attn_pair * A)
    bytes = count * (weight_bytes + bytes_per_token * T + bytes_per_sampled * S + bytes_per_kv_token * K
                     + bytes_per_seq * Q)

with T the tokens in the step, S the tokens that reach the LM head, A the query–key pairs attention scores,
K the context tokens whose keys and values are read and Q the sequences the step schedules. A sliding-window
layer's attention (``window``) sees A and K clipped to the window. Coefficients here are for the whole model
(one chip); the core divides sharded operators by the tensor-parallel degree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

#: Bytes per element of each supported precision. The 4-bit float block formats store their block scales
#: beside the values, and a weight read costs them too: nvfp4 keeps one FP8 (E4M3) scale per 16 values
#: (0.5 + 1/16 byte; its one FP32 scale per tensor is negligible), mxfp4 one E8M0 scale per 32 values
#: (0.5 + 1/32 byte). int4 is counted without its group scales, as before (they vary by scheme).
DTYPE_BYTES: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
                                 "nvfp4": 0.5 + 1 / 16, "mxfp4": 0.5 + 1 / 32, "int4": 0.5}
#: Activations are kept in bf16 whatever the weight precision.
ACT_BYTES = 2.0
#: FLOPs per element of an RMSNorm with its residual add (square, sum, scale, weight, add).
NORM_FLOPS = 5.0
#: FLOPs per element of SiLU(gate) * up.
SWIGLU_FLOPS = 5.0
#: FLOPs an attention sink adds per query and head: its logit's exponential joins the softmax denominator.
SINK_FLOPS = 2.0
#: FLOPs per key-value element of a gated delta-net state per token: decay (1), the key's read-out S^T k (2),
#: the rank-1 delta update (2) and the query's read-out S^T q (2); see :func:`_linear_attention`.
DELTA_RULE_FLOPS = 7.0


@dataclass(frozen=True)
class ModelShape:
    """The shape of a decoder-only transformer: dense or mixture-of-experts MLPs, GQA or MLA attention.

    Dense GQA is the default. ``experts > 0`` makes the MLP of every layer after the first ``dense_layers`` a
    mixture of experts: ``experts_per_token`` routed experts of width ``moe_intermediate`` per token plus
    ``shared_experts`` always-on experts of the same width. ``attention = "mla"`` is DeepSeek's multi-head
    latent attention: the cache holds ``kv_lora_rank + qk_rope_head_dim`` values per token per layer.

    Of the ``layers``, ``linear_layers`` are gated delta-net linear attention (a fixed-size state per
    request instead of a KV cache) and ``sliding_layers`` of the rest attend only the last ``sliding_window``
    tokens; the others are full attention. ``attention_sinks`` adds a learned logit per head to the softmax.
    """

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
    # Mixture of experts (0 experts: dense).
    experts: int = 0
    experts_per_token: int = 0
    shared_experts: int = 0
    moe_intermediate: int = 0
    dense_layers: int = 0
    # Attention: "gqa" (also MHA/MQA) or "mla".
    attention: str = "gqa"
    kv_lora_rank: int = 0
    q_lora_rank: int = 0  # 0: queries are projected straight from the hidden state
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    #: Precision matmuls compute at; empty: the weights' precision (e.g. "bf16" for W4A16 kernels).
    compute_dtype: str = ""
    # Sliding-window attention: ``sliding_layers`` layers attend the last ``sliding_window`` tokens.
    sliding_window: int = 0
    sliding_layers: int = 0
    attention_sinks: bool = False
    # Gated delta-net linear attention layers (Qwen3-Next / Qwen3.5).
    linear_layers: int = 0
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0

    @property
    def weight_elem_bytes(self) -> float:
        return DTYPE_BYTES[self.weight_dtype]

    @property
    def kv_elem_bytes(self) -> float:
        return DTYPE_BYTES[self.kv_dtype]

    @property
    def matmul_dtype(self) -> str:
        return self.compute_dtype or self.weight_dtype

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def is_mla(self) -> bool:
        return self.attention == "mla"

    @property
    def moe_layers(self) -> int:
        """Layers whose MLP is a mixture of experts."""
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def cache_kv_heads(self) -> int:
        """KV heads the cache is split by under tensor parallelism: MLA's latent is one head shared by all."""
        return 1 if self.is_mla else self.kv_heads

    @property
    def attention_layers(self) -> int:
        """Layers with softmax attention (full or sliding-window), as opposed to linear attention."""
        return self.layers - self.linear_layers

    @property
    def full_layers(self) -> int:
        """Layers whose KV cache holds the whole context."""
        return self.attention_layers - self.sliding_layers

    @property
    def kv_group_layers(self) -> int:
        """Layers per KV block group: the largest size that splits both the full and the windowed layers."""
        return math.gcd(self.full_layers, self.sliding_layers)

    @property
    def kv_full_groups(self) -> int:
        return self.full_layers // self.kv_group_layers

    @property
    def kv_window_groups(self) -> int:
        return self.sliding_layers // self.kv_group_layers

    @property
    def linear_conv_channels(self) -> int:
        """Channels of a linear layer's short convolution: its queries, keys and values."""
        keys = self.linear_key_heads * self.linear_key_head_dim
        return 2 * keys + self.linear_value_heads * self.linear_value_head_dim

    def linear_state_values(self) -> int:
        """Values of one linear layer's recurrent state per request: a key_dim x value_dim matrix per value
        head, plus the convolution's last ``conv_kernel - 1`` inputs of every channel."""
        state = self.linear_value_heads * self.linear_key_head_dim * self.linear_value_head_dim
        return state + (self.linear_conv_kernel - 1) * self.linear_conv_channels

    def state_bytes(self) -> float:
        """Bytes of recurrent state one request holds over all linear layers, kept at the activation
        precision (as vLLM's default ``mamba_ssm_cache_dtype``), whatever the context length."""
        return float(self.linear_layers * self.linear_state_values()) * ACT_BYTES

    def linear_params(self) -> int:
        """Parameters of one gated delta-net layer: the q/k/v/z and beta/alpha input projections, the
        depthwise convolution, the per-head decay parameters, the gated norm and the output projection."""
        h, Hv, dv = self.hidden, self.linear_value_heads, self.linear_value_head_dim
        qkvz = 2 * self.linear_key_heads * self.linear_key_head_dim + 2 * Hv * dv
        return (h * (qkvz + 2 * Hv) + self.linear_conv_channels * self.linear_conv_kernel + 2 * Hv + dv
                + Hv * dv * h)

    def attention_params(self) -> int:
        """Parameters of one layer's attention block (projections and, for MLA, its two latent norms)."""
        h, H = self.hidden, self.heads
        if not self.is_mla:
            d = self.head_dim
            sinks = H if self.attention_sinks else 0
            return h * (H + 2 * self.kv_heads) * d + H * d * h + sinks
        qk = self.qk_nope_head_dim + self.qk_rope_head_dim
        ql, kl, r = self.q_lora_rank, self.kv_lora_rank, self.qk_rope_head_dim
        q = h * ql + ql + ql * H * qk if ql else h * H * qk
        kv = h * (kl + r) + kl + kl * H * (self.qk_nope_head_dim + self.v_head_dim)
        return q + kv + H * self.v_head_dim * h

    def expert_params(self) -> int:
        """Parameters of one expert (gate, up and down projections)."""
        return 3 * self.hidden * self.moe_intermediate

    def mlp_params(self, moe: bool, experts: int | None = None) -> int:
        """One layer's MLP: dense, or ``experts`` routed experts (all of them by default) + shared + router."""
        if not moe:
            return 3 * self.hidden * self.intermediate
        n = self.experts if experts is None else experts
        return (n + self.shared_experts) * self.expert_params() + self.hidden * self.experts

    def layer_params(self) -> int:
        """Parameters of one dense layer (attention, MLP, two norms)."""
        return self.attention_params() + self.mlp_params(False) + 2 * self.hidden

    def _params(self, routed: int | None) -> int:
        embed = self.vocab * self.hidden
        head = 0 if self.tied_embeddings else self.vocab * self.hidden
        dense = self.layers - self.moe_layers
        mixers = self.attention_layers * self.attention_params() + self.linear_layers * self.linear_params()
        layers = (mixers + self.layers * 2 * self.hidden + dense * self.mlp_params(False)
                  + self.moe_layers * self.mlp_params(True, routed))
        return embed + layers + self.hidden + head

    def params(self) -> int:
        """Parameter count (embeddings, layers, final norm, LM head unless tied)."""
        return self._params(None)

    def active_params(self) -> int:
        """Parameters one token uses: as :meth:`params` with only ``experts_per_token`` routed experts."""
        return self._params(self.experts_per_token if self.is_moe else None)

    def weight_bytes(self) -> float:
        return self.params() * self.weight_elem_bytes

    def kv_values_per_token_layer(self) -> int:
        """Values cached per token and layer: K and V of each KV head, or MLA's latent plus its RoPE key."""
        if self.is_mla:
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.kv_heads * self.head_dim

    def kv_bytes_per_token(self) -> float:
        """Bytes of K and V cached per token, over all the layers that cache them (before any window)."""
        return float(self.attention_layers * self.kv_values_per_token_layer()) * self.kv_elem_bytes

    def kv_group_bytes_per_token(self) -> float:
        """Bytes of K and V per token in one KV block group (all of :meth:`kv_bytes_per_token` unless some
        layers are windowed): what one KV block holds per token."""
        return float(self.kv_group_layers * self.kv_values_per_token_layer()) * self.kv_elem_bytes

    def cache_bytes(self, tokens: int) -> float:
        """Bytes one request with a context of ``tokens`` holds: full layers' KV of all of it, windowed layers'
        KV of the last ``sliding_window`` tokens, and the linear layers' state."""
        per_layer = self.kv_values_per_token_layer() * self.kv_elem_bytes
        windowed = min(tokens, self.sliding_window) if self.sliding_layers else 0
        return (self.full_layers * tokens + self.sliding_layers * windowed) * per_layer + self.state_bytes()


@dataclass(frozen=True)
class Operator:
    name: str
    engine: str  # tensor | vector | collective | alltoall | p2p
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
    #: Routed experts whose weights ``weight_bytes`` holds (0: not an expert operator). The core reads the
    #: expected share of them a step touches (see docs/cost-model.md, "Mixture of experts").
    experts: float = 0.0
    #: Experts each token is routed to (expert operators and the ``alltoall`` MoE communication).
    experts_per_token: float = 0.0
    #: A sliding-window layer's attention: the core prices it on the window-clipped pairs and KV reads.
    window: bool = False
    #: Bytes read and written once per sequence in the step (a linear layer's recurrent state).
    bytes_per_seq: float = 0.0
    #: Part of the attention block: under a pool's ``dp_attention = d`` it runs on each attention rank's 1/d
    #: of the batch, sharded over the rank's tp/d chips (docs/cost-model.md, "Attention data parallelism").
    attention_dp: bool = False


def _norm(name: str, count: float, width: int, wb: float, a: float) -> Operator:
    return Operator(name, "vector", "bf16", count, flops_per_token=NORM_FLOPS * width, weight_bytes=width * wb,
                    bytes_per_token=3 * width * a, tp_shard=False)


def _mlp(prefix: str, count: float, h: int, inter: int, mm: str, wb: float, a: float, *, experts: int = 0,
         k: int = 1) -> list[Operator]:
    """Gated MLP (gate/up, SwiGLU, down). As experts: weights of ``experts`` of them, ``k`` used per token."""
    n_w = experts if experts else 1
    return [
        Operator(f"{prefix}gate_up_proj", "tensor", mm, count, flops_per_token=k * 2 * h * 2 * inter,
                 weight_bytes=n_w * 2 * h * inter * wb, bytes_per_token=k * (h + 2 * inter) * a,
                 experts=experts, experts_per_token=k if experts else 0),
        Operator(f"{prefix}swiglu", "vector", "bf16", count, flops_per_token=k * SWIGLU_FLOPS * inter,
                 bytes_per_token=k * 3 * inter * a),
        Operator(f"{prefix}down_proj", "tensor", mm, count, flops_per_token=k * 2 * inter * h,
                 weight_bytes=n_w * inter * h * wb, bytes_per_token=k * (inter + h) * a,
                 experts=experts, experts_per_token=k if experts else 0),
    ]


def _gqa(m: ModelShape, mm: str) -> list[Operator]:
    h, d, L = m.hidden, m.head_dim, m.attention_layers
    q, kv = m.heads * d, m.kv_heads * d
    wb, kvb, a = m.weight_elem_bytes, m.kv_elem_bytes, ACT_BYTES
    # Attention (flash-style): QK^T and PV are 2 FLOPs per multiply-add each, per head and pair; reads
    # K and V of every context token once; writes this step's K and V to the cache.
    attention = Operator("attention", "tensor", "bf16", L, flops_per_attn_pair=4 * q,
                         bytes_per_token=2 * q * a + 2 * kv * kvb, bytes_per_kv_token=2 * kv * kvb)
    if m.attention_sinks:
        # A sink is one more logit per query and head in the softmax (gpt-oss): a weight per head.
        attention = replace(attention, flops_per_token=SINK_FLOPS * m.heads, weight_bytes=m.heads * wb)
    return [
        Operator("qkv_proj", "tensor", mm, L, flops_per_token=2 * h * (q + 2 * kv),
                 weight_bytes=h * (q + 2 * kv) * wb, bytes_per_token=(h + q + 2 * kv) * a),
        *_split_window(m, attention),
        Operator("o_proj", "tensor", mm, L, flops_per_token=2 * q * h,
                 weight_bytes=q * h * wb, bytes_per_token=(q + h) * a),
    ]


def _split_window(m: ModelShape, attention: Operator) -> list[Operator]:
    """The attention operator of the full-attention layers and, if any, of the sliding-window ones (the same
    per-layer coefficients on the window-clipped pairs and KV reads)."""
    if not m.sliding_layers:
        return [attention]
    ops = [replace(attention, count=m.full_layers)] if m.full_layers else []
    return [*ops, replace(attention, name="attention_window", count=m.sliding_layers, window=True)]


def _linear_attention(m: ModelShape, mm: str) -> list[Operator]:
    """Gated delta-net layers (Yang et al., "Gated Delta Networks", arXiv:2412.06464), as Hugging Face
    transformers' ``Qwen3NextGatedDeltaNet`` (models/qwen3_next/modeling_qwen3_next.py) and vLLM's
    ``qwen3_next.py`` build them: projections of the hidden state to queries and keys (``linear_key_heads``
    heads), values and output gates (``linear_value_heads`` heads) and a per-value-head beta and decay; a
    causal depthwise convolution of width ``linear_conv_kernel`` over the queries, keys and values; the
    delta rule on a key_dim x value_dim state per value head (decay, read-out of the key, rank-1 update,
    read-out of the query); a gated RMSNorm; the output projection. Each token costs the same whatever the
    context, and each scheduled sequence reads and writes its state (and convolution window) once a step.
    """
    h, n = m.hidden, m.linear_layers
    Hk, Hv, dk, dv = m.linear_key_heads, m.linear_value_heads, m.linear_key_head_dim, m.linear_value_head_dim
    wb, a = m.weight_elem_bytes, ACT_BYTES
    proj = 2 * Hk * dk + 2 * Hv * dv + 2 * Hv  # q, k, v, z, beta, alpha
    C, K = m.linear_conv_channels, m.linear_conv_kernel
    state = Hv * dk * dv
    return [
        Operator("linear_in_proj", "tensor", mm, n, flops_per_token=2 * h * proj, weight_bytes=h * proj * wb,
                 bytes_per_token=(h + proj) * a),
        Operator("linear_conv", "vector", "bf16", n, flops_per_token=2 * K * C, weight_bytes=C * K * wb,
                 bytes_per_token=2 * C * a, bytes_per_seq=2 * (K - 1) * C * a),
        Operator("linear_attention", "tensor", "bf16", n, flops_per_token=DELTA_RULE_FLOPS * state,
                 weight_bytes=2 * Hv * wb, bytes_per_token=(C + 2 * Hv + Hv * dv) * a,
                 bytes_per_seq=2 * state * a),
        Operator("linear_norm", "vector", "bf16", n, flops_per_token=(NORM_FLOPS + SWIGLU_FLOPS) * Hv * dv,
                 weight_bytes=dv * wb, bytes_per_token=3 * Hv * dv * a),
        Operator("linear_out_proj", "tensor", mm, n, flops_per_token=2 * Hv * dv * h,
                 weight_bytes=Hv * dv * h * wb, bytes_per_token=(Hv * dv + h) * a),
    ]


def _mla(m: ModelShape, mm: str) -> list[Operator]:
    """Multi-head latent attention in its absorbed form (FlashMLA, SGLang/vLLM decode), for every token.

    The up-projection of the latent to per-head keys is folded into the queries (q_nope · W_UK gives a
    ``kv_lora_rank``-wide query per head) and the one to values is applied after attention (W_UV), so attention
    is multi-query attention over one shared head of ``kv_lora_rank + qk_rope_head_dim`` key values and
    ``kv_lora_rank`` value values, read once per context token whatever the head count.
    """
    h, L, H = m.hidden, m.layers, m.heads
    ql, kl, r = m.q_lora_rank, m.kv_lora_rank, m.qk_rope_head_dim
    nope, v = m.qk_nope_head_dim, m.v_head_dim
    qk = nope + r
    wb, kvb, a = m.weight_elem_bytes, m.kv_elem_bytes, ACT_BYTES
    down = ql + kl + r  # the replicated down-projections: query latent (if any) and KV latent + RoPE key
    ops = [
        Operator("latent_proj", "tensor", mm, L, flops_per_token=2 * h * down, weight_bytes=h * down * wb,
                 bytes_per_token=(h + down) * a, tp_shard=False),
        _norm("latent_norm", L, ql + kl, wb, a),
    ]
    if ql:
        ops.append(Operator("q_up_proj", "tensor", mm, L, flops_per_token=2 * ql * H * qk,
                            weight_bytes=ql * H * qk * wb, bytes_per_token=(ql + H * qk) * a))
    else:
        ops.append(Operator("q_proj", "tensor", mm, L, flops_per_token=2 * h * H * qk,
                            weight_bytes=h * H * qk * wb, bytes_per_token=(h + H * qk) * a))
    ops += [
        # kv_b_proj absorbed: q_nope (nope) -> latent query (kl) per head, and latent output (kl) -> v per head.
        Operator("kv_up_proj", "tensor", mm, L, flops_per_token=2 * H * kl * (nope + v),
                 weight_bytes=kl * H * (nope + v) * wb, bytes_per_token=H * (nope + 2 * kl + v) * a),
        # Per head and pair: QK over kl + r values, PV over kl values, 2 FLOPs per multiply-add.
        Operator("attention", "tensor", "bf16", L, flops_per_attn_pair=2 * H * (2 * kl + r),
                 bytes_per_token=H * (2 * kl + r) * a + (kl + r) * kvb, bytes_per_kv_token=(kl + r) * kvb),
        Operator("o_proj", "tensor", mm, L, flops_per_token=2 * H * v * h, weight_bytes=H * v * h * wb,
                 bytes_per_token=(H * v + h) * a),
    ]
    return ops


def operators(m: ModelShape) -> list[Operator]:
    """The operators of one step of model ``m``, in execution order."""
    h, L = m.hidden, m.layers
    wb, a = m.weight_elem_bytes, ACT_BYTES
    # Matmuls run at the compute precision (by default the weights': an fp8 model uses fp8 tensor cores; int4
    # weights run on an int4 engine if the chip has one, else at the core's fallback, see docs/plan.md).
    mm = m.matmul_dtype
    # The attention block, from the embedding of a request's tokens to the norm before the MLP, runs where
    # the request lives: on its attention rank under attention data parallelism (its KV cache is there).
    attention = [
        # Embedding lookup: one row of the table read per token.
        Operator("embedding", "vector", "bf16", 1, bytes_per_token=h * wb + h * a, tp_shard=False),
        _norm("attn_norm", L, h, wb, a),
        *(_mla(m, mm) if m.is_mla else _gqa(m, mm)),
        *(_linear_attention(m, mm) if m.linear_layers else []),
        Operator("attn_allreduce", "collective", "bf16", L, bytes_per_token=h * a, tp_shard=False),
        _norm("mlp_norm", L, h, wb, a),
    ]
    ops = [replace(op, attention_dp=True) for op in attention]
    dense = L - m.moe_layers
    if dense:
        ops += _mlp("", dense, h, m.intermediate, mm, wb, a)
        ops.append(Operator("mlp_allreduce", "collective", "bf16", dense, bytes_per_token=h * a, tp_shard=False))
    if m.is_moe:
        n, k, E = m.moe_layers, m.experts_per_token, m.experts
        # Router: a replicated h x E matmul picking each token's experts.
        ops.append(Operator("router", "tensor", mm, n, flops_per_token=2 * h * E, weight_bytes=h * E * wb,
                            bytes_per_token=(h + E) * a, tp_shard=False))
        ops += _mlp("expert_", n, h, m.moe_intermediate, mm, wb, a, experts=E, k=k)
        if m.shared_experts:
            ops += _mlp("shared_", n, h, m.shared_experts * m.moe_intermediate, mm, wb, a)
        # The MoE block's communication: an all-reduce over the TP group when ep = 1, dispatch and combine
        # all-to-alls of each token's k copies when ep > 1 (priced by the core from the pool's ep).
        ops.append(Operator("moe_alltoall", "alltoall", "bf16", n, bytes_per_token=h * a, tp_shard=False,
                            experts_per_token=k))
    ops += [
        _norm("final_norm", 1, h, wb, a),
        # LM head: only sampled positions (the last of each finished prefill, every decode) get logits;
        # vocabulary-parallel under tensor parallelism.
        Operator("lm_head", "tensor", mm, 1, flops_per_sampled=2 * h * m.vocab,
                 weight_bytes=h * m.vocab * wb, bytes_per_sampled=(h + m.vocab) * a),
        # Activations handed from one pipeline stage to the next (priced only when pp > 1).
        Operator("pipeline_send", "p2p", "bf16", 1, bytes_per_token=h * a, tp_shard=False),
    ]
    return ops


def replicated_weight_bytes(m: ModelShape) -> float:
    """Weights every chip of a tensor-parallel group holds whole (norms, router, MLA's latent projections)."""
    return sum(op.count * op.weight_bytes for op in operators(m) if not op.tp_shard)


def redundant_expert_bytes(m: ModelShape, slots: int) -> float:
    """Weights of ``slots`` extra copies of routed experts (redundant expert slots), one expert's share each."""
    if slots <= 0 or m.experts <= 0:
        return 0.0
    routed = sum(op.count * op.weight_bytes for op in operators(m) if op.experts > 0)
    return slots * routed / m.experts


def attention_sharded_weight_bytes(m: ModelShape) -> float:
    """Weights of the attention block sharded over the tensor-parallel group: under attention data
    parallelism each attention rank holds them whole, sharded over its own chips."""
    return sum(op.count * op.weight_bytes for op in operators(m) if op.tp_shard and op.attention_dp)
