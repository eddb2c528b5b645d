"""Shared by the next-version and loop tests: a finished parent dataset version made of the
pack's gold records, and feedback written through the Router's own writer."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from mkd.data.manifest import build_manifest, write_version
from mkd.data.prompts_io import to_jsonl
from mkd.registry import Registry
from mkd.store_layout import dataset_prefix

GOLD = Path(__file__).parents[2] / "platform/mkd/tasks/packs/finance/data/gold.jsonl"


def gold_queries() -> list[list[dict]]:
    """The pack's gold records grouped by query (4 tasks each), in file order."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        groups[rec["id"].split("/")[0]].append(rec)
    return list(groups.values())


def make_parent(store, groups: list[list[dict]], version: str = "v1") -> dict:
    """A finished dataset version: the groups' records split train/val/test by position."""
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for i, group in enumerate(groups):
        split = "test" if i % 5 == 4 else "val" if i % 5 == 3 else "train"
        for rec in group:
            qid = rec["id"].split("/")[0]
            splits[split].append({**rec, "id": f"{qid}:{rec['task']}", "prompt_id": qid,
                                  "family": qid})  # fmt: skip
    files = {f"{s}.jsonl": to_jsonl(recs) for s, recs in splits.items()}
    manifest = build_manifest("finance", version, files, splits, {"parent": None})
    manifest["created_at"] = "2026-01-01T00:00:00Z"
    write_version(store, dataset_prefix("finance", version), files, manifest)
    return manifest


def write_feedback(store, entries: list[dict]) -> None:
    """Entries through the Router's own writer (serving.capture.FeedbackWriter)."""
    from mkd.serve.config import CaptureArgs

    from serving.capture import FeedbackWriter, feedback_entry

    writer = FeedbackWriter(store, CaptureArgs(enabled=True), "finance")
    for n, e in enumerate(entries):
        writer.add(
            feedback_entry(
                task=e["task"], source="shadow", query=e["input"], context=e.get("context"),
                teacher={"output": e["teacher_output"], "version": "reference:1"},
                student={"output": None, "version": "finance-student:1"}, score=0.5,
                request_id=f"req-{n}",
            )
        )  # fmt: skip
    writer.flush()


def as_feedback(group: list[dict]) -> list[dict]:
    return [
        {"task": r["task"], "input": r["input"], "context": r["context"],
         "teacher_output": json.loads(r["output"])}
        for r in group
    ]  # fmt: skip


def register_current(store, base: Path, tmp: Path, random_weights: bool = True) -> str:
    """finance-student:1: a LoRA adapter (r 4, all-linear) on the tiny base, as the evaluation
    registers one: random weights, or PEFT's initial ones (B = 0: the base's own answers)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=not random_weights
    )
    get_peft_model(model, lora).save_pretrained(tmp / "adapter")
    files = {f"adapter/{p.name}": p for p in (tmp / "adapter").iterdir() if p.is_file()}
    manifest = {"variant": "adapter", "base_model": {"uri": str(base)}, "dataset": "finance/v1",
                "lineage": {"base_model": str(base), "dataset": "finance/v1"}}  # fmt: skip
    return Registry(store).register("finance-student", manifest, files).ref
