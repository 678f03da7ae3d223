"""A Hugging Face ``config.json``, read offline, → the fields of a ``model`` block.

Every key of a config is either mapped to a field, checked against what infera can price (``hidden_act`` must
be a gated SiLU, ``moe_layer_freq`` must be 1, ...), or on an explicit allow-list of keys that do not change a
step's cost (token ids, RoPE settings, initialisation, generation defaults). Any other key, an unknown
``model_type``, a missing size, a value of the wrong type or a size below 1 is a :class:`ConfigError` naming
the file and the key; nothing is guessed. What a config describes that infera does not price (a sparse-attention
indexer, multi-token-prediction layers, a vision encoder) is accepted only where it is listed below, and comes
back as a note that the CLI prints beside the block. The table is in docs/dsl.md, in the section on
`model NAME from "config.json"`.

Key names and defaults follow each architecture's configuration class in Hugging Face transformers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from infera.dsl import ast
from infera.exceptions import CompileError, FileError
from infera.files import read_bytes

__all__ = ["ConfigError", "Imported", "SUPPORTED", "config_items", "import_config", "map_config", "read_config"]

Field = int | bool | str


class ConfigError(FileError, ValueError):
    """A config.json that infera cannot map: ``path`` names the file, ``key`` the offending key (dotted for a
    nested one, ``None`` for the file as a whole)."""

    def __init__(self, path: Any, reason: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(path, f"key '{key}': {reason}" if key else reason)


@dataclass(frozen=True)
class Imported:
    """The model-block fields a config maps to, in block order, and what of it infera does not price."""

    fields: dict[str, Field]
    notes: tuple[str, ...]


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object of a config file (a FileError if it cannot be read, a ConfigError if it is not one)."""
    data = read_bytes(path)
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ConfigError(path, "is not JSON infera can read: nested too deeply") from None
    if not isinstance(value, dict):
        raise ConfigError(path, f"must hold a JSON object, not {_json_type(value)}")
    return value


def import_config(path: str | os.PathLike[str]) -> Imported:
    """Reads and maps a config file."""
    return map_config(read_config(path), path)


# ----------------------------------------------------------------------------------------------------------
# Reading keys with errors that name them

# Keys every transformers configuration may carry (PretrainedConfig's own attributes, generation defaults,
# tokenizer ids) and per-architecture keys that change numerics but not a step's FLOPs or bytes: RoPE, norms'
# epsilon, dropout, initialisation, the trained context length, router losses and routing details.
_NO_COST = frozenset("""
    _name_or_path _attn_implementation add_cross_attention architectures auto_map bad_words_ids begin_suppress_tokens
    bos_token_id chunk_size_feed_forward cross_attention_hidden_size decoder_start_token_id diversity_penalty
    do_sample early_stopping encoder_no_repeat_ngram_size eos_token_id exponential_decay_length_penalty
    finetuning_task forced_bos_token_id forced_eos_token_id id2label is_decoder is_encoder_decoder label2id
    length_penalty max_length min_length no_repeat_ngram_size num_beam_groups num_beams num_return_sequences
    output_attentions output_hidden_states output_scores pad_token_id prefix problem_type pruned_heads
    remove_invalid_values repetition_penalty return_dict return_dict_in_generate sep_token_id suppress_tokens
    task_specific_params temperature tf_legacy_loss tie_encoder_decoder tokenizer_class top_k top_p torchscript
    transformers_version typical_p use_bfloat16 use_cache
    attention_dropout hidden_dropout initializer_range max_position_embeddings rms_norm_eps pretraining_tp
    rope_theta rope_scaling rope_parameters rope_interleave partial_rotary_factor rotary_dim
    router_aux_loss_coef output_router_logits router_jitter_noise aux_loss_alpha seq_aux norm_topk_prob
    n_group topk_group topk_method scoring_func routed_scaling_factor use_routing_bias ep_size
""".split())

# Bias terms of the projections: a few thousand parameters per layer against millions, not priced.
_BIASES = frozenset({"attention_bias", "mlp_bias"})

_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
_ACTIVATIONS = ("silu", "swish")  # the gated SiLU (SwiGLU) MLP that infera prices


class _Keys:
    """One JSON object's keys, read with checks; :meth:`done` refuses any key nobody read or allowed."""

    def __init__(self, data: dict[str, Any], path: Any, prefix: str = "") -> None:
        self.data, self.path, self.prefix = data, path, prefix
        self.seen: set[str] = set()

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, reason, self.prefix + key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def integer(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise self.error(key, "is missing (a whole number is required)")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, not {_json_type(value)} {_shown(value)}")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if value > 2**32 - 1:
            raise self.error(key, f"is too large ({value})")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_json_type(value)} {_shown(value)}")
        return value

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            what = "is missing" if value is None else f"must be a string, not {_json_type(value)} {_shown(value)}"
            raise self.error(key, what)
        return value

    def strings(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"must be a list of strings, not {_json_type(value)}")
        return value

    def obj(self, key: str) -> "_Keys | None":
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"must be an object, not {_json_type(value)}")
        return _Keys(value, self.path, f"{self.prefix}{key}.")

    def allow(self, *keys: str) -> None:
        self.seen.update(keys)

    def done(self) -> None:
        for key in self.data:
            if key not in self.seen and key not in _NO_COST:
                raise self.error(key, "is not supported (infera does not know what it does to the cost)")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------------------------------------------------
# Parts every architecture shares


def _dense(k: _Keys, fields: dict[str, Field], *, head_dim: bool = True) -> None:
    """Layers, widths, heads and vocabulary (the fields of a dense GQA model)."""
    fields["layers"] = k.integer("num_hidden_layers")
    fields["hidden"] = k.integer("hidden_size")
    heads = fields["heads"] = k.integer("num_attention_heads")
    fields["kv_heads"] = k.integer("num_key_value_heads", heads)
    if head_dim and k.has("head_dim"):
        fields["head_dim"] = k.integer("head_dim")
    k.allow("head_dim")
    act = k.string("hidden_act", "silu")
    if act not in _ACTIVATIONS:
        raise k.error("hidden_act", f"must be one of {', '.join(_ACTIVATIONS)} (a gated SiLU MLP), got '{act}'")
    k.allow(*_BIASES)


def _tail(k: _Keys, fields: dict[str, Field], notes: list[str], top: _Keys | None = None) -> None:
    """Vocabulary, tied embeddings and the weight precision: a nested text model's own keys first, then the
    outer config's."""
    fields["vocab"] = k.integer("vocab_size")
    scopes = [k] if top is None else [k, top]
    tied = next((s for s in scopes if "tie_word_embeddings" in s.data), k)
    fields["tied_embeddings"] = tied.boolean("tie_word_embeddings", False)
    quant = next((s for s in scopes if s.has("quantization_config")), None)
    for s in scopes:
        s.allow("tie_word_embeddings", "torch_dtype", "dtype", "quantization_config")
    if quant is not None:
        q = quant.obj("quantization_config")
        assert q is not None
        fields.update(_quantization(q))
        kept = [m for key in ("modules_to_not_convert", "ignore", "ignored_layers", "exclude_modules")
                for m in q.strings(key) or []]
        if kept:
            notes.append(f"quantization_config leaves {', '.join(map(str, kept))} unquantised: infera prices every "
                         f"weight at {fields['weights']}")
        return
    for s in scopes:
        for key in ("torch_dtype", "dtype"):
            if s.has(key):
                name = s.string(key)
                if name not in _DTYPES:
                    raise s.error(key, f"must be one of {', '.join(_DTYPES)}, got '{name}'")
                fields["weights"] = _DTYPES[name]
                return


def _quantization(q: _Keys) -> dict[str, Field]:
    """The weight precision of a quantised checkpoint; infera prices every weight at it (one precision per
    model), the modules a config leaves unquantised too."""
    method = q.string("quant_method")
    if method == "fp8":
        q.allow("activation_scheme", "fmt", "weight_block_size", "modules_to_not_convert", "ignored_layers")
        out: dict[str, Field] = {"weights": "fp8"}
    elif method == "mxfp4":
        q.allow("modules_to_not_convert")
        out = {"weights": "mxfp4"}
    elif method == "compressed-tensors":
        out = _compressed_tensors(q)
    elif method == "modelopt":
        out = _modelopt(q)
    else:
        raise q.error("quant_method", f"'{method}' is not supported (fp8, mxfp4, modelopt NVFP4/FP8 or "
                      "compressed-tensors int4/int8); set weights = ... to override")
    q.done()
    return out


def _modelopt(q: _Keys) -> dict[str, Field]:
    """NVIDIA ModelOpt checkpoints (the nvidia/*-NVFP4 and *-FP8 releases): ``quant_algo`` NVFP4 (16-element
    blocks with FP8 scales) or FP8 weights and activations, and ``kv_cache_quant_algo`` FP8 for an FP8 KV
    cache, which the serving stacks use as the checkpoint says."""
    algo = q.string("quant_algo")
    precisions = {"NVFP4": "nvfp4", "FP8": "fp8"}
    if algo not in precisions:
        raise q.error("quant_algo", f"'{algo}' is not supported (NVFP4 or FP8)")
    if algo == "NVFP4" and q.has("group_size") and q.integer("group_size") != 16:
        raise q.error("group_size", "NVFP4 blocks are 16 elements")
    out: dict[str, Field] = {"weights": precisions[algo]}
    if q.has("kv_cache_quant_algo") and q.data["kv_cache_quant_algo"] is not None:
        kv = q.string("kv_cache_quant_algo")
        if kv != "FP8":
            raise q.error("kv_cache_quant_algo", f"'{kv}' is not supported (FP8)")
        out["kv"] = "fp8"
    q.allow("group_size", "kv_cache_quant_algo", "exclude_modules", "ignore", "producer")
    return out


def _compressed_tensors(q: _Keys) -> dict[str, Field]:
    groups = q.obj("config_groups")
    if groups is None or len(groups.data) != 1:
        raise q.error("config_groups", "must hold exactly one quantisation group")
    (name,) = groups.data
    group = groups.obj(name)
    assert group is not None
    weights = group.obj("weights")
    if weights is None:
        raise group.error("weights", "is missing")
    kind, bits = weights.string("type"), weights.integer("num_bits")
    if kind != "int" or bits not in (4, 8):
        raise weights.error("num_bits", f"only int4 and int8 weights are supported, got {kind}{bits}")
    if group.has("input_activations"):
        raise group.error("input_activations", "quantised activations are not supported")
    weights.allow("actorder", "block_structure", "dynamic", "group_size", "observer", "observer_kwargs", "strategy",
                  "symmetric")
    group.allow("input_activations", "output_activations", "targets")
    weights.done()
    group.done()
    groups.done()
    if q.has("kv_cache_scheme"):
        raise q.error("kv_cache_scheme", "a quantised KV cache is not read from the config; set kv = ...")
    q.allow("format", "ignore", "kv_cache_scheme", "quantization_status", "global_compression_ratio")
    # Weight-only quantisation: the matmuls run at bf16 (W4A16 / W8A16 kernels).
    return {"weights": f"int{bits}", "compute": "bf16"}


def _layer_kinds(k: _Keys, layers: int, kinds: tuple[str, ...]) -> dict[str, int] | None:
    """How many layers of each kind ``layer_types`` lists (None without one)."""
    types = k.strings("layer_types")
    if types is None:
        return None
    if len(types) != layers:
        raise k.error("layer_types", f"lists {len(types)} layers, num_hidden_layers is {layers}")
    for t in types:
        if t not in kinds:
            raise k.error("layer_types", f"layer kind '{t}' is not supported (one of {', '.join(kinds)})")
    return {t: types.count(t) for t in kinds}


def _sliding(fields: dict[str, Field], k: _Keys, count: int) -> None:
    if count:
        fields["sliding_window"] = k.integer("sliding_window")
        fields["sliding_layers"] = count
    k.allow("sliding_window")


def _experts(k: _Keys, fields: dict[str, Field], experts_key: str, width: int) -> None:
    fields["experts"] = k.integer(experts_key, minimum=2)
    fields["experts_per_token"] = k.integer("num_experts_per_tok")
    fields["moe_intermediate"] = width


def _shared(k: _Keys, key: str, width: int) -> int:
    """Shared experts of a config that gives their total width (0 for none)."""
    total = k.integer(key, 0, minimum=0)
    if total % width:
        raise k.error(key, f"({total}) is not a multiple of the expert width ({width})")
    return total // width


# ----------------------------------------------------------------------------------------------------------
# Architectures


def _llama(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    """llama, mistral, qwen2, qwen3: dense GQA; Mistral's window applies to every layer, Qwen's from
    ``max_window_layers`` on when ``use_sliding_window`` is set."""
    _dense(k, f)
    f["intermediate"] = k.integer("intermediate_size")
    _window(k, f)


def _window(k: _Keys, f: dict[str, Field]) -> None:
    layers = int(f["layers"])
    kinds = _layer_kinds(k, layers, ("full_attention", "sliding_attention"))
    if kinds is not None:
        count = kinds["sliding_attention"]
    elif "use_sliding_window" in k.data:  # Qwen: the window is off unless switched on
        count = layers - k.integer("max_window_layers", 0, minimum=0) if k.boolean("use_sliding_window", False) else 0
    else:  # Mistral, Mixtral: a window, when given, on every layer
        count = layers if k.has("sliding_window") else 0
    k.allow("max_window_layers")
    if count < 0:
        raise k.error("max_window_layers", f"exceeds num_hidden_layers ({layers})")
    _sliding(f, k, count)


def _mixtral(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    _dense(k, f)
    width = f["intermediate"] = k.integer("intermediate_size")
    _experts(k, f, "num_local_experts", width)
    _window(k, f)


def _qwen3_moe(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    _dense(k, f)
    f["intermediate"] = k.integer("intermediate_size")
    _experts(k, f, "num_experts", k.integer("moe_intermediate_size"))
    f["dense_layers"] = _dense_prefix(k, int(f["layers"]))
    _window(k, f)


def _dense_prefix(k: _Keys, layers: int) -> int:
    """Leading dense layers given as ``mlp_only_layers``; a sparse step other than 1 is refused."""
    if k.integer("decoder_sparse_step", 1) != 1:
        raise k.error("decoder_sparse_step", "only 1 (every layer a mixture of experts) is supported")
    only = k.raw("mlp_only_layers") or []
    ints = isinstance(only, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in only)
    if not ints or sorted(only) != list(range(len(only))):
        raise k.error("mlp_only_layers", "only a leading run of dense layers [0, 1, ..., n-1] is supported")
    if len(only) >= layers:
        raise k.error("mlp_only_layers", f"leaves no mixture-of-experts layer of {layers}")
    return len(only)


def _deepseek(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    """deepseek_v3 (DeepSeek-V3/R1, Kimi-K2's text model) and glm_moe_dsa (GLM-5): MLA, shared experts and
    leading dense layers. ``head_dim`` is not read: MLA's own head sizes decide every cost."""
    _dense(k, f, head_dim=False)
    f["intermediate"] = k.integer("intermediate_size")
    _experts(k, f, "n_routed_experts", k.integer("moe_intermediate_size"))
    f["shared_experts"] = k.integer("n_shared_experts", 0, minimum=0)
    f["dense_layers"] = k.integer("first_k_dense_replace", 0, minimum=0)
    if k.integer("moe_layer_freq", 1) != 1:
        raise k.error("moe_layer_freq", "only 1 (every layer after the dense ones a mixture of experts) is supported")
    f["attention"] = "mla"
    f["kv_lora_rank"] = k.integer("kv_lora_rank")
    f["q_lora_rank"] = k.integer("q_lora_rank", 0, minimum=0)
    f["qk_rope_head_dim"] = k.integer("qk_rope_head_dim")
    f["qk_nope_head_dim"] = k.integer("qk_nope_head_dim")
    f["v_head_dim"] = k.integer("v_head_dim")
    qk = int(f["qk_rope_head_dim"]) + int(f["qk_nope_head_dim"])
    if k.has("qk_head_dim") and k.integer("qk_head_dim") != qk:
        raise k.error("qk_head_dim", f"must be qk_nope_head_dim + qk_rope_head_dim ({qk})")
    k.allow("qk_head_dim")
    mtp = k.integer("num_nextn_predict_layers", 0, minimum=0)
    if mtp:
        notes.append(f"num_nextn_predict_layers = {mtp}: the multi-token-prediction layer (a speculative-decoding "
                     "draft) is not modelled")
    if k.has("index_topk"):
        notes.append(f"index_topk = {k.integer('index_topk')}: DeepSeek sparse attention is priced as dense MLA "
                     "(every context token read), its lightning indexer not at all")
    k.allow("index_topk", "index_head_dim", "index_n_heads", "indexer_rope_interleave")


def _minimax_m2(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    """MiniMax-M2: every layer a mixture of experts of width ``intermediate_size``, full attention only."""
    _dense(k, f)
    width = f["intermediate"] = k.integer("intermediate_size")
    _experts(k, f, "num_local_experts", width)
    f["shared_experts"] = _shared(k, "shared_intermediate_size", width)
    attn = k.raw("attn_type_list")
    if attn is not None and (not isinstance(attn, list) or any(a != 1 for a in attn)):
        raise k.error("attn_type_list", "only full attention (1 on every layer) is supported")
    k.allow("use_qk_norm", "qk_norm_type")  # a norm over each head's q and k: a few FLOPs per value
    if k.boolean("use_mtp", False):
        notes.append("use_mtp: the multi-token-prediction modules (a speculative-decoding draft) are not modelled")
    k.allow("mtp_transformer_layers", "num_mtp_modules")


def _gpt_oss(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    """gpt-oss: every layer a mixture of experts of width ``intermediate_size``, alternate layers attending
    over a sliding window, every layer with attention sinks (a learned logit per head, part of the design)."""
    _dense(k, f)
    width = f["intermediate"] = k.integer("intermediate_size")
    _experts(k, f, "num_local_experts", width)
    if k.has("experts_per_token") and k.integer("experts_per_token") != f["experts_per_token"]:
        raise k.error("experts_per_token", "differs from num_experts_per_tok")
    k.allow("experts_per_token", "swiglu_limit", "initial_context_length")
    kinds = _layer_kinds(k, int(f["layers"]), ("full_attention", "sliding_attention"))
    if kinds is None:
        raise k.error("layer_types", "is missing (gpt-oss alternates sliding-window and full layers)")
    _sliding(f, k, kinds["sliding_attention"])
    f["attention_sinks"] = True


def _qwen3_5_moe(k: _Keys, f: dict[str, Field], notes: list[str]) -> None:
    """Qwen3.5 MoE's text model: gated delta-net linear-attention layers between full-attention ones, every
    layer a mixture of experts with one shared expert."""
    _dense(k, f)
    width = k.integer("moe_intermediate_size")
    f["intermediate"] = k.integer("intermediate_size", width)  # no dense layer uses it
    _experts(k, f, "num_experts", width)
    f["shared_experts"] = _shared(k, "shared_expert_intermediate_size", width)
    f["dense_layers"] = _dense_prefix(k, int(f["layers"]))
    kinds = _layer_kinds(k, int(f["layers"]), ("linear_attention", "full_attention"))
    if kinds is None:
        raise k.error("layer_types", "is missing (Qwen3.5 mixes linear and full attention layers)")
    k.allow("full_attention_interval")  # layer_types spells the same pattern out
    if kinds["linear_attention"]:
        f["linear_layers"] = kinds["linear_attention"]
        f["linear_key_heads"] = k.integer("linear_num_key_heads")
        f["linear_value_heads"] = k.integer("linear_num_value_heads")
        f["linear_key_head_dim"] = k.integer("linear_key_head_dim")
        f["linear_value_head_dim"] = k.integer("linear_value_head_dim")
        f["linear_conv_kernel"] = k.integer("linear_conv_kernel_dim")
    if k.boolean("attn_output_gate", False):
        notes.append("attn_output_gate: the full-attention layers' output gate (a second query-sized projection) "
                     "is not priced")
    if k.has("mamba_ssm_dtype"):
        notes.append(f"mamba_ssm_dtype = {k.string('mamba_ssm_dtype')}: the linear layers' state precision is "
                     "not read from the config")
    mtp = k.integer("mtp_num_hidden_layers", 0, minimum=0)
    if mtp:
        notes.append(f"mtp_num_hidden_layers = {mtp}: the multi-token-prediction layer is not modelled")
    k.allow("mamba_ssm_dtype", "mtp_use_dedicated_embeddings")


Mapper = Callable[[_Keys, dict[str, Field], list[str]], None]

#: model_type → how its keys map. Nested configs (a vision-language wrapper) name their text model in
#: :data:`_NESTED`.
SUPPORTED: dict[str, Mapper] = {
    "llama": _llama, "mistral": _llama, "qwen2": _llama, "qwen3": _llama,
    "mixtral": _mixtral, "qwen3_moe": _qwen3_moe,
    "deepseek_v3": _deepseek, "kimi_k2": _deepseek, "glm_moe_dsa": _deepseek,
    "minimax_m2": _minimax_m2, "gpt_oss": _gpt_oss, "qwen3_5_moe_text": _qwen3_5_moe,
}

# Wrapper model_type → (its text model's model_type, the wrapper's keys that only concern other modalities).
_NESTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "kimi_k25": ("kimi_k2", ("vision_config", "media_placeholder_token_id", "ignore_index",
                             "use_unified_vision_chunk", "video_placeholder")),
    "qwen3_5_moe": ("qwen3_5_moe_text", ("vision_config", "image_token_id", "video_token_id",
                                         "vision_start_token_id", "vision_end_token_id")),
}


def map_config(data: dict[str, Any], path: str | os.PathLike[str] = "<config>") -> Imported:
    """The model-block fields of a parsed config (``path`` names it in errors)."""
    if not isinstance(data, dict):
        raise ConfigError(path, f"must hold a JSON object, not {_json_type(data)}")
    top = _Keys(data, path)
    model_type = top.string("model_type")
    known = ", ".join(sorted({*SUPPORTED, *_NESTED} - {"kimi_k2", "qwen3_5_moe_text"}))
    notes: list[str] = []
    fields: dict[str, Field] = {"family": model_type}
    if model_type in _NESTED:
        text_type, other = _NESTED[model_type]
        keys = top.obj("text_config")
        if keys is None:
            raise top.error("text_config", "is missing (the text model's configuration)")
        inner = keys.string("model_type", text_type)
        if inner != text_type:
            raise keys.error("model_type", f"must be '{text_type}' inside a '{model_type}' config, got '{inner}'")
        top.allow(*other)
        if top.has("vision_config"):
            notes.append("vision_config: the vision encoder is not modelled (text-only serving)")
        SUPPORTED[text_type](keys, fields, notes)
        _tail(keys, fields, notes, top)
        keys.done()
    elif model_type in SUPPORTED and model_type not in ("kimi_k2", "qwen3_5_moe_text"):
        SUPPORTED[model_type](top, fields, notes)
        _tail(top, fields, notes)
    else:
        raise top.error("model_type", f"'{model_type}' is not supported (supported: {known})")
    top.done()
    return Imported(fields, tuple(notes))


# Fields whose value is written as a string; the other text fields (precisions, the attention kind) are names.
_STRING_FIELDS = frozenset({"family", "source"})


def as_value(key: str, value: Field, loc: ast.Loc) -> ast.Value:
    """A field's value as the AST node the block would hold had it been written out."""
    if isinstance(value, bool):
        return ast.Bool(value, loc)
    if isinstance(value, int):
        return ast.Quantity(float(value), "number", "", loc, is_integer=True)
    return ast.String(value, loc) if key in _STRING_FIELDS else ast.Name(value, loc)


def config_items(block: ast.ModelBlock, catalog_dir: Callable[[], Path]) -> list[ast.Assign]:
    """The fields ``model m from "config.json"`` reads, as items located at the path's string; a file that
    cannot be read or mapped is a CompileError there that names the file (and the key)."""
    assert block.config is not None
    loc = block.config.loc
    try:
        imported = import_config(config_path(block.config.value, loc.file, catalog_dir))
    except FileError as exc:
        raise CompileError(f"model '{block.name}': config {exc}", loc) from None
    return [ast.Assign(key, as_value(key, value, loc), loc) for key, value in imported.fields.items()]


def config_path(text: str, source_file: str, catalog_dir: Callable[[], Path]) -> Path:
    """Where ``from "text"`` points: an absolute path as is; a relative one beside the file that says it, in the
    package for the catalog's files, or in the current folder for text that has no file (``<string>``)."""
    path = Path(text)
    if path.is_absolute():
        return path
    if source_file.startswith("<catalog>/"):
        return catalog_dir() / path
    if source_file.startswith("<"):
        return path
    return Path(source_file).parent / path
