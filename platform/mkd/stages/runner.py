"""The one stage runner: load the config, open the store, run the stage, print its outcome once,
exit with the code the table below gives.

    python -m mkd.stages NAME -c CONFIG [stage options]

`mkd <stage>` (the CLI's stage commands), `mkd submit`, the chart's RayJobs and the thin
`ray_jobs.<stage>` scripts all end here. Progress and errors go to stderr, the outcome to stdout.

Exit codes (docs/architecture.md#exit-codes), first matching row wins:

| what happened | exit |
|---|---|
| the stage finished (`done`), or found nothing to do (`nothing_to_do`: the loop) | 0 |
| the stage ran and failed (`failed`: gates missed, teacher budget exhausted) | 1 |
| RuntimeError while it ran (training failed, a Ray task failed) | 1 |
| another OSError while it ran (the store or a service went away) | 1 |
| bad config or input: ValueError (ConfigError, a bad ref, task, JSONL line or --until) | 2 |
| a missing input (FileNotFoundError: config, dataset, run) or an unreadable config | 2 |
| an immutable version that exists already (FileExistsError) | 2 |
| bad command line (argparse; the CLI's Typer) | 2 |
| interrupted (Ctrl-C, SIGINT): a re-run resumes | 130 |

Any other exception is a bug: its traceback is printed and Python exits 1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from mkd.config import ConfigError, PipelineConfig, load_config
from mkd.stages.outcome import Outcome, StageContext, StageOption, Status
from mkd.stages.registry import ALIASES, STAGES, stage_module
from mkd.storage import open_store

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

STATUS_EXIT: dict[Status, int] = {"done": EXIT_OK, "nothing_to_do": EXIT_OK, "failed": EXIT_FAILED}

# (exception type, exit code): first match wins, so subclasses come before their bases
# (FileNotFoundError and FileExistsError are OSErrors; ConfigError is a ValueError).
ERROR_EXIT: tuple[tuple[type[BaseException], int], ...] = (
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (ValueError, EXIT_BAD_INPUT),
    (FileNotFoundError, EXIT_BAD_INPUT),
    (FileExistsError, EXIT_BAD_INPUT),
    (RuntimeError, EXIT_FAILED),
    (OSError, EXIT_FAILED),
)


class BadConfig(ValueError):
    """The config file could not be read (exit 2 like any config error)."""


def exit_code_for(result: Outcome | BaseException) -> int | None:
    """The exit code of an outcome or an error; None for an error the table does not list."""
    if isinstance(result, Outcome):
        return STATUS_EXIT[result.status]
    for error_type, code in ERROR_EXIT:
        if isinstance(result, error_type):
            return code
    return None


def load(config: str | Path | None) -> PipelineConfig:
    """The pipeline config at `config` (None: the embedded defaults).

    Raises:
        ConfigError: every problem of the file, with its path.
        BadConfig: the file cannot be read.
    """
    try:
        return load_config(config)
    except ConfigError:
        raise
    except OSError as exc:
        raise BadConfig(f"{config}: cannot read the config: {exc.strerror or exc}") from None


def run_stage(
    name: str,
    config: str | Path | None,
    options: dict[str, Any] | None = None,
    *,
    err: Console | None = None,
    out: Console | None = None,
) -> int:
    """Run stage `name` with `config` and its `options`; print its outcome; return the exit code.

    Raises:
        ValueError: `name` is no stage.
        Exception: an error the exit-code table does not list (a bug), unchanged.
    """
    module = stage_module(name)
    err = err or Console(stderr=True)
    out = out or Console(soft_wrap=True)
    try:
        cfg = load(config)
        context = StageContext(open_store(cfg.store), err, dict(options or {}), config is not None)
        outcome = module.run(cfg, context)
    except BaseException as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        report_error(module_name(module), exc, code, err)
        return code
    show(outcome, out, err)
    return STATUS_EXIT[outcome.status]


def module_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def report_error(stage: str, exc: BaseException, code: int, err: Console) -> None:
    """One line on stderr: the error as raised (it names the field, line or value)."""
    if code == EXIT_INTERRUPTED:
        err.print(f"\n[yellow]interrupted[/]: run the same command again to resume {stage}")
        return
    text = str(exc) if code == EXIT_BAD_INPUT else f"{stage} failed: {exc}"
    err.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)


def show(outcome: Outcome, out: Console, err: Console) -> None:
    """Print the outcome once: its stage's own `render` if it has one, else one generic line;
    a failure's reason on stderr."""
    render = getattr(stage_module(outcome.stage), "render", None)
    if render is not None:
        render(outcome, out)
    else:
        out.print(outcome_line(outcome), highlight=False, markup=False)
    if outcome.status == "failed":
        err.print(f"[bold red]error:[/] {outcome.message}", highlight=False, soft_wrap=True)
    elif outcome.status == "nothing_to_do":
        out.print(f"nothing to do: {outcome.message}", highlight=False, markup=False)


def outcome_line(outcome: Outcome) -> str:
    """`train done: run_id r1, steps 20; run file:///store/runs/r1/`."""
    figures = ", ".join(f"{k} {_compact(v)}" for k, v in outcome.summary.items())
    written = ", ".join(f"{k} {v}" for k, v in outcome.artifacts.items())
    return (
        f"{outcome.stage} {outcome.status}"
        + (f": {figures}" if figures else "")
        + (f"; {written}" if written else "")
    )


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def stage_parser(name: str, parser: argparse.ArgumentParser | None = None):
    """The argparse parser of one stage: -c CONFIG plus the stage's OPTIONS."""
    module = stage_module(name)
    parser = parser or argparse.ArgumentParser(
        prog=f"python -m mkd.stages {name}", description=module.DESCRIPTION
    )
    required = getattr(module, "CONFIG_REQUIRED", True)
    parser.add_argument(
        "-c",
        "--config",
        required=required,
        help="pipeline YAML (configs/pipeline.yaml)" + ("" if required else "; default: built-in"),
    )
    for option in module.OPTIONS:
        add_option(parser, option)
    return parser


def add_option(parser: argparse.ArgumentParser, option: StageOption) -> None:
    if option.kind == "flag":
        parser.add_argument(*option.flags, dest=option.dest, action="store_true", help=option.help)
        return
    parser.add_argument(
        *option.flags,
        dest=option.dest,
        type=int if option.kind == "int" else str,
        required=option.required,
        metavar=option.metavar,
        help=option.help,
    )


def parser() -> argparse.ArgumentParser:
    """`python -m mkd.stages NAME ...`: one sub-command per stage (aliases included)."""
    root = argparse.ArgumentParser(
        prog="python -m mkd.stages",
        description="Run one MKD stage: exit 0 done, 1 the stage failed, 2 bad config or input.",
    )
    names = root.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for name in STAGES:
        aliases = [alias for alias, target in ALIASES.items() if target == name]
        description = stage_module(name).DESCRIPTION
        sub = names.add_parser(name, aliases=aliases, help=description, description=description)
        stage_parser(name, sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """`python -m mkd.stages NAME -c CONFIG [options]`; returns the exit code."""
    args = vars(parser().parse_args(argv))
    stage, config = args.pop("stage"), args.pop("config")
    return run_stage(stage, config, args)


def stage_main(name: str, argv: list[str] | None = None) -> int:
    """One stage's command line without its name (the ray_jobs scripts); returns the exit code."""
    args = vars(stage_parser(name).parse_args(argv))
    return run_stage(name, args.pop("config"), args)
