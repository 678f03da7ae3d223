"""Malformed config.json files: each is refused naming the file and the key, in the Python API
(``ConfigError``), in the DSL (a ``CompileError`` at the ``from`` path) and in the CLI (status 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

import infera
from infera.cli import main
from infera.plan.hf_config import ConfigError
from helpers import ROOT

CONFIGS = ROOT / "python" / "infera" / "catalog" / "configs"


def config(name: str) -> dict[str, Any]:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def without(name: str, key: str) -> dict[str, Any]:
    data = config(name)
    del data[key]
    return data


def edit(name: str, **changes: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {**config(name), **changes}


# (case, the config, the key the error names, words of the reason)
CASES: list[tuple[str, Callable[[], Any], str | None, str]] = [
    ("missing size", lambda: without("llama3_1_8b", "num_hidden_layers"), "num_hidden_layers", "is missing"),
    ("missing model_type", lambda: without("llama3_1_8b", "model_type"), "model_type", "is missing"),
    ("string size", edit("llama3_1_8b", hidden_size="4096"), "hidden_size", "must be a whole number"),
    ("float size", edit("llama3_1_8b", vocab_size=1.5), "vocab_size", "must be a whole number"),
    ("boolean size", edit("llama3_1_8b", num_hidden_layers=True), "num_hidden_layers", "must be a whole number"),
    ("negative size", edit("llama3_1_8b", intermediate_size=-1), "intermediate_size", "must be at least 1"),
    ("zero heads", edit("llama3_1_8b", num_attention_heads=0), "num_attention_heads", "must be at least 1"),
    ("huge size", edit("llama3_1_8b", hidden_size=2**40), "hidden_size", "too large"),
    ("unknown model_type", edit("llama3_1_8b", model_type="gemma3"), "model_type", "'gemma3' is not supported"),
    ("model_type not a string", edit("llama3_1_8b", model_type=7), "model_type", "must be a string"),
    ("unknown key", edit("llama3_1_8b", cross_layer_kv=2), "cross_layer_kv", "is not supported"),
    ("other activation", edit("llama3_1_8b", hidden_act="gelu"), "hidden_act", "gated SiLU"),
    ("tied not a boolean", edit("llama3_1_8b", tie_word_embeddings="no"), "tie_word_embeddings", "true or false"),
    ("unknown dtype", edit("llama3_1_8b", torch_dtype="float8"), "torch_dtype", "must be one of"),
    ("unknown quantisation", edit("llama3_1_8b", quantization_config={"quant_method": "gptq"}),
     "quantization_config.quant_method", "'gptq' is not supported"),
    ("quantisation not an object", edit("llama3_1_8b", quantization_config=[1]), "quantization_config",
     "must be an object"),
    ("one expert", edit("mixtral_8x7b", num_local_experts=1), "num_local_experts", "at least 2"),
    ("interleaved MoE", edit("deepseek_v3", moe_layer_freq=2), "moe_layer_freq", "only 1"),
    ("MLA sizes disagree", edit("glm_5", qk_head_dim=128), "qk_head_dim", "qk_nope_head_dim + qk_rope_head_dim"),
    ("dense layers not leading", edit("qwen3_235b_a22b", mlp_only_layers=[3]), "mlp_only_layers", "leading run"),
    ("dense layers not numbers", edit("qwen3_235b_a22b", mlp_only_layers=["a", 0]), "mlp_only_layers",
     "leading run"),
    ("unquantised modules not a list", edit("minimax_m2_5", quantization_config={
        "quant_method": "fp8", "modules_to_not_convert": 3}), "quantization_config.modules_to_not_convert",
     "list of strings"),
    ("layer kinds too few", edit("gpt_oss_120b", layer_types=["full_attention"]), "layer_types",
     "lists 1 layers"),
    ("unknown layer kind", edit("gpt_oss_120b", layer_types=["chunked_attention"] * 36), "layer_types",
     "'chunked_attention' is not supported"),
    ("no text model", lambda: without("kimi_k2_5", "text_config"), "text_config", "is missing"),
    ("wrong text model", lambda: {**config("kimi_k2_5"), "text_config": {**config("kimi_k2_5")["text_config"],
                                                                         "model_type": "llama"}},
     "text_config.model_type", "must be 'kimi_k2'"),
    ("nested key wrong", lambda: {**config("qwen3_5_397b_a17b"), "text_config": {
        **config("qwen3_5_397b_a17b")["text_config"], "linear_num_key_heads": -16}},
     "text_config.linear_num_key_heads", "at least 1"),
    ("not an object", lambda: [1, 2], None, "must hold a JSON object, not a list"),
]


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("case, make, key, words", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_in_the_api(tmp_path: Path, case: str, make: Callable[[], Any], key: str | None,
                                     words: str) -> None:
    path = write(tmp_path, make())
    with pytest.raises(ConfigError) as err:
        infera.model_from_config(path)
    assert err.value.path == str(path) and err.value.key == key
    assert words in str(err.value)
    assert str(err.value).startswith(f"{path}: " + (f"key '{key}': " if key else ""))
    assert isinstance(err.value, infera.FileError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("case, make, key, words", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_malformed_config_in_the_dsl_is_located_at_the_path(tmp_path: Path, case: str, make: Callable[[], Any],
                                                            key: str | None, words: str) -> None:
    write(tmp_path, make())
    source = tmp_path / "serve.infera"
    source.write_text('use chips.h100_sxm\nmodel m from "config.json" { weights = fp8 }\n'
                      "traffic t { arrivals = burst, prompt = 10 tokens, output = 2 tokens, requests = 2 }\n"
                      "system s { pool p: 1 x h100_sxm }\nrun r { model = m, traffic = t, system = s }\n")
    with pytest.raises(infera.CompileError) as err:
        infera.compile_file(source)
    assert (err.value.loc.file, err.value.loc.line, err.value.loc.column) == (str(source), 2, 14)
    assert str(tmp_path / "config.json") in err.value.reason and words in err.value.reason
    if key:
        assert f"key '{key}'" in err.value.reason


@pytest.mark.parametrize("case, make, key, words", CASES[1::4], ids=[c[0] for c in CASES[1::4]])
def test_malformed_config_in_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                     make: Callable[[], Any], key: str | None, words: str) -> None:
    path = write(tmp_path, make())
    assert main(["catalog", "import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert str(path) in captured.err and words in captured.err
    if key:
        assert f"key '{key}'" in captured.err


@pytest.mark.parametrize("content, words", [
    (b"{not json", "is not JSON"),
    (b"", "is not JSON"),
    (b"\xff\xfe{}", "is not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),
], ids=["broken", "empty", "not utf-8", "nested too deep"])
def test_unreadable_contents(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=words) as err:
        infera.model_from_config(path)
    assert err.value.path == str(path) and err.value.key is None


def test_a_missing_file_or_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(infera.FileError, match="not found"):
        infera.model_from_config(tmp_path / "absent.json")
    with pytest.raises(infera.FileError, match="is a directory"):
        infera.model_from_config(tmp_path)
    assert main(["catalog", "import", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: not found" in capsys.readouterr().err
    with pytest.raises(infera.CompileError) as err:
        infera.compile_text(f'model m from "{tmp_path}"\nrun r {{ model = m }}\n', file="<t>")
    assert (err.value.loc.line, err.value.loc.column) == (1, 14) and "is a directory" in err.value.reason


def test_from_is_only_for_models() -> None:
    with pytest.raises(infera.InferaSyntaxError) as err:
        infera.parse('chip c from "h100.json"')
    assert (err.value.line, err.value.column) == (1, 8) and "only a model" in err.value.message
