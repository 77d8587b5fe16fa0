"""Tiny random TF checkpoints built from configs (no hub access), shared by the tests."""

from __future__ import annotations

from pathlib import Path

TEXT = dict(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
            max_position_embeddings=64)

TINY_CONFIGS = {
    "albert": dict(TEXT, embedding_size=16),
    "bert": TEXT,
    "camembert": TEXT,
    "convbert": dict(TEXT, embedding_size=32, head_ratio=2),
    "deberta": TEXT,
    "deberta-v2": TEXT,
    "distilbert": dict(vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=37, max_position_embeddings=64),
    "electra": dict(TEXT, embedding_size=16),
    # TF{Flaubert,XLM}ForMultipleChoice read config.initializer_range, which their configs lack
    "flaubert": dict(vocab_size=100, emb_dim=32, n_layers=1, n_heads=2, max_position_embeddings=64,
                     initializer_range=0.02),
    "mobilebert": dict(TEXT, embedding_size=16, intra_bottleneck_size=16, num_feedforward_networks=1),
    "mpnet": TEXT,
    "resnet": dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", num_labels=3),
    "roberta": TEXT,
    "roformer": dict(TEXT, embedding_size=32),
    "xlm": dict(vocab_size=100, emb_dim=32, n_layers=1, n_heads=2, max_position_embeddings=64, initializer_range=0.02),
    "xlm-roberta": TEXT,
    "gpt2": dict(vocab_size=100, n_embd=32, n_layer=1, n_head=2, n_positions=64),
    "vit": dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=37),
    "t5": dict(vocab_size=100, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_decoder_layers=1, num_heads=2,
               decoder_start_token_id=0),
}

SHAPES = dict(batch_size=2, sequence_length=8, num_choices=2, height=32, width=32)


def tiny_config(model_type: str, **overrides):
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **{**TINY_CONFIGS[model_type], **overrides})


def build_tf_model(model_type: str, task: str, seed: int = 0, **overrides):
    """A randomly initialised TF model of the task's head, built (weights created)."""
    from xporter import TasksManager

    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # deterministic weights: accuracy thresholds must not be flaky
    config = tiny_config(model_type, **overrides)
    model_class = TasksManager.get_model_class_for_task(task, framework="tf", model_type=config.model_type)
    model = model_class.from_config(config)
    model(model.dummy_inputs, training=False)
    return model


def save_tiny(model_type: str, task: str, directory: Path, **overrides) -> Path:
    model = build_tf_model(model_type, task, **overrides)
    model.save_pretrained(directory)
    return directory


def write_bert_tokenizer(directory: Path, vocab_size: int) -> None:
    """A WordPiece tokenizer whose vocabulary is the special tokens plus w0, w1 ..."""
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + [f"w{i}" for i in range(vocab_size - len(specials))]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(str(vocab_file)).save_pretrained(directory)
