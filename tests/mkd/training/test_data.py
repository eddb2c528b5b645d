import json

from mkd.records import Record
from mkd.tasks.prompts import answer_text
from mkd.training.data import IGNORE_INDEX, collate, encode_records, prompt_text

TASKS = ["currency_identifier", "date_interpretation", "entity_extractor", "query_classifier"]


def test_loss_is_on_the_answer_tokens_only(pack, tiny_tokenizer, train_rows):
    records = [Record(**r) for r in train_rows[:8]]
    examples = encode_records(tiny_tokenizer, pack, records, max_seq_len=256)
    batch = collate(examples, tiny_tokenizer.pad_token_id, TASKS)
    for row, (record, ex) in enumerate(zip(records, examples, strict=True)):
        labels = batch["labels"][row]
        kept = labels[labels != IGNORE_INDEX].tolist()
        # exactly the answer in schema key order then eos: what generation must produce and stop after
        assert kept[-1] == tiny_tokenizer.eos_token_id
        assert tiny_tokenizer.decode(kept[:-1]) == answer_text(
            json.loads(record.output), pack.task(record.task).output_schema
        )
        assert (labels[: ex.prompt_len] == IGNORE_INDEX).all()
        assert (batch["attention_mask"][row].sum()) == len(ex)
        assert (labels[len(ex) :] == IGNORE_INDEX).all()  # padding never counts


def test_prompt_is_the_serving_prompt(pack, tiny_tokenizer, train_rows):
    record = Record(**train_rows[0])
    text = prompt_text(tiny_tokenizer, pack, record)
    assert f"{record.input}\n2026-01-15\n{record.task}<|im_end|>" in text
    assert "Schema" not in text and "schema" not in text  # no teacher context in the student prompt
    ex = encode_records(tiny_tokenizer, pack, [record], 256)[0]
    assert tiny_tokenizer(text, add_special_tokens=False)["input_ids"] == list(
        ex.input_ids[: ex.prompt_len]
    )


def test_over_long_examples_keep_their_answer(pack, tiny_tokenizer, train_rows):
    record = Record(**train_rows[1])
    full = encode_records(tiny_tokenizer, pack, [record], 512)[0]
    cut = encode_records(tiny_tokenizer, pack, [record], 40)[0]
    assert len(cut) == 40
    assert cut.input_ids[cut.prompt_len :] == full.input_ids[full.prompt_len :]


def test_host_side_answer_positions_give_the_labels_loss(pack, tiny_model_dir, tiny_tokenizer,
                                                         train_rows):  # fmt: skip
    """The sync-free loss (positions from collate) equals HF's loss over -100-masked labels."""
    import torch
    from mkd.training.modeling import answer_token_losses
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    examples = encode_records(tiny_tokenizer, pack, [Record(**r) for r in train_rows[:6]], 256)
    batch = collate(examples, tiny_tokenizer.pad_token_id, TASKS, multiple_of=16)
    assert batch["input_ids"].shape[1] % 16 == 0
    assert batch["input_ids"].shape[1] - max(len(e) for e in examples) < 16
    with torch.no_grad():
        losses, rows = answer_token_losses(model, batch)
        reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                          labels=batch["labels"]).loss  # fmt: skip
    assert torch.allclose(losses.mean(), reference, atol=1e-5)
    answer_lengths = [len(e) - e.prompt_len for e in examples]
    assert rows.bincount().tolist() == answer_lengths
