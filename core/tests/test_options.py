"""The export contract of the core: frozen option objects (xporter.options) and the typed registrar
a plugin's ``xporter_register_configs`` receives (xporter.registry.Registrar)."""

from __future__ import annotations

import dataclasses
import types

import pytest

from xporter import ExportOptions, OnnxExportOptions, Registrar, hookimpl
from xporter.arguments import ArgumentError
from xporter.errors import RegistrationConflictError, UnknownTaskError


def test_options_are_frozen_all_the_way_down():
    options = OnnxExportOptions(opset=18, shapes={"batch_size": 1, "sequence_length": None},
                                model_kwargs={"attn_implementation": "eager"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.opset = 17
    with pytest.raises(TypeError):
        options.shapes["batch_size"] = 4  # the mapping is read-only too: one object is shared down the chain
    with pytest.raises(TypeError):
        options.model_kwargs["revision"] = "x"
    assert dict(options.shapes) == {"batch_size": 1}  # None means "not asked for"


def test_replace_makes_a_checked_copy():
    options = OnnxExportOptions(shapes={"batch_size": 2})
    changed = options.replace(opset=17)
    assert (changed.opset, options.opset, dict(changed.shapes)) == (17, None, {"batch_size": 2})
    with pytest.raises(ArgumentError, match="--batch-size must be a positive integer"):
        options.replace(shapes={"batch_size": 0})


def test_from_kwargs_sorts_fields_from_shapes_and_refuses_typos():
    options = OnnxExportOptions.from_kwargs(task="fill-mask", opset=18, batch_size=1, image_width=32)
    assert options.task == "fill-mask" and options.opset == 18
    assert dict(options.shapes) == {"batch_size": 1, "width": 32}  # Optimum's image_width alias
    with pytest.raises(TypeError, match="unexpected export option 'opest'"):
        OnnxExportOptions.from_kwargs(opest=18)


def test_bad_values_are_one_line_before_any_work():
    with pytest.raises(ArgumentError, match="--atol must be a finite number > 0"):
        ExportOptions(atol=float("inf"))
    with pytest.raises(ArgumentError, match="--sequence-length must be a positive integer"):
        ExportOptions(shapes={"sequence_length": -3})
    with pytest.raises(TypeError, match="unknown shape name"):
        ExportOptions(shapes={"sequence_lenght": 8})


def test_a_backend_narrows_the_shape_names():
    @dataclasses.dataclass(frozen=True)
    class StaticOptions(ExportOptions):
        SHAPE_NAMES = frozenset({"batch_size"})
        delegate: str = "cpu"

    assert StaticOptions(shapes={"batch_size": 1}, delegate="gpu").delegate == "gpu"
    with pytest.raises(TypeError, match="unknown shape name"):
        StaticOptions(shapes={"width": 8})
    assert dict(StaticOptions.from_kwargs(batch_size=3).shapes) == {"batch_size": 3}


class _Config:
    def __init__(self, config, task="feature-extraction", **kwargs):
        self.task = task


def test_registrar_typed_and_decorator_forms_register_alike(isolated):
    registry, _ = isolated
    register = registry.register_decorator("probe")
    assert isinstance(register, Registrar) and register.backend == "probe"
    made = register.add("bert", ("fill-mask", "text-classification"), _Config)
    assert [c.task for c in made] == ["fill-mask", "text-classification"]
    assert register("roberta", "fill-mask")(_Config) is _Config
    assert set(registry.tasks_for("bert", "probe")) == {"fill-mask", "text-classification"}
    assert set(registry.tasks_for("roberta", "probe")) == {"fill-mask"}
    with pytest.raises(TypeError, match="sequence of task names"):
        register.add("bert", "fill-mask", _Config)  # a bare string would register 'f', 'i', ...
    with pytest.raises(UnknownTaskError, match="no task given"):
        register.add("bert", (), _Config)


def test_the_hook_receives_the_registrar_of_its_backend(isolated):
    registry, manager = isolated
    seen = {}

    plugin = types.ModuleType("registrar_probe")

    @hookimpl
    def xporter_register_configs(register, backend):
        seen["register"] = register
        register.add("bert", ("fill-mask",), _Config)

    plugin.xporter_register_configs = xporter_register_configs
    manager.register_plugin(plugin, "registrar_probe")
    assert isinstance(seen["register"], Registrar) and seen["register"].backend == "registrar_probe"
    assert "fill-mask" in registry.tasks_for("bert", "registrar_probe")
    with pytest.raises(RegistrationConflictError):
        seen["register"].add("bert", ("fill-mask",), type("Other", (_Config,), {}))
