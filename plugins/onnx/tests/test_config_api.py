"""The config base API (seed 002) without exporting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from xporter import TasksManager


def test_plugin_import_is_light():
    code = ("import sys; from xporter import TasksManager; "
            "t = TasksManager.get_supported_tasks_for_model_type('distilbert', 'onnx'); "
            "assert 'question-answering' in t; "
            "heavy = [m for m in ('torch', 'transformers', 'onnx', 'onnxruntime', 'tensorflow') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_dummy_input_defaults_and_overrides():
    from transformers import BertConfig, ViTConfig, Wav2Vec2Config

    bert = TasksManager.get_exporter_config_constructor("onnx", model_type="bert", task="multiple-choice")(BertConfig())
    dummy = bert.generate_dummy_inputs()
    assert dummy["input_ids"].shape == (2, 4, 16)
    assert bert.generate_dummy_inputs(batch_size=3, sequence_length=5, num_choices=2)["input_ids"].shape == (3, 2, 5)
    assert bert.inputs["input_ids"] == {0: "batch_size", 1: "num_choices", 2: "sequence_length"}
    vit = TasksManager.get_exporter_config_constructor("onnx", model_type="vit", task="image-classification")(
        ViTConfig(image_size=64))
    assert vit.generate_dummy_inputs(framework="np")["pixel_values"].shape == (2, 3, 64, 64)
    w2v = TasksManager.get_exporter_config_constructor("onnx", model_type="wav2vec2", task="feature-extraction")(
        Wav2Vec2Config())
    assert w2v.generate_dummy_inputs()["input_values"].shape == (2, 16000)


def test_optimum_output_names():
    from transformers import BertConfig

    def outputs(task):
        return list(TasksManager.get_exporter_config_constructor("onnx", model_type="bert", task=task)(BertConfig()).outputs)

    assert outputs("feature-extraction") == ["last_hidden_state"]
    assert outputs("question-answering") == ["start_logits", "end_logits"]
    assert outputs("token-classification") == ["logits"]


def test_normalized_config_mapping():
    from types import SimpleNamespace

    from xporter_onnx.normalized import NormalizedTextConfig

    gpt2_like = NormalizedTextConfig.with_args(num_layers="n_layer", hidden_size="n_embd", num_attention_heads="n_head")
    cfg = gpt2_like(SimpleNamespace(n_layer=3, n_embd=64, n_head=4, vocab_size=10))
    assert (cfg.num_layers, cfg.hidden_size, cfg.num_key_value_heads, cfg.head_dim) == (3, 64, 4, 16)
    with pytest.raises(AttributeError):
        cfg.not_there


def test_past_key_values_and_behavior():
    from types import SimpleNamespace

    from xporter_onnx import ConfigBehavior, TextDecoderOnnxConfig, TextSeq2SeqOnnxConfig

    cfg = SimpleNamespace(num_hidden_layers=2, hidden_size=8, num_attention_heads=2, vocab_size=10)
    dec = TextDecoderOnnxConfig(cfg, task="text-generation", use_past=True, use_past_in_inputs=True)
    assert "past_key_values.1.value" in dec.inputs and "present.0.key" in dec.outputs
    dummy = dec.generate_dummy_inputs(batch_size=2, sequence_length=3)
    assert dummy["past_key_values.0.key"].shape == (2, 2, 3, 4) and dummy["attention_mask"].shape == (2, 6)
    s2s = TextSeq2SeqOnnxConfig(cfg, task="text2text-generation", use_past=True)
    enc = s2s.with_behavior("encoder")
    assert enc.behavior is ConfigBehavior.ENCODER and list(enc.outputs) == ["last_hidden_state"]
    d = s2s.with_behavior(ConfigBehavior.DECODER, use_past=True, use_past_in_inputs=True)
    assert "past_key_values.0.encoder.key" in d.inputs and "encoder_outputs" in d.inputs
    parts = [p.name for p in s2s.export_parts(SimpleNamespace(get_encoder=lambda: "enc"))]
    assert parts == ["encoder_model", "decoder_model", "decoder_with_past_model"]


def test_atol_per_task():
    from types import SimpleNamespace

    from xporter_onnx import TextEncoderOnnxConfig

    class Cfg(TextEncoderOnnxConfig):
        ATOL_FOR_VALIDATION = {"fill-mask": 1e-3, "default": 1e-5}

    cfg = SimpleNamespace(vocab_size=10, type_vocab_size=2)
    assert Cfg(cfg, task="fill-mask").atol_for_validation == 1e-3
    assert Cfg(cfg, task="text-classification").atol_for_validation == 1e-5


def test_every_reference_task_of_required_types_is_registered():
    import json
    from pathlib import Path

    reference = json.loads((Path(__file__).resolve().parents[3] / "tests" / "reference"
                            / "optimum-onnx-support.json").read_text())
    required = ["bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta",
                "deberta-v2", "mpnet", "mobilebert", "modernbert", "vit", "deit", "beit", "convnext", "resnet", "swin",
                "dinov2", "segformer", "detr", "yolos", "mobilevit", "wav2vec2", "hubert", "wavlm", "siglip"]
    for model_type in required:
        wanted = set(reference[f"transformers:{model_type}"])
        have = set(TasksManager.get_supported_tasks_for_model_type(model_type, "onnx"))
        assert wanted <= have, (model_type, wanted - have)
    st = set(TasksManager.get_supported_tasks_for_model_type("transformer", "onnx", library_name="sentence_transformers"))
    assert st == set(reference["sentence_transformers:transformer"])


# -- named config classes ------------------------------------------------------------------

def test_configs_package_import_is_lazy():
    """``import xporter_onnx.configs`` reads no table; naming a class builds them, still without frameworks."""
    code = ("import sys; import xporter_onnx.configs as c; "
            "tables = [m for m in sys.modules if m.startswith('xporter_onnx.configs.')]; assert not tables, tables; "
            "from xporter_onnx.configs import BertOnnxConfig, LlamaOnnxConfig; "
            "heavy = [m for m in ('torch', 'transformers', 'onnx', 'onnxruntime') if m in sys.modules]; "
            "assert not heavy, heavy; assert 'BertOnnxConfig' in dir(c) and 'GPT2OnnxConfig' in c.__all__")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_named_classes_are_the_registered_ones():
    import xporter_onnx.configs as configs
    from xporter_onnx.configs import (BertOnnxConfig, GPT2OnnxConfig, LlamaOnnxConfig, T5OnnxConfig,
                                      XLMRobertaOnnxConfig)

    constructor = TasksManager.get_exporter_config_constructor("onnx", model_type="bert", task="fill-mask")
    assert constructor.config_class is BertOnnxConfig and BertOnnxConfig.__name__ == "BertOnnxConfig"
    assert BertOnnxConfig.__module__ == "xporter_onnx.configs"
    for cls, model_type in ((GPT2OnnxConfig, "gpt2"), (LlamaOnnxConfig, "llama"), (T5OnnxConfig, "t5"),
                            (XLMRobertaOnnxConfig, "xlm-roberta")):
        tasks = TasksManager.get_supported_tasks_for_model_type(model_type, "onnx")
        assert {c.config_class for c in tasks.values()} == {cls}, model_type
    checked = 0
    for row in configs.all_architectures():
        cls = getattr(configs, row.class_name)
        assert cls is row.config_class and cls.__name__ == row.class_name, row
        supported = TasksManager.get_supported_tasks_for_model_type(row.model_type, "onnx", library_name=row.library)
        for task in row.tasks:
            assert supported[task].config_class is cls, (row.model_type, task)
            checked += 1
    assert checked > 500
    with pytest.raises(AttributeError):
        configs.NotAnArchitectureOnnxConfig


def test_no_two_rows_share_a_class_name():
    from xporter_onnx.configs import name_collisions

    collisions = {name: [(r.library, r.model_type, r.base.__name__) for r in rows]
                  for name, rows in name_collisions().items()}
    assert not collisions, f"give one of these rows an explicit Arch(name=...): {collisions}"


def test_collisions_are_detected():
    from xporter_onnx import TextEncoderOnnxConfig, VisionOnnxConfig
    from xporter_onnx.configs import Arch

    first = Arch("probe-a", ("feature-extraction",), TextEncoderOnnxConfig, dict(ATOL_FOR_VALIDATION=1e-3), name="ProbeOnnxConfig")
    second = Arch("probe-b", ("feature-extraction",), VisionOnnxConfig, dict(ATOL_FOR_VALIDATION=1e-3), name="ProbeOnnxConfig")
    assert first.config_class.__name__ == second.config_class.__name__ and first.config_class is not second.config_class


def test_class_names_follow_transformers_config_classes():
    """The stored spellings (configs/class_names.py) agree with the installed transformers."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    from xporter_onnx.configs import all_architectures
    from xporter_onnx.configs.class_names import EXPLICIT_NAMES, TRANSFORMERS_SPELLINGS

    wrong, unnamed = {}, []
    for row in all_architectures():
        if row.name or row.model_class or (row.library, row.model_type) in EXPLICIT_NAMES:
            continue
        keys = (row.model_type, row.model_type.replace("-", "_"), row.model_type.replace("_", "-"))
        config_class = next((CONFIG_MAPPING_NAMES[k] for k in keys if k in CONFIG_MAPPING_NAMES), None)
        if config_class is None:
            if not any(k in TRANSFORMERS_SPELLINGS for k in keys):  # not even a type transformers dropped
                unnamed.append((row.library, row.model_type))
        elif row.class_name != config_class[: -len("Config")] + "OnnxConfig":
            wrong[row.model_type] = (row.class_name, config_class)
    assert not wrong, f"update TRANSFORMERS_SPELLINGS: {wrong}"
    if int(transformers.__version__.split(".")[0]) < 5:
        unnamed = []  # types newer than this transformers are unknown here; the 5.x run checks them
    assert not unnamed, f"not a transformers type: give these rows Arch(name=...) or an EXPLICIT_NAMES entry: {unnamed}"


def test_optimum_class_names_are_importable():
    """Code written against Optimum's class names imports the same names here."""
    import json
    from pathlib import Path

    import xporter_onnx.configs as configs

    reference = json.loads((Path(__file__).resolve().parents[3] / "tests" / "reference"
                            / "optimum-onnx-support.json").read_text())
    registered = {(row.library, row.model_type) for row in configs.all_architectures()}
    missing = {key: name for key, tasks in reference.items() for name in set(tasks.values())
               if tuple(key.split(":", 1)) in registered and not hasattr(configs, name)}
    assert not missing, missing


def test_subclass_of_a_named_config_exports_an_extra_output(tiny_bert_dir, tmp_path):
    """Optimum's customization recipe: subclass BertOnnxConfig, add an output, export with it."""
    import onnx

    import xporter_onnx
    from xporter_onnx.configs import BertOnnxConfig

    class BertWithPoolerOnnxConfig(BertOnnxConfig):
        @property
        def outputs(self):
            outputs = super().outputs
            outputs["pooler_output"] = {0: "batch_size"}
            return outputs

    report = xporter_onnx.export(tiny_bert_dir, tmp_path / "out", task="feature-extraction",
                                 custom_onnx_config=BertWithPoolerOnnxConfig)
    assert report.ok and list(report.parts["model"]["outputs"]) == ["last_hidden_state", "pooler_output"]
    graph = onnx.load(str(tmp_path / "out" / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["last_hidden_state", "pooler_output"]
    checked = {c.name: c for v in report.validation for c in v.outputs}
    assert checked["pooler_output"].ok and checked["pooler_output"].max_abs_diff < 1e-4


# -- one report schema -----------------------------------------------------------------------

def test_json_report_of_a_pytorch_export_follows_the_schema(tiny_bert_dir, tmp_path, capsys):
    """``xporter export onnx --json`` and export_report.json validate against xporter's one report schema."""
    import json

    import jsonschema

    from xporter.cli.main import main
    from xporter.report import SCHEMA_VERSION, schema

    out = tmp_path / "out"
    assert main(["export", "onnx", "-m", str(tiny_bert_dir), str(out), "--json", "--sequence-length", "8"]) == 0
    printed = json.loads(capsys.readouterr().out)
    jsonschema.validate(printed, schema())
    jsonschema.validate(json.loads((out / "export_report.json").read_text()), schema())
    assert printed["schema_version"] == SCHEMA_VERSION and (printed["backend"], printed["framework"]) == ("onnx", "pt")
    assert printed["ok"] is True and printed["opset"] and printed["max_abs_diff"] < 1e-3
    assert printed["validation"][0]["outputs"][0]["shape"] == printed["validation"][0]["outputs"][0]["reference_shape"]
