"""What every stage script shares: `-c CONFIG` parsing and clean exits with a readable error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from mkd.config import ConfigError, PipelineConfig, load_config
from mkd.storage import Store, open_store
from rich.console import Console

StageFn = Callable[[PipelineConfig, Store, Console], Any]


def stage_parser(description: str) -> argparse.ArgumentParser:
    """The parser every stage starts from; a stage with options of its own adds them to it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "-c", "--config", required=True, help="pipeline YAML (configs/pipeline.yaml)"
    )
    return parser


def run_parsed(args: argparse.Namespace, stage: StageFn) -> int:
    """Load args.config, open the store, run `stage`; exit 2 on a config error, 1 on failure."""
    console = Console(stderr=True)
    try:
        cfg = load_config(args.config)
    except (ConfigError, OSError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    try:
        stage(cfg, open_store(cfg.store), console)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    return 0


def run_stage(description: str, stage: StageFn, argv: list[str] | None = None) -> int:
    """Parse -c CONFIG and run `stage` (a stage with no options of its own)."""
    return run_parsed(stage_parser(description).parse_args(argv), stage)


def main_exit(code: int) -> None:
    sys.exit(code)
