"""``model`` blocks → :class:`~infera.plan.model.ModelShape`: dense, mixture-of-experts and latent-attention
shapes, with sliding-window, sink and linear-attention layers, every field's type and unit checked."""

from __future__ import annotations

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan.fields import Fields
from infera.plan.scope import Scope, merged_items, only_items
from infera.plan.specs import DTYPES


def compile_model(scope: Scope, block: ast.ModelBlock) -> model_mod.ModelShape:
    items = merged_items(scope, block)
    where = f"model '{block.name}'"
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    layers = f.integer("layers", required=True)
    hidden = f.integer("hidden", required=True)
    heads_a = f.values.get("heads")
    heads = f.integer("heads", required=True)
    kv_heads = f.integer("kv_heads", heads)
    head_dim = f.integer("head_dim", hidden // heads if hidden % heads == 0 else None)
    if head_dim is None:
        raise CompileError(f"{where}: hidden ({hidden}) is not a multiple of heads ({heads}); set head_dim", block.loc)
    intermediate = f.integer("intermediate", required=True)
    vocab = f.integer("vocab", required=True)
    tied = f.boolean("tied_embeddings", False)
    weights = f.choice("weights", DTYPES, "bf16")
    kv = f.choice("kv", DTYPES, "bf16")
    compute = f.choice("compute", DTYPES, "")
    attention = f.choice("attention", ("gqa", "mha", "mqa", "mla"), "gqa")
    moe, mla = _model_moe(f, where, block, layers, intermediate), _model_mla(f, where, block, attention)
    linear = _model_linear(f, where, block, layers, attention)
    window = _model_window(f, where, block, layers - linear.get("linear_layers", 0), attention)
    f.take("family")
    f.take("source")
    f.done()
    if heads % kv_heads != 0:
        raise CompileError(f"{where}: heads ({heads}) must be a multiple of kv_heads ({kv_heads})",
                           heads_a.loc if heads_a else block.loc)
    return model_mod.ModelShape(block.name, layers, hidden, heads, kv_heads, head_dim, intermediate, vocab,
                                tied, weights, kv, attention="mla" if mla else "gqa", compute_dtype=compute,
                                **moe, **mla, **window, **linear)


_MOE_FIELDS = ("experts", "experts_per_token", "shared_experts", "moe_intermediate", "dense_layers")
_MLA_FIELDS = ("kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")


def _model_moe(f: Fields, where: str, block: ast.ModelBlock, layers: int, intermediate: int) -> dict[str, int]:
    """The mixture-of-experts fields of a model block ({} for a dense model)."""
    if not f.has("experts"):
        for key in _MOE_FIELDS:
            if f.has(key):
                raise CompileError(f"{where}: '{key}' needs experts = N (a mixture-of-experts model)",
                                   f.values[key].loc)
        return {}
    experts_a = f.values["experts"]
    experts = f.integer("experts", required=True, minimum=2)
    k = f.integer("experts_per_token", required=True)
    if k > experts:
        raise CompileError(f"{where}: experts_per_token ({k}) exceeds experts ({experts})", experts_a.loc)
    shared = f.integer("shared_experts", 0, minimum=0)
    width = f.integer("moe_intermediate", intermediate)
    dense = f.integer("dense_layers", 0, minimum=0)
    if dense >= layers:
        raise CompileError(f"{where}: dense_layers ({dense}) must leave at least one MoE layer of {layers}",
                           block.loc)
    return {"experts": experts, "experts_per_token": k, "shared_experts": shared, "moe_intermediate": width,
            "dense_layers": dense}


def _model_mla(f: Fields, where: str, block: ast.ModelBlock, attention: str) -> dict[str, int]:
    """The multi-head latent attention fields of a model block ({} unless attention = mla)."""
    if attention != "mla":
        for key in _MLA_FIELDS:
            if f.has(key):
                raise CompileError(f"{where}: '{key}' needs attention = mla", f.values[key].loc)
        return {}
    return {
        "kv_lora_rank": f.integer("kv_lora_rank", required=True),
        "q_lora_rank": f.integer("q_lora_rank", 0, minimum=0),
        "qk_rope_head_dim": f.integer("qk_rope_head_dim", required=True),
        "qk_nope_head_dim": f.integer("qk_nope_head_dim", required=True),
        "v_head_dim": f.integer("v_head_dim", required=True),
    }


_LINEAR_FIELDS = ("linear_key_heads", "linear_value_heads", "linear_key_head_dim", "linear_value_head_dim",
                  "linear_conv_kernel")


def _model_window(f: Fields, where: str, block: ast.ModelBlock, attention_layers: int,
                  attention: str) -> dict[str, int | bool]:
    """Sliding-window layers and attention sinks ({} when neither is given)."""
    out: dict[str, int | bool] = {}
    if f.has("attention_sinks"):
        sinks_a = f.values["attention_sinks"]
        out["attention_sinks"] = f.boolean("attention_sinks", False)
        if out["attention_sinks"] and attention == "mla":
            raise CompileError(f"{where}: attention_sinks needs attention = gqa (not mla)", sinks_a.loc)
    if not f.has("sliding_window"):
        if f.has("sliding_layers"):
            raise CompileError(f"{where}: 'sliding_layers' needs sliding_window = N tokens",
                               f.values["sliding_layers"].loc)
        return out
    window_a = f.values["sliding_window"]
    if attention == "mla":
        raise CompileError(f"{where}: sliding_window needs attention = gqa (not mla)", window_a.loc)
    sliding_a = f.values.get("sliding_layers")
    window = f.integer("sliding_window", required=True)
    sliding = f.integer("sliding_layers", attention_layers)
    if sliding > attention_layers:
        raise CompileError(f"{where}: sliding_layers ({sliding}) exceeds the {attention_layers} attention layers",
                           (sliding_a or window_a).loc)
    return {**out, "sliding_window": window, "sliding_layers": sliding}


def _model_linear(f: Fields, where: str, block: ast.ModelBlock, layers: int, attention: str) -> dict[str, int]:
    """Gated delta-net linear-attention layers ({} unless linear_layers is given)."""
    if not f.has("linear_layers"):
        for key in _LINEAR_FIELDS:
            if f.has(key):
                raise CompileError(f"{where}: '{key}' needs linear_layers = N", f.values[key].loc)
        return {}
    linear_a = f.values["linear_layers"]
    if attention == "mla":
        raise CompileError(f"{where}: linear_layers needs attention = gqa (not mla)", linear_a.loc)
    n = f.integer("linear_layers", required=True)
    if n >= layers:
        raise CompileError(f"{where}: linear_layers ({n}) must leave at least one attention layer of {layers}",
                           linear_a.loc)
    value_heads_a = f.values.get("linear_value_heads")
    out = {"linear_layers": n, **{key: f.integer(key, required=True) for key in _LINEAR_FIELDS[:4]},
           "linear_conv_kernel": f.integer("linear_conv_kernel", 4)}
    if out["linear_value_heads"] % out["linear_key_heads"]:
        raise CompileError(f"{where}: linear_value_heads ({out['linear_value_heads']}) must be a multiple of "
                           f"linear_key_heads ({out['linear_key_heads']})",
                           value_heads_a.loc if value_heads_a else linear_a.loc)
    return out
