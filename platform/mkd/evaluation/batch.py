"""`mkd predict`: a user's JSONL of queries in, the same records with the model's answers out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkd.config import PipelineConfig
from mkd.evaluation.job import predict
from mkd.evaluation.predict import Prediction
from mkd.evaluation.refs import ModelResolver
from mkd.models.converted import local_cache_dir
from mkd.records import Record, RecordError, read_numbered
from mkd.storage import open_store
from mkd.tasks import load_pack


def read_queries(path: str | Path, tasks: dict[str, Any]) -> list[Record]:
    """Records with `input`, `task` and optional `context`; errors name the file and line."""
    out = []
    for line, record in read_numbered(path):
        if record.task not in tasks:
            raise RecordError(
                str(path), line, f"unknown task {record.task!r} (known: {', '.join(tasks)})"
            )
        if not record.input.strip():
            raise RecordError(str(path), line, "input is empty")
        out.append(record)
    if not out:
        raise ValueError(f"{path}: no records")
    return out


def answer_line(record: Record, pred: Prediction, model_ref: str) -> dict[str, Any]:
    """The record with the answer as its `output` (a label it carried is kept as `label`)."""
    line = record.model_dump(exclude_none=True)
    if record.output is not None:
        line["label"] = record.output
    line.update(
        output=pred.output,
        model=model_ref,
        latency_ms=round(pred.latency_s * 1000, 3),
        prompt_tokens=pred.prompt_tokens,
        output_tokens=pred.output_tokens,
    )
    if pred.violation:
        line["violation"] = pred.violation
    return line


def predict_jsonl(
    cfg: PipelineConfig,
    model_ref: str,
    input_path: str | Path,
    out_path: str | Path,
    config_given: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """Answer every query of `input_path` with `model_ref`; write `out_path` atomically.

    Returns a summary: count, schema-valid share, mean latency and tokens.
    """
    pack = load_pack(cfg.pack)
    records = read_queries(input_path, pack.tasks)
    resolver = ModelResolver(cfg, open_store(cfg.store), local_cache_dir())
    model = resolver.resolve(model_ref)
    preds = predict(resolver, model, records, cfg, config_given, progress)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record, pred in zip(records, preds, strict=True):
            fh.write(json.dumps(answer_line(record, pred, model.ref), ensure_ascii=False) + "\n")
    tmp.replace(out_path)
    n = len(preds)
    return {
        "model": model.ref,
        "count": n,
        "valid": sum(p.violation is None for p in preds) / n,
        "latency_ms_mean": 1000 * sum(p.latency_s for p in preds) / n,
        "prompt_tokens_mean": sum(p.prompt_tokens for p in preds) / n,
        "output_tokens_mean": sum(p.output_tokens for p in preds) / n,
    }
