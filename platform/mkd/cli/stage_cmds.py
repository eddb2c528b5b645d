"""The CLI's stage commands (`mkd label`, `mkd data build`, `mkd train`, `mkd eval`, `mkd export`,
`mkd predict`, `mkd loop`), made by one factory over the stage registry (mkd.stages).

Each command takes the stage's own options (StageOption, the same as `python -m mkd.stages`) and
hands them to the one runner, which prints the outcome and gives the exit code
(docs/architecture.md#exit-codes).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from mkd.stages import StageOption, stage_module


@dataclass(frozen=True)
class StageCommand:
    """Where a stage sits in the CLI and what its --help says."""

    path: tuple[str, ...]  # ("data", "build"): the `build` command of the `data` group
    stage: str
    help: str
    offline_env: bool = False  # the demo's environment (offline hub, quiet tokenizers) first


STAGE_COMMANDS = (
    StageCommand(
        ("label",),
        "label",
        "Label the augmented prompts with the teacher on Ray Data (resumable through the cache).\n\n"
        "Example: mkd label -c configs/pipeline.yaml",
    ),
    StageCommand(
        ("data", "build"),
        "build",
        "curated -> augmented -> labeled -> reviewed -> train/val/test with a manifest (last).\n\n"
        "Example: mkd data build -c configs/pipeline.yaml",
    ),
    StageCommand(
        ("train",),
        "train",
        "Train the student with LoRA on Ray Train and write the run to the store.\n\n"
        "Example: mkd train -c configs/pipeline.yaml",
    ),
    StageCommand(
        ("eval",),
        "evaluate",
        "Evaluate the candidate vs teacher and base; exit 1 and mark it rejected if a gate fails."
        "\n\nWrites evals/<id>/report.{json,md,html} to the store; a passing candidate is "
        "registered as `candidate`, a failing one as `rejected`.\n\n"
        "Example: mkd eval -c configs/pipeline.yaml",
    ),
    StageCommand(
        ("export",),
        "export",
        "Merge the adapter into a master, build nf4 and GGUF variants, evaluate and register each."
        "\n\nA variant whose score drops more than export.tolerance below the master is refused."
        "\n\nExample: mkd export -c configs/pipeline.yaml",
    ),
    StageCommand(
        ("predict",),
        "predict",
        "Answer every query of a JSONL file with a model; each line gets output, latency, tokens."
        "\n\nWithout --config the default store (./mkd-store) and the reference teacher are used."
        "\n\nExample: mkd predict --model finance-student@candidate --input queries.jsonl "
        "--out answers.jsonl",
    ),
    StageCommand(
        ("loop",),
        "loop",
        "Grow the dataset from the serving feedback, retrain, compare, deploy the candidate in "
        "shadow.\n\nBuilds dataset v(N+1) from v(N) (the fixed benchmark carried over unchanged) "
        "plus the feedback log and the version's imports and reviews, trains warm-started from "
        "the current version's adapter, evaluates it (gates, registry: candidate or rejected), "
        "compares the current version and the candidate on the benchmark and on the new items "
        "(loops/ report), and deploys the candidate in shadow when loop.serve_dashboard is set. "
        "An interrupted turn resumes.\n\nExample: mkd loop -c configs/pipeline.yaml",
        offline_env=True,
    ),
)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add every stage command to `app`, or to the group named by its path (`data`)."""
    for spec in STAGE_COMMANDS:
        *group, name = spec.path
        target = groups[group[0]] if group else app
        target.command(name, help=spec.help)(stage_command(spec))


def stage_command(spec: StageCommand) -> Callable[..., None]:
    """A Typer command running `spec.stage` through the runner; exits with its code."""
    module = stage_module(spec.stage)
    required = getattr(module, "CONFIG_REQUIRED", True)
    params = [_config_param(required), *(_param(option) for option in module.OPTIONS)]

    def command(**values: object) -> None:
        from mkd.stages.runner import run_stage

        if spec.offline_env:
            from mkd.pipeline.demo import ensure_env

            ensure_env()
        config = values.pop("config")
        raise typer.Exit(run_stage(spec.stage, config, values))  # type: ignore[arg-type]

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__ = f"{spec.stage}_cmd"
    return command


def _config_param(required: bool) -> inspect.Parameter:
    help_text = "Pipeline YAML." if required else "Pipeline YAML (default: embedded defaults)."
    default = typer.Option(
        ... if required else None, "-c", "--config", exists=True, dir_okay=False, help=help_text
    )
    annotation = Path if required else Path | None
    return inspect.Parameter(
        "config", inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _param(option: StageOption) -> inspect.Parameter:
    if option.kind == "flag":
        default, annotation = typer.Option(False, *option.flags, help=option.help), bool
    else:
        kind = int if option.kind == "int" else str
        default = typer.Option(
            ... if option.required else None,
            *option.flags,
            help=option.help,
            metavar=option.metavar,
        )
        annotation = kind if option.required else kind | None
    return inspect.Parameter(
        option.dest, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )
