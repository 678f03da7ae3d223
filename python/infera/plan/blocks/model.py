"""``model`` blocks → :class:`~infera.plan.model.ModelShape`: dense, mixture-of-experts and latent-attention
shapes, with every field's type and unit checked."""

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
    f.take("family")
    f.take("source")
    f.done()
    if heads % kv_heads != 0:
        raise CompileError(f"{where}: heads ({heads}) must be a multiple of kv_heads ({kv_heads})",
                           heads_a.loc if heads_a else block.loc)
    return model_mod.ModelShape(block.name, layers, hidden, heads, kv_heads, head_dim, intermediate, vocab,
                                tied, weights, kv, attention="mla" if mla else "gqa", compute_dtype=compute,
                                **moe, **mla)


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
