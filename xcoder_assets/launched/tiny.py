"""A randomly initialised Qwen2-architecture model and its tokenizer, built locally: no download.

The tokenizer is a byte-level BPE trained with `tokenizers` on the project's bundled seed problems (so
the same on every machine), with Qwen's chat markers and a ChatML template. The model's weights are
drawn from a fixed seed. `tiny` (about 0.1M parameters besides the embeddings) is for CPU smoke runs;
`small` (about 136M) for measuring throughput on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parents[1] / "data" / "seed_problems.jsonl"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab=1024,
    ),
    "small": dict(
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        vocab=32000,
    ),
}


def corpus() -> list[str]:
    texts = []
    for line in SEED_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            texts.append(str(record.get("question", "")))
            solutions = record.get("solutions")
            if isinstance(solutions, str):
                solutions = json.loads(solutions)
            texts.extend(str(s) for s in (solutions or [])[:1])
    return texts + ["```python\nimport sys\nprint(sum(map(int, sys.stdin.read().split())))\n```", "<think>\n</think>"]


def build_tokenizer(vocab: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SPECIAL,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=32768,
    )


def build_model_dir(path: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a loadable model folder (config, weights, tokenizer) at path; a finished one is reused as it is."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}: choose {sorted(SIZES)}")
    spec = dict(SIZES[size])
    tokenizer = build_tokenizer(spec.pop("vocab"))
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **spec,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    staging = path.with_name(path.name + ".partial")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(path)  # a half-written folder is never taken for a model
    return path
