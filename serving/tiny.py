"""A tiny random Llama with a small byte-level BPE tokenizer, for smoke tests and quick benchmarks.

Its answers are nonsense, but constrained decoding still makes them schema-valid, and it loads in
well under a second: the serving path (batching, routing, rollback) runs end to end on CPU.
"""

from __future__ import annotations

from pathlib import Path

from mkd.records import canonical_json
from mkd.tasks import load_pack, student_messages

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus(pack_name: str) -> list[str]:
    pack = load_pack(pack_name)
    lines = []
    for task in pack.tasks.values():
        for ex in task.examples:
            for m in student_messages(pack, task, ex.input, ex.context):
                lines.append(m["content"])
            lines.append(canonical_json(ex.output))
        lines.append(canonical_json(task.output_schema))
    return lines


def build_tiny_student(
    directory: str | Path, pack: str = "finance", seed: int = 0, init_std: float = 0.02
) -> Path:
    """Write a tiny LlamaForCausalLM (random weights) and its tokenizer to `directory`.

    `init_std` 0.02 (Llama's default) keeps every logit within about +-1: the model can never
    become confident, so a LoRA on it learns nothing. ~0.3 lets a short run learn the label
    priors and the JSON syntax (tests that compare a trained adapter with an untrained one).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_corpus(pack), trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(directory)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=init_std,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory
