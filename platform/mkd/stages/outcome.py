"""What a stage is given and what it hands back: `run(config, context) -> Outcome`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console

from mkd.storage import Store

Status = Literal["done", "nothing_to_do", "failed"]


class Outcome(BaseModel):
    """How a stage ended: what the runner prints once and maps to an exit code."""

    model_config = ConfigDict(extra="forbid")

    stage: str = Field(description="The stage's name (`train`, `evaluate`, ...).")
    status: Status = Field(
        "done",
        description="done; nothing_to_do (ran, found no work: the loop without new feedback); "
        "failed (ran and failed: gates missed, teacher budget exhausted).",
    )
    message: str = Field("", description="Why it failed or had nothing to do; empty when done.")
    summary: dict[str, Any] = Field(
        default_factory=dict, description="Figures a user reads (counts, run id, gate verdict)."
    )
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="What it wrote, by name: store URIs or output paths."
    )
    details: Any = Field(
        None,
        exclude=True,
        description="The stage's full result (an evaluation report) for its own `render`; "
        "not part of the printed or serialised outcome.",
    )


@dataclass
class StageContext:
    """What a stage runs with besides its config."""

    store: Store
    console: Console  # progress and log lines (stderr in the runner)
    options: dict[str, Any] = field(default_factory=dict)  # the stage's own command-line options
    config_given: bool = True  # False: the embedded defaults (`mkd predict` without -c)

    def option(self, name: str, default: Any = None) -> Any:
        """The value of the stage option `name` (its argparse dest), or `default` when unset."""
        value = self.options.get(name)
        return default if value is None else value


@dataclass(frozen=True)
class StageOption:
    """One command-line option of a stage; the runner's argparse and the CLI's Typer commands
    are both built from it, so `python -m mkd.stages` and `mkd` take the same options."""

    dest: str
    flags: tuple[str, ...]
    help: str
    kind: Literal["str", "int", "flag"] = "str"
    required: bool = False
    metavar: str | None = None


class StageFailed(RuntimeError):
    """A stage ran and failed (exit 1); raised where an Outcome cannot be returned."""
