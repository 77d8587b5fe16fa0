"""Import-lightness, registration and bad-input checks (no ORTModule training here)."""

import json
import os
import subprocess
import sys

import pytest

from xporter.errors import PluginUnavailableError


def _run(code):
    # a fresh environment: earlier tests in this process applied the compat layer (it sets an env var)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORTMODULE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plugin_import_is_light_and_registers_tasks():
    result = _run(
        "import json, sys\n"
        "from xporter import TasksManager\n"
        "bert = sorted(TasksManager.get_supported_tasks_for_model_type('bert', 'ort_training'))\n"
        "gpt2 = sorted(TasksManager.get_supported_tasks_for_model_type('gpt2', 'ort_training'))\n"
        "heavy = [m for m in ('torch', 'transformers', 'onnx', 'onnxruntime') if m in sys.modules]\n"
        "print(json.dumps({'bert': bert, 'gpt2': gpt2, 'heavy': heavy}))\n"
    )
    assert result["heavy"] == []
    assert result["bert"] == ["fill-mask", "question-answering", "text-classification", "token-classification"]
    assert "text-generation" in result["gpt2"]


def test_compat_layer_not_applied_at_import():
    result = _run(
        "import json, sys, os\n"
        "import xporter_ort_training, xporter_ort_training.plugin, xporter_ort_training.trainer\n"
        "print(json.dumps({'aliased': 'torch.onnx._globals' in sys.modules,\n"
        "  'ortmodule': 'onnxruntime.training.ortmodule' in sys.modules,\n"
        "  'env': os.environ.get('ORTMODULE_ENABLE_CUSTOM_AUTOGRAD')}))\n"
    )
    assert result == {"aliased": False, "ortmodule": False, "env": None}


def test_config_declares_inputs_labels_and_head():
    from xporter_ort_training.configs import BertLikeOrtTrainingConfig, GPT2OrtTrainingConfig

    qa = BertLikeOrtTrainingConfig(object(), task="question-answering")
    assert qa.inputs == ("input_ids", "attention_mask", "token_type_ids")
    assert qa.labels == ("start_positions", "end_positions") and qa.head.kind == "span"
    assert GPT2OrtTrainingConfig(object(), task="text-generation").head.kind == "causal"


def test_unsupported_optimizer_is_refused(tmp_path):
    from xporter_ort_training import ORTTrainingArguments
    from xporter_ort_training.training_args import UnsupportedOptimizerError

    with pytest.raises(UnsupportedOptimizerError, match="adamw_ort_fused"):
        ORTTrainingArguments(output_dir=str(tmp_path), optim="adamw_fancy", report_to="none")


def test_zero3_is_refused_with_clear_message(tmp_path):
    from xporter_ort_training import ORTTrainingArguments
    from xporter_ort_training.training_args import UnsupportedDeepSpeedConfigError

    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    with pytest.raises(UnsupportedDeepSpeedConfigError, match="ZeRO stage 3"):
        ORTTrainingArguments(output_dir=str(tmp_path), deepspeed=str(config), report_to="none")


def test_missing_onnxruntime_training_names_install_command(monkeypatch, tmp_path):
    from xporter_ort_training import ORTTrainer, ORTTrainingArguments, runtime

    real = runtime._installed
    monkeypatch.setattr(runtime, "_installed", lambda names: [] if names == runtime.TRAINING_DISTRIBUTIONS else real(names))
    with pytest.raises(PluginUnavailableError, match="pip install onnxruntime-training-cpu==1.19.2"):
        ORTTrainer(model=None, args=ORTTrainingArguments(output_dir=str(tmp_path), report_to="none"))


def test_regular_onnxruntime_alongside_is_refused(monkeypatch):
    from xporter_ort_training import runtime

    real = runtime._installed
    monkeypatch.setattr(runtime, "_installed",
                        lambda names: ["onnxruntime==1.23.2"] if names == runtime.INFERENCE_DISTRIBUTIONS else real(names))
    with pytest.raises(PluginUnavailableError, match="pip uninstall -y onnxruntime onnxruntime-training-cpu"):
        runtime.check_environment()


def test_environment_is_clean_here():
    from xporter_ort_training import runtime

    runtime.check_environment()  # CI builds exactly this: training wheel, no regular onnxruntime
