"""A config derived from the model's own class, for transformers types the tables lack.

Most architectures transformers adds are a standard head on a standard body: a
``…ForCausalLM`` decoder with a key/value cache, a BERT-like encoder under
``…ForSequenceClassification``, a vision backbone under ``…ForImageClassification``. For
those, the mid-level bases of :mod:`xporter_onnx.modalities` already know the inputs and
outputs; what a table row adds is only the name and the test data. So an export of an
unregistered type does not have to stop at "unsupported": :func:`generic_config` picks the
base from the task and from the model class's ``main_input_name`` (what its forward takes
first: token ids, pixels, a waveform or filter-bank features) and the exporter uses it.

A generic config is a guess, so it is never trusted unvalidated: the exporter refuses it
with ``validate=False``, writes nothing when validation fails, and says on stderr and in the
report (``generic_config``) that it was used. Types whose head is none of these (seq2seq,
vision-language, detection heads with their own post-processing) get one line naming why.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from xporter.errors import UnknownModelTypeError

DECODER_TASKS = ("text-generation", "text-generation-with-past")
TEXT_TASKS = ("feature-extraction", "fill-mask", "text-classification", "token-classification",
              "question-answering", "multiple-choice")
VISION_TASKS = ("feature-extraction", "image-classification", "depth-estimation", "semantic-segmentation",
                "image-segmentation", "masked-im")
AUDIO_TASKS = ("feature-extraction", "automatic-speech-recognition", "audio-classification",
               "audio-frame-classification", "audio-xvector")
FIX = "register a config with TasksManager.create_register (ARCHITECTURE.md) or pass custom_onnx_config"


def model_class_for(model_type: str, task: str) -> Any:
    """The concrete transformers class ``task`` loads for ``model_type`` (e.g. ``LlamaForCausalLM``)."""
    import transformers
    from xporter import TasksManager

    from .transformers_names import transformers_spelling

    auto_class = TasksManager.get_model_class_for_task(task.replace("-with-past", ""), model_type=model_type)
    names = getattr(getattr(auto_class, "_model_mapping", None), "_model_mapping", {}) or {}
    name = names.get(transformers_spelling(model_type))
    if isinstance(name, (list, tuple)):
        name = name[0]
    return getattr(transformers, name, None) if name else None


def _base_for(task: str, main_input: str, config: Any) -> Tuple[type, dict]:
    """(base class, class attributes) for a head whose forward takes ``main_input`` first."""
    from .configs.decoder import DecoderOnnxConfig
    from .modalities import AudioFeaturesOnnxConfig, AudioOnnxConfig, TextEncoderOnnxConfig, VisionOnnxConfig

    if getattr(config, "is_encoder_decoder", False):
        raise UnknownModelTypeError("encoder-decoder models need a seq2seq config (encoder and decoder graphs)")
    if task in DECODER_TASKS and main_input == "input_ids":
        return DecoderOnnxConfig, {}
    if main_input == "input_ids" and task in TEXT_TASKS + ("text-generation",):
        return TextEncoderOnnxConfig, {"OPTIONAL_TOKEN_TYPE_IDS": True}
    if main_input == "pixel_values" and task in VISION_TASKS:
        return VisionOnnxConfig, {}
    if main_input == "input_values" and task in AUDIO_TASKS:
        return AudioOnnxConfig, {}
    if main_input == "input_features" and task in AUDIO_TASKS:
        return AudioFeaturesOnnxConfig, {}
    raise UnknownModelTypeError(f"no generic config for task '{task}' on a model whose input is '{main_input}'")


def generic_config(model_type: str, task: str, config: Any) -> type:
    """An OnnxConfig class for ``model_type``/``task`` derived from the model class, or
    :class:`UnknownModelTypeError` naming why there is none (and the fix)."""
    model_class = model_class_for(model_type, task)
    if model_class is None:
        raise UnknownModelTypeError(f"'{model_type}' has no transformers class for task '{task}'; {FIX}")
    main_input = getattr(model_class, "main_input_name", "input_ids")
    try:
        base, attrs = _base_for(task, main_input, config)
    except UnknownModelTypeError as exc:
        raise UnknownModelTypeError(f"'{model_type}' ({model_class.__name__}) is not registered and {exc}; {FIX}")
    name = f"Generic{model_class.__name__}OnnxConfig"
    doc = (f"Generic ONNX config for unregistered ``{model_type}``: {base.__name__} chosen from "
           f"{model_class.__name__} (main input ``{main_input}``).")
    return type(name, (base,), dict(attrs, __doc__=doc, __module__=__name__, GENERIC_FROM=model_class.__name__))


def describe(cls: type) -> Optional[str]:
    """The report's ``generic_config`` line for a class made here, None for any other class."""
    source = getattr(cls, "GENERIC_FROM", None)
    if source is None or cls.__module__ != __name__:
        return None
    return f"{cls.__mro__[1].__name__} derived from {source} (model type not registered)"


def resolve(model_name_or_path: Any, task: str, model_type: str, library: str, cache_dir: Any, validate: bool,
            unregistered: UnknownModelTypeError) -> Tuple[str, type]:
    """(task, generic config class) for an export the registry refused with ``unregistered``.

    Only transformers models get one, and only validated: otherwise the registry's own error stands
    (with the generic path's reason added), so nothing unverified is written. A causal LM's
    ``text-generation`` becomes ``text-generation-with-past``, the cached graph registered decoders get.
    """
    import sys

    from transformers import AutoConfig
    from xporter import TasksManager
    from xporter.registry import supports_past

    from .transformers_names import transformers_knows, transformers_spelling

    if library != "transformers" or not transformers_knows(model_type):
        raise unregistered
    if not validate:
        raise UnknownModelTypeError(f"{unregistered}; a generic config was possible but is only used validated: "
                                    "drop --no-validate, or register a config")
    if task in (None, "", "auto"):
        task = TasksManager.infer_task_from_model(str(model_name_or_path), cache_dir=cache_dir, library_name=library)
    task = TasksManager.map_from_synonym(task)
    cls = generic_config(model_type, task, AutoConfig.for_model(transformers_spelling(model_type)))
    if task == "text-generation" and supports_past(cls):
        task = "text-generation-with-past"
    print(f"warning: '{model_type}' is not registered for ONNX; using a generic config "
          f"({describe(cls)}), validated against PyTorch before anything is written", file=sys.stderr)
    return task, cls
