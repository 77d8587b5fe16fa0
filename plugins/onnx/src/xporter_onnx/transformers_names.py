"""How the installed transformers names model types: one place for the export path and the tests.

Table rows and the Hub spell some types with hyphens and others with underscores; transformers
accepts exactly one spelling per type, and which one changes between releases.
"""

from __future__ import annotations


def transformers_spelling(model_type: str) -> str:
    """``model_type`` as the installed transformers spells it (``AutoConfig.for_model`` wants it
    exactly: ``xlm-roberta`` and ``bert-generation`` take hyphens, ``roc_bert`` an underscore)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    for spelling in (model_type, model_type.replace("-", "_"), model_type.replace("_", "-")):
        if spelling in CONFIG_MAPPING_NAMES:
            return spelling
    return model_type.replace("-", "_")


def transformers_knows(model_type: str) -> bool:
    """Whether the installed transformers has ``model_type`` (rows for architectures added in
    a newer release than one of the supported ones run only where it exists)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return transformers_spelling(model_type) in CONFIG_MAPPING_NAMES
