"""`mkd train`: LoRA training of the student on Ray Train (see ray_jobs/train.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from mkd.cli.console import err_console, fail


def register(app: typer.Typer) -> None:
    """Add `train` to the root app."""
    app.command("train")(train)


def train(
    config: Path = typer.Option(..., "-c", "--config", help="Pipeline YAML."),
    resume: str | None = typer.Option(
        None, "--resume", help="Continue RUN_ID from its checkpoint."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray address (default: training.ray_address, else a local Ray)."
    ),
) -> None:
    """Train the student with LoRA on Ray Train and write the run to the store.

    Example: mkd train -c configs/pipeline.yaml
    """
    from mkd.config import ConfigError, load_config
    from mkd.storage import open_store
    from mkd.training.inputs import TrainingInputError
    from mkd.training.job import run_training

    try:
        cfg = load_config(config)
        run_training(cfg, open_store(cfg.store), err_console, resume, address)
    except (ConfigError, TrainingInputError, OSError) as exc:
        fail(str(exc), code=2)
    except RuntimeError as exc:
        fail(f"training failed: {exc}")
