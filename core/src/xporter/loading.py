"""Load a model for a task, safely: safetensors first, no remote code unless asked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional, Union

from . import hub
from .errors import ModelConfigError, ModelNotFoundError, XporterError
from .frameworks import determine_framework
from .inference import infer_library
from .model_classes import get_model_class_for_task
from .registry import canonical_task


def _model_type(model_name_or_path, subfolder, cache_dir, revision, token) -> Optional[str]:
    config = hub.read_json_file(model_name_or_path, "config.json", subfolder, cache_dir, revision, token)
    return (config or {}).get("model_type")


def dtype_kwargs(torch_dtype: Any) -> dict:
    """``from_pretrained`` kwargs for a dtype (torch dtype, "auto", or "fp32"/"fp16"/"bf16").

    transformers >= 4.56 calls the argument ``dtype``; older releases ``torch_dtype``.
    """
    if torch_dtype is None:
        return {}
    import transformers
    from packaging.version import Version

    if isinstance(torch_dtype, str) and torch_dtype != "auto":
        import torch

        torch_dtype = getattr(torch, {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}.get(torch_dtype, torch_dtype))
    key = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return {key: torch_dtype}


def _pytorch_from_tf_checkpoint(model_class, model_name_or_path, kwargs, device):
    """A PyTorch model from TF weights only.

    ``from_pretrained(..., from_tf=True)`` leaves the model on the meta device with
    transformers 4.57, so build the PyTorch model from its config, load the TF model and
    copy the weights across with transformers' own converter.
    """
    import transformers
    from transformers import AutoConfig
    from transformers.modeling_tf_pytorch_utils import load_tf2_model_in_pytorch_model

    config = AutoConfig.from_pretrained(model_name_or_path, **{k: v for k, v in kwargs.items() if k in
                                                                ("subfolder", "revision", "cache_dir", "token")})
    pt_model = model_class.from_config(config)
    tf_class = getattr(transformers, "TF" + type(pt_model).__name__, None)
    if tf_class is None:
        raise ModelConfigError(f"no TensorFlow class TF{type(pt_model).__name__} to read {model_name_or_path}",
                               "convert the checkpoint to PyTorch first, or export with --framework tf")
    tf_model = tf_class.from_pretrained(model_name_or_path, **{k: v for k, v in kwargs.items() if k in
                                                               ("subfolder", "revision", "cache_dir", "token")})
    load_tf2_model_in_pytorch_model(pt_model, tf_model)
    return pt_model.to(device or "cpu").eval()


def load_transformers_model(task, model_name_or_path, subfolder, revision, cache_dir, token, framework,
                            torch_dtype, device, **model_kwargs):
    model_type = _model_type(model_name_or_path, subfolder, cache_dir, revision, token)
    model_class = get_model_class_for_task(task, framework, model_type=model_type,
                                           model_class_name=model_kwargs.pop("model_class_name", None))
    kwargs = dict(subfolder=subfolder, revision=revision, cache_dir=cache_dir, token=token)
    kwargs["trust_remote_code"] = model_kwargs.pop("trust_remote_code", False)
    files = hub.get_model_files(model_name_or_path, subfolder, cache_dir, revision, token)
    if framework == "pt":
        kwargs.update(dtype_kwargs(torch_dtype))
        if any(f.endswith(".safetensors") for f in files):
            kwargs["use_safetensors"] = True  # never fall back to pickle when safetensors exist
        elif any(f.endswith(".h5") for f in files) and not any(f.endswith(".bin") for f in files):
            return _pytorch_from_tf_checkpoint(model_class, model_name_or_path, kwargs, device)
    else:
        if not any(f.endswith(".h5") for f in files):
            kwargs["from_pt"] = True  # PyTorch weights into a TF model is a supported conversion
    kwargs.update(model_kwargs)
    try:
        model = model_class.from_pretrained(model_name_or_path, **kwargs)
    except Exception as exc:  # corrupt weights raise library-specific errors (e.g. SafetensorError)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelConfigError(f"cannot load {model_name_or_path} as {model_class.__name__}: {first_line}",
                               "check the path, the task (--task) and that the checkpoint is complete") from exc
    if framework == "pt":
        model = model.to(device or "cpu").eval()
    return model


def load_sentence_transformers_model(model_name_or_path, revision, cache_dir, token, device, **model_kwargs):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        str(model_name_or_path), device=str(device or "cpu"), cache_folder=cache_dir, revision=revision, token=token,
        trust_remote_code=model_kwargs.pop("trust_remote_code", False),
    ).eval()


def load_timm_model(model_name_or_path, device, **model_kwargs):
    import timm

    path = Path(str(model_name_or_path))
    if path.is_dir():
        config = hub.read_json_file(path, "config.json") or {}
        arch = config.get("architecture")
        if not arch:
            raise ModelConfigError(f"{path}/config.json has no 'architecture'", "is this a timm checkpoint?")
        weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
        overlay = {"file": str(weights)} if weights else None
        model = timm.create_model(arch, pretrained=weights is not None, pretrained_cfg_overlay=overlay,
                                  num_classes=config.get("num_classes"))
    else:
        model = timm.create_model(f"hf-hub:{model_name_or_path}", pretrained=True)
    return model.to(device or "cpu").eval()


def load_diffusers_pipeline(model_name_or_path, revision, cache_dir, token, torch_dtype, device, **model_kwargs):
    import diffusers

    kwargs = dict(revision=revision, cache_dir=cache_dir, token=token, use_safetensors=None)
    if torch_dtype is not None:
        kwargs["torch_dtype"] = torch_dtype
    pipeline = diffusers.DiffusionPipeline.from_pretrained(model_name_or_path, **kwargs)
    return pipeline.to(device or "cpu")


def get_model_from_task(
    task: str,
    model_name_or_path: Union[str, Path],
    subfolder: str = "",
    revision: Optional[str] = None,
    cache_dir: Optional[str] = None,
    token: Optional[Union[bool, str]] = None,
    framework: Optional[str] = None,
    torch_dtype: Any = None,
    device: Any = None,
    library_name: Optional[str] = None,
    **model_kwargs: Any,
):
    """See :meth:`xporter.TasksManager.get_model_from_task`."""
    task = canonical_task(task)
    framework = framework or determine_framework(model_name_or_path, subfolder, revision, cache_dir, token)
    library_name = library_name or infer_library(model_name_or_path, subfolder, revision, cache_dir, token)
    if library_name == "sentence_transformers" and task.split("-with-past")[0] not in ("feature-extraction", "sentence-similarity"):
        library_name = "transformers"  # e.g. a sentence-transformers repo loaded for fill-mask
    try:
        if library_name == "transformers":
            return load_transformers_model(task, model_name_or_path, subfolder, revision, cache_dir, token, framework,
                                           torch_dtype, device, **model_kwargs)
        if library_name == "sentence_transformers":
            return load_sentence_transformers_model(model_name_or_path, revision, cache_dir, token, device, **model_kwargs)
        if library_name == "timm":
            return load_timm_model(model_name_or_path, device, **model_kwargs)
        return load_diffusers_pipeline(model_name_or_path, revision, cache_dir, token, torch_dtype, device, **model_kwargs)
    except XporterError:
        raise
    except ImportError as exc:
        raise ModelConfigError(f"loading a {library_name} model needs a missing package: {exc}",
                               f"pip install {library_name.replace('_', '-')}") from exc


def standardize_model_attributes(model: Any, library_name: Optional[str] = None) -> Any:
    """Give non-transformers models a transformers-style ``config`` with ``export_model_type``.

    sentence-transformers: the inner transformer's config, export model type ``transformer``
    (``clip`` for CLIP-based models); timm: its pretrained_cfg, ``default-timm-config``;
    diffusers: the pipeline config, typed by pipeline class.
    """
    from .inference import library_from_object

    library_name = library_name or library_from_object(model)
    if library_name == "sentence_transformers":
        first = model[0]
        inner = getattr(first, "auto_model", None) or getattr(first, "model", None)
        config = getattr(inner, "config", None)
        if config is None:
            raise ModelConfigError("this sentence-transformers model has no transformers config", "export its inner model")
        model.config = config
        is_clip = type(first).__name__ == "CLIPModel" or getattr(config, "model_type", "") == "clip"
        model.config.export_model_type = "clip" if is_clip else "transformer"
    elif library_name == "timm":
        cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
        model.config = SimpleNamespace(
            model_type="default-timm-config", export_model_type="default-timm-config",
            num_channels=cfg.get("input_size", (3, 224, 224))[0], image_size=cfg.get("input_size", (3, 224, 224))[-1],
            num_labels=getattr(model, "num_classes", cfg.get("num_classes")), pretrained_cfg=cfg,
            to_dict=lambda: dict(cfg),
        )
    elif library_name == "diffusers":
        model.config.export_model_type = type(model).__name__
    return model
