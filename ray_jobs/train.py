"""Stage 3: train the student with LoRA on Ray Train (plain PyTorch loop in each worker).

    python -m ray_jobs.train -c configs/pipeline.yaml [--resume RUN_ID]

Reads the dataset named by training.dataset (a version in the store, `latest`, or a local
directory), checkpoints every training.checkpoint_every steps to runs/<run_id>/ray/ in the
store (S3 or local) and writes the adapter, tokenizer, config, metrics.jsonl, loss.png and
manifest.json (last) to runs/<run_id>/. A killed worker resumes from the last checkpoint
(training.max_failures); a killed driver resumes with --resume RUN_ID.
"""

from __future__ import annotations

import argparse
import sys

from mkd.config import ConfigError, load_config
from mkd.storage import open_store
from mkd.training.inputs import TrainingInputError
from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the run finished, 2 on a bad config or input, 1 when training failed."""
    parser = argparse.ArgumentParser(description="Train the student on Ray Train.")
    parser.add_argument("-c", "--config", required=True, help="pipeline YAML")
    parser.add_argument("--resume", metavar="RUN_ID", help="continue this run from its checkpoint")
    parser.add_argument("--address", help="Ray address (default: training.ray_address or local)")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        cfg = load_config(args.config)
        from mkd.training.job import run_training

        run_training(cfg, open_store(cfg.store), console, args.resume, args.address)
    except (ConfigError, TrainingInputError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except RuntimeError as exc:  # ray.train.TrainingFailedError and friends
        console.print(f"[bold red]training failed:[/] {exc}", highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
