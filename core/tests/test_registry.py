import pytest

from xporter import TasksManager, create_register
from xporter.errors import (RegistrationConflictError, UnknownBackendError, UnknownLibraryError,
                            UnknownModelTypeError, UnknownTaskError)
from xporter.registry import ConfigConstructor


class Config:
    def __init__(self, config, task="feature-extraction", use_past=False, use_past_in_inputs=False, **kwargs):
        self.config, self.task, self.use_past, self.use_past_in_inputs, self.kwargs = (
            config, task, use_past, use_past_in_inputs, kwargs)


class PastConfig(Config):
    SUPPORTS_PAST = True


def test_register_and_lookup_in_process(isolated):
    register = TasksManager.create_register("new-backend")

    @register("bert", "text-classification", "token-classification")
    class BertNewBackendConfig(Config):
        pass

    tasks = TasksManager.get_supported_tasks_for_model_type("bert", "new-backend")
    assert list(tasks) == ["text-classification", "token-classification"]
    built = tasks["text-classification"]({"hidden_size": 4})
    assert isinstance(built, BertNewBackendConfig) and built.task == "text-classification"
    assert TasksManager.get_supported_model_type_for_task("token-classification", "new-backend") == ["bert"]


def test_module_level_create_register_uses_default_registry(isolated):
    registry, _ = isolated
    # the fixture swaps TasksManager.registry; the module-level helper writes the global default
    from xporter.registry import DEFAULT_REGISTRY

    create_register("module-backend")("bert", "fill-mask")(Config)
    assert "fill-mask" in DEFAULT_REGISTRY.tasks_for("bert", "module-backend")
    DEFAULT_REGISTRY.clear_backend("module-backend")


def test_synonyms_are_canonicalized_at_registration(isolated):
    TasksManager.create_register("b")("gpt2", "default", "causal-lm-with-past")(PastConfig)
    tasks = TasksManager.get_supported_tasks_for_model_type("gpt2", "b")
    assert set(tasks) == {"feature-extraction", "text-generation-with-past"}


def test_with_past_constructor_sets_use_past(isolated):
    TasksManager.create_register("b")("gpt2", "text-generation", "text-generation-with-past")(PastConfig)
    tasks = TasksManager.get_supported_tasks_for_model_type("gpt2", "b")
    plain, past = tasks["text-generation"]({}), tasks["text-generation-with-past"]({})
    assert (plain.task, plain.use_past) == ("text-generation", False)
    assert (past.task, past.use_past, past.use_past_in_inputs) == ("text-generation", True, True)
    assert tasks["text-generation-with-past"].use_past is True


def test_with_past_refused_for_config_without_past(isolated):
    with pytest.raises(RegistrationConflictError, match="does not support a key/value cache"):
        TasksManager.create_register("b")("gpt2", "text-generation-with-past")(Config)


def test_unknown_task_at_registration_lists_known(isolated):
    with pytest.raises(UnknownTaskError) as info:
        TasksManager.create_register("b")("bert", "text-clasification")(Config)
    assert "did you mean 'text-classification'" in str(info.value)
    assert "valid tasks:" in str(info.value)


def test_duplicate_registration_raises_unless_overwrite(isolated):
    TasksManager.create_register("b")("bert", "fill-mask")(Config)

    class Other(Config):
        pass

    with pytest.raises(RegistrationConflictError, match="already registered.*overwrite_existing=True"):
        TasksManager.create_register("b")("bert", "fill-mask")(Other)
    TasksManager.create_register("b", overwrite_existing=True)("bert", "fill-mask")(Other)
    assert TasksManager.get_supported_tasks_for_model_type("bert", "b")["fill-mask"].config_class is Other


def test_reregistering_same_class_is_idempotent(isolated):
    TasksManager.create_register("b")("bert", "fill-mask")(Config)
    TasksManager.create_register("b")("bert", "fill-mask")(Config)


def test_model_type_normalization(isolated):
    TasksManager.create_register("b")("gpt_neox", "text-generation")(Config)
    assert "text-generation" in TasksManager.get_supported_tasks_for_model_type("gpt-neox", "b")


def test_library_specific_registration(isolated):
    TasksManager.create_register("b")("transformer", "sentence-similarity", library_name="sentence_transformers")(Config)
    assert TasksManager.get_supported_tasks_for_model_type("transformer", "b", library_name="sentence_transformers")
    with pytest.raises(UnknownModelTypeError):
        TasksManager.get_supported_tasks_for_model_type("transformer", "b")
    with pytest.raises(UnknownLibraryError, match="valid librarys|valid library"):
        TasksManager.create_register("b")("x", "fill-mask", library_name="keras-hub")(Config)


def test_unknown_model_type_message_names_fix(isolated):
    TasksManager.create_register("b")("distilbert", "fill-mask")(Config)
    with pytest.raises(UnknownModelTypeError) as info:
        TasksManager.get_supported_tasks_for_model_type("distilbrt", "b")
    text = str(info.value)
    assert "did you mean 'distilbert'" in text and "create_register('b')" in text


def test_unknown_backend(isolated):
    TasksManager.create_register("b")("distilbert", "fill-mask")(Config)
    with pytest.raises(UnknownBackendError, match="unknown backend 'onxx'.*valid backends: b"):
        TasksManager.get_supported_tasks_for_model_type("distilbert", "onxx")


def test_get_exporter_config_constructor(isolated):
    TasksManager.create_register("b")("bert", "text-classification")(Config)
    ctor = TasksManager.get_exporter_config_constructor("b", model_type="bert", task="sequence-classification",
                                                        exporter_config_kwargs={"int_dtype": "int32"})
    assert isinstance(ctor, ConfigConstructor)
    built = ctor({})
    assert built.kwargs == {"int_dtype": "int32"} and built.task == "text-classification"
    with pytest.raises(UnknownTaskError, match="unsupported task for 'bert' on 'b'.*valid"):
        TasksManager.get_exporter_config_constructor("b", model_type="bert", task="fill-mask")


def test_get_exporter_config_constructor_from_model_instance(isolated):
    TasksManager.create_register("b")("transformer", "feature-extraction", library_name="sentence_transformers")(Config)

    class FakeConfig:
        model_type = "bert"
        export_model_type = "transformer"

    class SentenceTransformer:  # the library is inferred from the defining module
        __module__ = "sentence_transformers.SentenceTransformer"
        config = FakeConfig()

    ctor = TasksManager.get_exporter_config_constructor("b", model=SentenceTransformer())
    assert ctor.task == "feature-extraction"
