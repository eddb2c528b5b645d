"""Stage: batch prediction of a JSONL file with any model ref (Ray Data with a cluster).

    python -m ray_jobs.predict -c configs/pipeline.yaml --model finance-student@production \
        --input queries.jsonl --out answers.jsonl
"""

from __future__ import annotations

import argparse
import sys

from mkd.config import ConfigError, load_config
from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Answer a JSONL file of queries with a model.")
    parser.add_argument("-c", "--config", required=True, help="pipeline YAML")
    parser.add_argument(
        "--model", required=True, help="teacher | base:[URI] | NAME:V | NAME@STAGE | run:ID"
    )
    parser.add_argument("--input", required=True, help="JSONL with input, task, context")
    parser.add_argument("--out", required=True, help="JSONL written with the answers")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        from mkd.evaluation.batch import predict_jsonl

        summary = predict_jsonl(load_config(args.config), args.model, args.input, args.out)
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
