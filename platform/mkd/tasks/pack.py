"""Loading task packs (YAML + JSON Schema) shipped as package data or from a user directory."""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field

PACKS_DIR = Path(__file__).parent / "packs"
ScorerName = Literal["exact_match", "entity_overlap", "json_equal", "date_items"]


class TaskExample(BaseModel):
    """One few-shot example: the query, optional context and the canonical answer."""

    input: str
    output: Any
    context: dict[str, Any] | None = None


class TaskSpec(BaseModel):
    """A task as data: everything a teacher, student, scorer and server need to know of it."""

    model_config = ConfigDict(frozen=True)

    name: str
    instruction: str
    output_schema: dict[str, Any] = Field(description="JSON Schema of the parsed output.")
    scorer: ScorerName
    max_output_tokens: int = Field(64, ge=1)
    prompt_version: str = "1"
    examples: tuple[TaskExample, ...] = ()

    @cached_property
    def validator(self) -> jsonschema.protocols.Validator:
        cls = jsonschema.validators.validator_for(self.output_schema)
        return cls(self.output_schema)

    def schema_errors(self, value: Any) -> list[str]:
        """Messages for every way `value` breaks the output schema (empty when valid)."""
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator.iter_errors(value)
        ]


class TaskPack(BaseModel):
    """A named set of tasks sharing domain conventions (as_of default, fiscal-year start)."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    description: str = ""
    default_as_of: str = "2026-01-15"
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    conventions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gold: str | None = Field(
        "data/gold.jsonl",
        description="Hand-labeled records (JSONL, inside the pack); evaluation scores every "
        "model against them where a test query has one. None: the pack has none.",
    )
    tasks: dict[str, TaskSpec]
    root: Path

    def task(self, name: str) -> TaskSpec:
        """The task called `name`; KeyError naming the known tasks otherwise."""
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(self.tasks)
            raise KeyError(f"unknown task {name!r} (pack {self.name!r} has: {known})") from None

    def data_file(self, relative: str) -> Path:
        """A data file shipped inside the pack directory (curated prompts, red-team set...)."""
        return self.root / relative

    def gold_answers(self) -> dict[tuple[str, str], str]:
        """{(query, task): the human label} from the pack's gold file ({} without one)."""
        import json

        path = self.root / self.gold if self.gold else None
        if path is None or not path.exists():
            return {}
        found = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                found[(rec["input"], rec["task"])] = rec["output"]
        return found

    def as_of(self, context: dict[str, Any] | None) -> str:
        return (context or {}).get("as_of") or self.default_as_of


def available_packs() -> list[str]:
    """Names of the packs shipped with MKD."""
    return sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").is_file())


@lru_cache(maxsize=16)
def load_pack(name_or_path: str = "finance") -> TaskPack:
    """Load a shipped pack by name, or a user pack from a directory holding pack.yaml."""
    root = Path(name_or_path)
    if not (root / "pack.yaml").is_file():
        root = PACKS_DIR / name_or_path
    if not (root / "pack.yaml").is_file():
        raise FileNotFoundError(
            f"no task pack {name_or_path!r}: not a directory with pack.yaml, "
            f"nor a shipped pack ({', '.join(available_packs())})"
        )
    raw = yaml.safe_load((root / "pack.yaml").read_text(encoding="utf-8"))
    tasks = {}
    for entry in raw.pop("tasks"):
        schema = json.loads((root / entry.pop("schema")).read_text(encoding="utf-8"))
        tasks[entry["name"]] = TaskSpec(output_schema=schema, **entry)
    return TaskPack(tasks=tasks, root=root, **raw)
