"""Tiny random models and a separable synthetic dataset, for tests, the benchmark and the
torchrun example (no model hub is reachable here).

The dataset is separable by construction: label 1 sequences draw tokens from the upper half
of the vocabulary, label 0 from the lower half, so a few dozen steps reach ~100% accuracy.
Dropout is zero so ORT and PyTorch runs are comparable step by step (ORT's dropout RNG
differs from torch's), and attention is eager (see ``docs``: the SDPA export lacks the
dropout mask output ORT's gradient builder needs).
"""

from __future__ import annotations

from typing import Dict, List

VOCAB = 64
SEQ = 16


def tiny_config(family: str, hidden: int = 32, layers: int = 2, vocab: int = VOCAB, **extra):
    """A small transformers config of ``family`` (bert, gpt2, t5) with dropout off."""
    import transformers

    if family == "bert":
        return transformers.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                       num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=128,
                                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **extra)
    if family == "gpt2":
        return transformers.GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=2, n_positions=128,
                                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **extra)
    if family == "t5":
        return transformers.T5Config(vocab_size=vocab, d_model=hidden, d_kv=hidden // 2, d_ff=hidden * 2,
                                     num_layers=layers, num_decoder_layers=layers, num_heads=2, dropout_rate=0.0,
                                     decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **extra)
    raise ValueError(f"unknown family {family}")


def tiny_model(family: str, task: str = "text-classification", seed: int = 0, **config_kwargs):
    """Build a tiny random model with eager attention (deterministic for ``seed``)."""
    import torch
    import transformers

    classes = {
        ("bert", "text-classification"): transformers.BertForSequenceClassification,
        ("bert", "token-classification"): transformers.BertForTokenClassification,
        ("bert", "fill-mask"): transformers.BertForMaskedLM,
        ("bert", "question-answering"): transformers.BertForQuestionAnswering,
        ("gpt2", "text-generation"): transformers.GPT2LMHeadModel,
        ("gpt2", "text-classification"): transformers.GPT2ForSequenceClassification,
        ("t5", "text2text-generation"): transformers.T5ForConditionalGeneration,
    }
    config = tiny_config(family, **config_kwargs)
    if family == "gpt2" and task == "text-classification":
        config.pad_token_id = 0
    torch.manual_seed(seed)
    model = classes[(family, task)](config)
    model.config._attn_implementation = "eager"
    model.set_attn_implementation("eager") if hasattr(model, "set_attn_implementation") else None
    return model


def separable_examples(n: int, task: str = "text-classification", seq: int = SEQ, vocab: int = VOCAB,
                       seed: int = 0) -> List[Dict]:
    """``n`` examples for ``task`` whose label follows the token range (see module doc)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    half = vocab // 2
    rows = []
    for i in range(n):
        label = i % 2
        low = 2 + label * (half - 2)
        ids = torch.randint(low, low + half - 2, (seq,), generator=gen)
        row = {"input_ids": ids, "attention_mask": torch.ones(seq, dtype=torch.long)}
        if task == "text-classification":
            row["labels"] = torch.tensor(label)
        elif task == "token-classification":
            row["labels"] = torch.full((seq,), label)
        elif task in ("text-generation", "fill-mask"):
            row["labels"] = ids.clone()
        elif task == "text2text-generation":
            row["labels"] = torch.full((4,), 2 + label)
        elif task == "question-answering":
            row["start_positions"] = torch.tensor(label)
            row["end_positions"] = torch.tensor(label + 2)
        rows.append(row)
    return rows


class ListDataset:
    """A map-style dataset over a list of dicts (transformers' default collator stacks them)."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def accuracy(eval_prediction) -> Dict[str, float]:
    import numpy as np

    logits = eval_prediction.predictions[0] if isinstance(eval_prediction.predictions, tuple) else eval_prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == eval_prediction.label_ids).mean())}
