"""Models read from Hugging Face config.json files: the same plan as the hand-written catalog blocks, the
shipped configs behind the new catalog entries, the fields of the architectures other helpers price, and
overrides in the DSL, the Python API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import infera
from infera.cli import main
from infera.plan.hf_config import ConfigError, import_config, map_config
from helpers import ROOT

CONFIGS = ROOT / "python" / "infera" / "catalog" / "configs"

RUN = """
traffic t {{ arrivals = burst, prompt = 300 tokens, output = 5 tokens, requests = 6 }}
system s {{ pool p: 8 x h200_sxm, tp = 8 }}
run r {{ model = {model}, traffic = t, system = s }}
"""


def plan_of(header: str, model: str) -> infera.Plan:
    return infera.compile_text("use chips.h200_sxm\n" + header + RUN.format(model=model))


# Every catalog model written by hand that also has its published config shipped.
HAND_WRITTEN = ["llama3_1_8b", "llama3_1_70b", "qwen3_32b", "mixtral_8x7b", "qwen3_235b_a22b", "deepseek_v3"]


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_imported_config_gives_the_hand_written_plan(name: str) -> None:
    hand = plan_of(f"use models.{name}\n", name)
    imported = plan_of(f'model {name} from "{CONFIGS / name}.json"\n', name)
    for table in ("models", "operators"):
        assert imported[table].equals(hand[table]), (name, table)
    assert imported["models"].num_rows == 1 and imported["operators"].num_rows > 10


def test_an_override_changes_the_imported_plan_as_it_changes_the_hand_written_one() -> None:
    hand = plan_of("use models.llama3_1_8b\nmodel m extends llama3_1_8b { weights = fp8, kv = fp8 }\n", "m")
    imported = plan_of(f'model m from "{CONFIGS}/llama3_1_8b.json" {{ weights = fp8, kv = fp8 }}\n', "m")
    assert imported["operators"].equals(hand["operators"])
    assert imported["models"].equals(hand["models"])
    bf16 = plan_of(f'model m from "{CONFIGS}/llama3_1_8b.json"\n', "m")
    assert imported["models"]["weight_bytes"][0].as_py() * 2 == bf16["models"]["weight_bytes"][0].as_py()


def test_a_relative_path_is_read_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "m.json").write_bytes((CONFIGS / "qwen3_32b.json").read_bytes())
    source = tmp_path / "serve.infera"
    source.write_text('use chips.h200_sxm\nmodel m from "cfg/m.json"\n' + RUN.format(model="m"))
    plan = infera.compile_file(source)
    assert plan["models"]["layers"][0].as_py() == 64


def test_a_model_read_from_a_config_can_be_extended() -> None:
    header = f'model base from "{CONFIGS}/mixtral_8x7b.json"\nmodel m extends base {{ experts_per_token = 1 }}\n'
    plan = plan_of(header, "m")
    assert plan["models"]["experts_per_token"][0].as_py() == 1


# ----------------------------------------------------------------------------------------------------------
# The catalog entries read from shipped configs


def test_deepseek_r1_has_deepseek_v3s_shape() -> None:
    """R1 is V3's architecture retrained: the same operators, from a different published file."""
    r1 = plan_of("use models.deepseek_r1\n", "deepseek_r1")
    v3 = plan_of("use models.deepseek_v3\n", "deepseek_v3")
    assert r1["operators"].equals(v3["operators"])
    assert r1["models"]["params"][0].as_py() == 671_026_404_352


# Published totals (the model cards): Kimi-K2.5 1.04 T (32 B active), GLM-5 744 B (40 B active),
# MiniMax-M2.5 230 B (10 B active), gpt-oss-120b 116.8 B (5.1 B active), Qwen3.5-397B-A17B 397 B (17 B
# active); the counts here include embeddings and the LM head.
@pytest.mark.parametrize("name, total, active", [
    ("kimi_k2_5", 1.04e12, 32e9), ("glm_5", 744e9, 40e9), ("minimax_m2_5", 230e9, 10e9),
    ("gpt_oss_120b", 116.8e9, 5.1e9), ("qwen3_5_397b_a17b", 397e9, 17e9),
])
def test_new_catalog_models_have_their_published_sizes(name: str, total: float, active: float) -> None:
    from infera.plan.blocks.model import compile_model
    from infera.plan.scope import Scope

    scope = Scope.of_program(infera.parse(f"use models.{name}"))
    shape = compile_model(scope, scope.blocks["model"][name])  # type: ignore[arg-type]
    assert shape.params() == pytest.approx(total, rel=0.02)
    assert shape.active_params() == pytest.approx(active, rel=0.12)


def test_gpt_oss_and_qwen3_5_compile_from_their_shipped_configs() -> None:
    from infera.plan.blocks.model import compile_model
    from infera.plan.scope import Scope

    scope = Scope.of_program(infera.parse("use models.gpt_oss_120b, models.qwen3_5_397b_a17b"))
    oss = compile_model(scope, scope.blocks["model"]["gpt_oss_120b"])  # type: ignore[arg-type]
    # 36 layers alternating 128-token windows and full attention, with sinks; MXFP4 weights as released.
    assert (oss.layers, oss.sliding_window, oss.sliding_layers, oss.attention_sinks) == (36, 128, 18, True)
    assert oss.weight_dtype == "mxfp4"
    qwen = compile_model(scope, scope.blocks["model"]["qwen3_5_397b_a17b"])  # type: ignore[arg-type]
    # Three gated delta-net layers to every full-attention layer.
    assert (qwen.layers, qwen.linear_layers) == (60, 45)
    text = """use chips.b200, models.gpt_oss_120b, models.qwen3_5_397b_a17b
traffic t { arrivals = closed(users = 2), prompt = 512 tokens, output = 8 tokens, requests = 4 }
system s { pool p: 8 x b200, tp = 8 }
run a { model = gpt_oss_120b, traffic = t, system = s }
run b { model = qwen3_5_397b_a17b, traffic = t, system = s }
"""
    summary = infera.simulate(infera.compile_text(text)).summary
    assert summary["requests"].to_list() == [4, 4] and summary["rejected"].to_list() == [0, 0]
    assert (summary["tpot_p50_s"] > 0).all()


def test_catalog_lists_the_models_read_from_configs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "models"]) == 0
    out = capsys.readouterr().out
    for name in ("deepseek_r1", "kimi_k2_5", "glm_5", "minimax_m2_5", "gpt_oss_120b", "qwen3_5_397b_a17b",
                 "llama3_1_70b"):
        assert name in out
    assert "h100_sxm" not in out


def test_every_shipped_config_is_documented_and_maps() -> None:
    readme = (CONFIGS / "README.md").read_text()
    files = sorted(CONFIGS.glob("*.json"))
    assert len(files) == 12
    for path in files:
        assert f"`{path.name}`" in readme, path.name
        assert import_config(path).fields["layers"] >= 1


# ----------------------------------------------------------------------------------------------------------
# Fields of architectures the cost model learns elsewhere (checked as the mapping produces them)


def test_gpt_oss_maps_to_sliding_window_layers_and_sinks() -> None:
    imported = import_config(CONFIGS / "gpt_oss_120b.json")
    f = imported.fields
    assert (f["layers"], f["hidden"], f["heads"], f["kv_heads"], f["head_dim"]) == (36, 2880, 64, 8, 64)
    assert (f["experts"], f["experts_per_token"], f["moe_intermediate"]) == (128, 4, 2880)
    assert (f["sliding_window"], f["sliding_layers"], f["attention_sinks"]) == (128, 18, True)
    assert (f["vocab"], f["weights"]) == (201088, "mxfp4")
    assert "shared_experts" not in f and "dense_layers" not in f
    assert any("unquantised" in n for n in imported.notes)


def test_qwen3_5_maps_its_nested_text_model_to_linear_attention_fields() -> None:
    imported = import_config(CONFIGS / "qwen3_5_397b_a17b.json")
    f = imported.fields
    assert f["family"] == "qwen3_5_moe"
    assert (f["layers"], f["hidden"], f["heads"], f["kv_heads"], f["head_dim"]) == (60, 4096, 32, 2, 256)
    assert (f["experts"], f["experts_per_token"], f["moe_intermediate"], f["shared_experts"]) == (512, 10, 1024, 1)
    assert f["linear_layers"] == 45  # three linear layers before every full-attention one
    assert (f["linear_key_heads"], f["linear_value_heads"]) == (16, 64)
    assert (f["linear_key_head_dim"], f["linear_value_head_dim"], f["linear_conv_kernel"]) == (128, 128, 4)
    assert "sliding_window" not in f
    assert any("vision" in n for n in imported.notes) and any("attn_output_gate" in n for n in imported.notes)


def test_a_mistral_window_covers_every_layer_and_qwen_only_when_switched_on() -> None:
    base = json.loads((CONFIGS / "qwen3_32b.json").read_text())
    mistral = {**base, "model_type": "mistral", "sliding_window": 4096}
    del mistral["use_sliding_window"], mistral["max_window_layers"]
    assert map_config(mistral).fields["sliding_layers"] == 64
    assert "sliding_window" not in map_config({**base, "sliding_window": 4096}).fields
    on = map_config({**base, "use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 28}).fields
    assert (on["sliding_window"], on["sliding_layers"]) == (4096, 36)


def test_kimi_k2_5_reads_the_text_model_and_its_int4_experts() -> None:
    f = import_config(CONFIGS / "kimi_k2_5.json").fields
    assert (f["experts"], f["dense_layers"], f["heads"], f["vocab"]) == (384, 1, 64, 163840)
    assert (f["weights"], f["compute"]) == ("int4", "bf16")


def test_a_modelopt_nvfp4_checkpoint_maps_to_nvfp4_weights_and_an_fp8_kv_cache(tmp_path: Path) -> None:
    config = json.loads((CONFIGS / "llama3_1_70b.json").read_text())
    config["quantization_config"] = {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16,
                                     "kv_cache_quant_algo": "FP8", "exclude_modules": ["lm_head"],
                                     "producer": {"name": "modelopt", "version": "0.29.0"}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    imported = import_config(path)
    assert (imported.fields["weights"], imported.fields["kv"]) == ("nvfp4", "fp8")
    assert any("lm_head" in n for n in imported.notes)
    config["quantization_config"]["quant_algo"] = "W4A8_AWQ"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="quant_algo"):
        import_config(path)


# ----------------------------------------------------------------------------------------------------------
# Python API and CLI


def test_model_from_config_applies_overrides_and_compiles() -> None:
    m = infera.model_from_config(CONFIGS / "llama3_1_8b.json", weights="fp8", kv="fp8")
    assert m.name == "llama3_1_8b" and m.fields["weights"] == "fp8"
    shape = m.shape()
    assert (shape.weight_dtype, shape.kv_dtype, shape.params()) == ("fp8", "fp8", 8_030_261_248)
    plan = infera.compile_text("use chips.h200_sxm\n" + m.text + RUN.format(model="llama3_1_8b"))
    assert plan["models"]["weight_dtype"][0].as_py() == "fp8"


def test_model_from_config_names() -> None:
    assert infera.model_from_config(CONFIGS / "qwen3_32b.json", name="q").name == "q"
    assert infera.model_from_config(CONFIGS / "qwen3_32b.json").name == "qwen3_32b"
    from infera.model_import import default_name

    assert default_name("hf/Meta-Llama-3.1-8B/config.json") == "meta_llama_3_1_8b"
    assert default_name("7b.json") == "m_7b"
    with pytest.raises(ValueError, match="not a name"):
        infera.model_from_config(CONFIGS / "qwen3_32b.json", name="3x")


def test_a_bad_override_is_a_compile_error() -> None:
    with pytest.raises(infera.CompileError, match="unknown field 'layerz'"):
        infera.model_from_config(CONFIGS / "qwen3_32b.json", layerz=3)
    with pytest.raises(infera.CompileError, match="field 'weights' must be one of"):
        infera.model_from_config(CONFIGS / "qwen3_32b.json", weights="fp7")
    with pytest.raises(TypeError, match="override"):
        infera.model_from_config(CONFIGS / "qwen3_32b.json", layers=[1])


def test_cli_import_prints_a_block_that_compiles_to_the_same_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "import", str(CONFIGS / "deepseek_v3.json"), "--name", "deepseek_v3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# imported from") and "# not modelled: num_nextn_predict_layers = 1" in out
    assert "attention = mla" in out and 'family = "deepseek_v3"' in out
    hand = plan_of("use models.deepseek_v3\n", "deepseek_v3")
    printed = plan_of(out, "deepseek_v3")
    assert printed["operators"].equals(hand["operators"]) and printed["models"].equals(hand["models"])
