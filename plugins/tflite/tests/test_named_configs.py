"""TFLite config classes are named, importable and the ones the registry hands out (no TensorFlow work)."""

from __future__ import annotations

from collections import Counter

from xporter import TasksManager
from xporter_tflite import configs
from xporter_tflite.architectures import ARCHITECTURES


def test_every_row_names_an_importable_registered_class():
    for row in ARCHITECTURES:
        cls = getattr(configs, row.config_class)
        assert cls.__name__ == row.config_class and row.config_class.endswith("TFLiteConfig"), row
        supported = TasksManager.get_supported_tasks_for_model_type(row.model_type, "tflite", library_name=row.library)
        for task in row.tasks:
            assert supported[task].config_class is cls, (row.model_type, task)


def test_no_two_rows_share_a_class():
    counts = Counter(row.config_class for row in ARCHITECTURES)
    assert not [name for name, n in counts.items() if n > 1], counts
    assert len({(row.library, row.model_type) for row in ARCHITECTURES}) == len(ARCHITECTURES)
