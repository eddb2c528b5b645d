"""A finished run in the store: adapter, tokenizer, exact config, metrics, loss curve, manifest.

Layout: runs/<run_id>/{adapter/,tokenizer/,config.yaml,metrics.jsonl,loss.png,val_agreement.png,
manifest.json};
manifest.json is written last, so a run without it is not finished.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from mkd.store_layout import run_key, run_manifest

LIBRARIES = ("torch", "transformers", "peft", "ray", "accelerate", "mkd")


def git_commit() -> str | None:
    """The source commit (None outside a git checkout, e.g. in a container image)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).parent,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            found[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return found


def plot_losses(history: list[dict[str, Any]], path: str | Path) -> Path:
    """Training loss (and val loss where measured) against step, as a PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    val = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if val:
        ax.plot(*zip(*val, strict=True), marker="o", label="val loss")
    ax.set(xlabel="step", ylabel="loss (answer tokens)", yscale="log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_val_agreement(history: list[dict[str, Any]], path: str | Path) -> Path:
    """Validation agreement (exact answers under greedy decoding) per task and their mean
    against minutes of training, as a PNG: what each CPU minute bought."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [h for h in history if "val_agreement" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if points:
        minutes = [h.get("elapsed_s", 0.0) / 60 for h in points]
        for task in sorted(points[-1].get("val_task_agreement", {})):
            values = [h.get("val_task_agreement", {}).get(task) for h in points]
            ax.plot(minutes, values, marker=".", alpha=0.7, label=task)
        ax.plot(minutes, [h["val_agreement"] for h in points], "k-o", lw=2, label="mean")
    ax.set(xlabel="training minutes (loop wall time)", ylabel="val agreement", ylim=(0, 1))
    ax.axhline(0.9, color="grey", ls="--", lw=1)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def adapter_size(adapter_dir: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(adapter_dir).glob("*.safetensors"))


def write_run_outputs(
    store: Any,
    run_id: str,
    checkpoint_dir: str | Path,
    tokenizer: Any,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """Upload a finished run from its final checkpoint; the manifest goes last.

    Args:
        store: an mkd.storage Store.
        checkpoint_dir: the final checkpoint (adapter/ + state.json), downloaded locally.
        tokenizer: the base model's tokenizer (saved beside the adapter for serving).
        manifest: lineage fields (base model, dataset, config...) to complete and write.
    """
    import tempfile

    checkpoint_dir = Path(checkpoint_dir)
    state = json.loads((checkpoint_dir / "state.json").read_text(encoding="utf-8"))
    history = state["history"]
    with tempfile.TemporaryDirectory(prefix="mkd-run-") as tmp:
        tok_dir = Path(tmp) / "tokenizer"
        tokenizer.save_pretrained(tok_dir)
        files = store.put_dir(run_key(run_id, "adapter"), checkpoint_dir / "adapter")
        files |= store.put_dir(run_key(run_id, "tokenizer"), tok_dir)
        lines = "".join(json.dumps(h, sort_keys=True) + "\n" for h in history)
        store.put_bytes(run_key(run_id, "metrics.jsonl"), lines.encode())
        store.put_file(run_key(run_id, "loss.png"), plot_losses(history, Path(tmp) / "loss.png"))
        curve = plot_val_agreement(history, Path(tmp) / "val_agreement.png")
        store.put_file(run_key(run_id, "val_agreement.png"), curve)
    vals = [h for h in history if "val_loss" in h]
    manifest = {
        **manifest,
        "run_id": run_id,
        "steps": state["step"],
        "resumed_from_steps": state["resumed_from"],
        "train_seconds": round(state["train_seconds"], 2),
        "loop_seconds": round(state.get("wall_seconds", 0.0), 2),
        "precision": state.get("precision", {}),
        "epochs": round(state.get("epochs", 0.0), 4),
        "best_step": state.get("best_step"),
        "best_val_agreement": state.get("best_val_agreement"),
        "val_curve": [
            {
                k: h[k]
                for k in (
                    "step",
                    "epochs",
                    "elapsed_s",
                    "val_agreement",
                    "val_loss",
                    "val_task_agreement",
                )
                if k in h
            }
            for h in history
            if "val_loss" in h
        ],
        "tokens": state["tokens"],
        "final_val_loss": vals[-1]["val_loss"] if vals else None,
        "best_val_loss": state["best_val_loss"],
        "adapter_bytes": adapter_size(checkpoint_dir / "adapter"),
        "adapter_sha256": {k.rsplit("/", 1)[-1]: v for k, v in files.items() if "/adapter/" in k},
        "git_commit": git_commit(),
        "libraries": library_versions(),
    }
    store.put_json(run_manifest(run_id), manifest)
    return manifest
