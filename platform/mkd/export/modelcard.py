"""Model cards: README.md in the Hugging Face format (YAML front matter + metrics + lineage)."""

from __future__ import annotations

from typing import Any

import yaml

_LIBRARY = {"adapter": "peft", "master": "transformers", "nf4": "transformers"}


def model_card(manifest: dict[str, Any], metrics: dict[str, dict] | None = None) -> str:
    """A README.md for a registry version.

    Args:
        manifest: the version's manifest (name, variant, base_model, dataset, lineage, gates).
        metrics: per-task metrics of this version on the test split (score, agreement...).
    """
    name = manifest.get("name", "model")
    variant = manifest.get("variant", "adapter")
    base = (manifest.get("base_model") or {}).get("uri", "unknown")
    metrics = metrics or {}
    front = {
        "library_name": _LIBRARY.get(variant, "gguf"),
        "base_model": base,
        "license": "apache-2.0",
        "tags": ["mkd", "knowledge-distillation", "multi-task", variant],
        "pipeline_tag": "text-generation",
        "model-index": [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "text-generation", "name": task},
                        "dataset": {"name": str(manifest.get("dataset")), "type": "mkd"},
                        "metrics": [
                            {"type": "score", "value": round(m["score"], 4)},
                            {"type": "agreement_with_teacher", "value": round(m["agreement"], 4)},
                            {
                                "type": "schema_violation_rate",
                                "value": round(m["violation_rate"], 4),
                            },
                        ],
                    }
                    for task, m in sorted(metrics.items())
                ],
            }
        ],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip(), "---", ""]
    lines += [f"# {name} (variant `{variant}`)", ""]
    lines.append(
        "A multi-task student distilled by MKD from a teacher LLM: one small model answering "
        "every task of its pack with JSON valid against the task's schema."
    )
    lines += ["", "## Metrics on the test split", ""]
    if metrics:
        lines += [
            "| task | score | agreement with teacher | schema violations |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {t} | {m['score']:.3f} | {m['agreement']:.3f} | {m['violation_rate']:.1%} |"
            for t, m in sorted(metrics.items())
        ]
    else:
        lines.append("Not evaluated.")
    gates = manifest.get("gates") or {}
    lines += ["", f"Gates: {'passed' if gates.get('passed') else 'FAILED or not run'}.", ""]
    lines += ["## Lineage", ""]
    facts = {
        "base model": base,
        "base model sha256": (manifest.get("base_model") or {}).get("sha256"),
        "adapter sha256": manifest.get("adapter_sha256"),
        "tokenizer sha256": manifest.get("tokenizer_sha256"),
        "quantization": manifest.get("quantization"),
        "dataset": manifest.get("dataset"),
        "training run": manifest.get("training_run"),
        "parent version": manifest.get("parent"),
        "evaluation report": (manifest.get("eval") or {}).get("report"),
        "git commit": manifest.get("git_commit"),
    }
    lines += [f"- {k}: `{v}`" for k, v in facts.items() if v is not None]
    lines += ["", "## Use", "", "```", f"mkd predict --model {name}:{manifest.get('version', 'N')} "
              "--input queries.jsonl --out answers.jsonl", "```", ""]  # fmt: skip
    return "\n".join(lines)
