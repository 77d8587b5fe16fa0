"""Model loading for export, with narrow imports.

``AutoModelFor*`` resolution imports transformers' whole auto machinery (seconds on a
loaded machine). When a local checkpoint's ``architectures`` already names a class for
the requested task, that class is imported directly (``transformers.BertModel`` resolves
only ``modeling_bert``). Everything else goes through ``TasksManager.get_model_from_task``.

Sentence-transformers checkpoints made of the standard Transformer -> Pooling ->
(Normalize) modules are rebuilt as :class:`SentenceEmbeddingPipeline` around the narrow-
loaded transformer, without importing sentence_transformers; the real-weights test checks
it against ``SentenceTransformer.encode``. Other module stacks load through the library.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from xporter.errors import ModelConfigError

from .files import read_json
from .load_report import captured_load_report, missing_head_weights

LIGHT_ST_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                    "sentence_transformers.models.Normalize"}
LIGHT_POOLING = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
# ``model_kwargs`` keys naming a separate checkpoint an export needs besides the model (Optimum's
# ``--model-kwargs '{"vocoder": ...}'`` for SpeechT5): key -> "module:function(source, dtype=,
# device=, cache_dir=)". They never reach ``from_pretrained``; the component is set on the model
# under the same attribute name, where the ONNX config's ``export_parts`` finds it.
COMPONENT_LOADERS = {"vocoder": "xporter_onnx.configs.speecht5:load_vocoder"}


def _dtype_kwargs(dtype: Optional[str]) -> Dict[str, Any]:
    """Always an explicit dtype: transformers 5 loads a checkpoint in its stored dtype by default, so an
    fp16 checkpoint asked for in fp32 would otherwise trace in fp16 under an fp32 config."""
    if not dtype:
        return {}
    from xporter.loading import dtype_kwargs

    return dtype_kwargs(dtype)


def narrow_class(folder: Path, task: str) -> Any:
    """The class named by ``architectures[0]`` when it serves ``task`` (else None)."""
    from xporter.inference import task_from_class_name

    config = read_json(folder / "config.json") or {}
    names = config.get("architectures") or []
    if not names or config.get("auto_map"):
        return None
    try:
        if task_from_class_name(names[0], config.get("model_type")) != task:
            return None
    except Exception:  # noqa: BLE001 - unknown suffix: use the generic path
        return None
    import transformers

    try:
        return getattr(transformers, names[0])
    except (AttributeError, ImportError, RuntimeError):
        return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def load_transformers(folder: Path, cls: Any, dtype: str, device: str, model_kwargs: Dict[str, Any]) -> Any:
    kwargs = {**_dtype_kwargs(dtype), **model_kwargs}
    if any(folder.glob("*.safetensors")):
        kwargs.setdefault("use_safetensors", True)
    try:
        model = cls.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelConfigError(f"cannot load {folder} as {cls.__name__}: {_first_line(exc)}",
                               "check the path and that the checkpoint is complete") from exc
    return model.to(device).eval()


@contextlib.contextmanager
def _checked_weights(model_name_or_path: Any, allow_random_head: bool) -> Iterator[Dict[str, Any]]:
    """Load inside the block; turn transformers' load report into one line (see :mod:`.load_report`).

    The caller stores the loaded model in ``holder["model"]``."""
    holder: Dict[str, Any] = {}
    with captured_load_report() as report:
        try:
            yield holder
        except RuntimeError as exc:  # shapes saved for another config (5.x: after the report; 4.x: in the text)
            report.parse(str(exc))
            if not report.mismatched:
                raise
            raise ModelConfigError(f"the weights in {model_name_or_path} do not fit its config.json "
                                   f"({len(report.mismatched)} mismatched, e.g. {report.mismatched[0]})",
                                   "restore the config.json the checkpoint was saved with") from exc
        except ModelConfigError:  # already one line with its fix (a ValueError too: not wrapped twice)
            raise
        except (TypeError, ValueError, AttributeError, IndexError) as exc:  # a config field transformers rejects
            raise ModelConfigError(f"cannot build the model from {model_name_or_path}: {type(exc).__name__}: "
                                   f"{_first_line(exc)}", "check config.json's fields for this model type") from exc
    model = holder.get("model")
    head = missing_head_weights(getattr(model, "auto_model", model), report.missing)
    if head and not allow_random_head:
        raise ModelConfigError(f"{model_name_or_path} has no weights for {type(model).__name__}'s task head "
                               f"({', '.join(head[:4])}{' ...' if len(head) > 4 else ''}): the export would ship a "
                               f"random head", "export the task the checkpoint was trained for (e.g. --task "
                               "feature-extraction), or pass --model-kwargs '{\"allow_random_head\": true}'")
    if model is not None and report.missing:
        with contextlib.suppress(AttributeError):
            model.xporter_missing_weights = list(report.missing)


def light_sentence_transformer_spec(folder: Path) -> Optional[Dict[str, Any]]:
    """Pooling/normalize settings when the checkpoint is a standard module stack, else None."""
    modules = read_json(folder / "modules.json")
    if not modules or any(m.get("type") not in LIGHT_ST_MODULES for m in modules):
        return None
    if not modules[0].get("type", "").endswith(".Transformer") or modules[0].get("path"):
        return None
    spec: Dict[str, Any] = {"pooling": None, "normalize": False}
    for module in modules[1:]:
        if module["type"].endswith(".Pooling"):
            pooling = read_json(folder / module["path"] / "config.json") or {}
            modes = [m for m in LIGHT_POOLING if pooling.get(f"pooling_mode_{m}")]
            others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v
                      and k[len("pooling_mode_"):] not in LIGHT_POOLING]
            if len(modes) != 1 or others or pooling.get("include_prompt") is False:
                return None
            spec["pooling"] = modes[0]
        else:
            spec["normalize"] = True
    return spec if spec["pooling"] else None


def load_model(model_name_or_path: Any, task: str, library: str, *, dtype: str = "fp32", device: str = "cpu",
               cache_dir: Optional[str] = None, trust_remote_code: bool = False,
               model_kwargs: Optional[Dict[str, Any]] = None, model_class: Optional[str] = None) -> Any:
    """Load the model to export; the narrow paths above first, the generic loader otherwise.

    ``model_class``: a transformers class name that serves ``task`` for this architecture
    where the core's task -> auto class table has none (an ONNX config's ``MODEL_CLASSES``).
    """
    model_kwargs = dict(model_kwargs or {})
    with _checked_weights(model_name_or_path, bool(model_kwargs.pop("allow_random_head", False))) as holder:
        holder["model"] = _load_model(model_name_or_path, task, library, dtype=dtype, device=device,
                                      cache_dir=cache_dir, trust_remote_code=trust_remote_code,
                                      model_kwargs=model_kwargs, model_class=model_class)
    return holder["model"]


def _load_model(model_name_or_path: Any, task: str, library: str, *, dtype: str, device: str,
                cache_dir: Optional[str], trust_remote_code: bool, model_kwargs: Dict[str, Any],
                model_class: Optional[str]) -> Any:
    from xporter import TasksManager

    components = {key: model_kwargs.pop(key) for key in list(model_kwargs) if key in COMPONENT_LOADERS}
    if components:
        model = load_model(model_name_or_path, task, library, dtype=dtype, device=device, cache_dir=cache_dir,
                           trust_remote_code=trust_remote_code, model_kwargs=model_kwargs, model_class=model_class)
        return attach_components(model, components, dtype=dtype, device=device, cache_dir=cache_dir)
    folder = Path(str(model_name_or_path))
    if folder.is_dir() and not trust_remote_code:
        if library == "transformers":
            cls = (TasksManager.get_model_class_for_task(task, model_class_name=model_class) if model_class
                   else narrow_class(folder, task))
            if cls is not None:
                return load_transformers(folder, cls, dtype, device, model_kwargs)
        elif library == "sentence_transformers":
            spec = light_sentence_transformer_spec(folder)
            cls = narrow_class(folder, "feature-extraction") if spec else None
            if cls is not None:
                inner = load_transformers(folder, cls, dtype, device, model_kwargs)
                return sentence_pipeline_class()(inner, spec["pooling"], spec["normalize"]).eval()
    if model_class and library == "transformers":
        model_kwargs["model_class_name"] = model_class  # the core loader's keyword for the same choice
    model = TasksManager.get_model_from_task(
        task, str(model_name_or_path), cache_dir=cache_dir, framework="pt", torch_dtype=dtype, device=device,
        library_name=library, trust_remote_code=trust_remote_code, **model_kwargs)
    model = TasksManager.standardize_model_attributes(model, library)
    return model.eval() if hasattr(model, "eval") else model


def attach_components(model: Any, components: Dict[str, Any], **options: Any) -> Any:
    """Load each ``COMPONENT_LOADERS`` entry of ``components`` and set it on ``model``."""
    import importlib

    for key, source in components.items():
        module, function = COMPONENT_LOADERS[key].split(":")
        setattr(model, key, getattr(importlib.import_module(module), function)(source, **options).eval())
    return model


_PIPELINE = None


def sentence_pipeline_class():
    """``SentenceEmbeddingPipeline``: transformer + pooling (+ L2 normalize), ST's forward contract."""
    global _PIPELINE
    if _PIPELINE is not None:
        return _PIPELINE
    import torch

    class SentenceEmbeddingPipeline(torch.nn.Module):
        """Takes ``{"input_ids", "attention_mask", ...}``; returns token_embeddings and sentence_embedding."""

        def __init__(self, auto_model, pooling: str, normalize: bool):
            super().__init__()
            self.auto_model = auto_model
            self.pooling = pooling
            self.normalize = normalize
            self.config = auto_model.config
            self.config.export_model_type = "transformer"

        def forward(self, features: Dict[str, Any]) -> Dict[str, Any]:
            inputs = {k: v for k, v in features.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            tokens = self.auto_model(**inputs, return_dict=True).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            if self.pooling == "cls_token":
                sentence = tokens[:, 0]
            elif self.pooling == "max_tokens":
                sentence = tokens.masked_fill(mask == 0, torch.finfo(tokens.dtype).min).max(dim=1).values
            else:
                summed = (tokens * mask).sum(dim=1)
                counts = mask.sum(dim=1).clamp(min=1e-9)
                sentence = summed / (counts.sqrt() if self.pooling == "mean_sqrt_len_tokens" else counts)
            if self.normalize:
                sentence = torch.nn.functional.normalize(sentence, p=2, dim=1)
            return {"token_embeddings": tokens, "sentence_embedding": sentence}

    _PIPELINE = SentenceEmbeddingPipeline
    return _PIPELINE
