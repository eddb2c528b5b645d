"""Loading task packs (YAML + JSON Schema + plug-ins) shipped with MKD or from a directory.

A pack is a folder with pack.yaml. Generic code knows no pack by name: everything pack-specific
(reference teacher, domain vocabulary) is named in pack.yaml's `plugins` by
import path (mkd.tasks.plugins) and reached through the loaded TaskPack. Loading compiles every
task's output schema to its decoding grammar, so a schema the constrained decoder cannot encode
fails here, naming the pack, the task and the JSON pointer, never at request time.
"""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mkd.decoding.grammar import Grammar, UnsupportedSchema
from mkd.tasks.plugins import PluginError, resolve

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
    def standard_schema(self) -> dict[str, Any]:
        """The output schema without MKD's `x-mkd-*` decoding hints (what other tools get:
        teacher prompts, OpenAI's strict json_schema, llama.cpp and vLLM grammars)."""
        return _without_hints(self.output_schema)

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


def _without_hints(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_hints(v) for k, v in node.items() if not k.startswith("x-mkd-")}
    if isinstance(node, list):
        return [_without_hints(v) for v in node]
    return node


class PackError(ValueError):
    """A pack that cannot be used: bad pack.yaml, a schema the decoder cannot encode, a plug-in
    that does not import. The message names the pack and the field, task or pointer."""


class PackPlugins(BaseModel):
    """Pack-specific code, each an import path `module:attr` (mkd.tasks.plugins.resolve)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference_teacher: str | None = Field(
        None,
        description="A class taking the TaskPack whose instances are TeacherBackends: "
        "`teacher.backend: reference` labels with it (offline, deterministic).",
    )
    vocabulary: str | None = Field(
        None,
        description="A module (or object) with the domain guard's word lists: STRONG, "
        "STRONG_PHRASES, WEAK, WEAK_PHRASES, OFF_TOPIC, OFF_TOPIC_PHRASES (each optional). "
        "None: only the pack's gazetteer feeds the domain guard.",
    )


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
    plugins: PackPlugins = Field(default_factory=PackPlugins)
    tasks: dict[str, TaskSpec]
    root: Path

    def plugin(self, kind: str) -> Any:
        """The object pack.yaml's `plugins.<kind>` names, or None when the pack names none.

        Raises:
            PackError: the reference does not import (checked once at load already).
        """
        ref = getattr(self.plugins, kind)
        if ref is None:
            return None
        try:
            return resolve(ref, self.name, self.root)
        except PluginError as exc:
            raise PackError(f"pack {self.name!r}: plugins.{kind}: {exc}") from None

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


def pack_root(name_or_path: str | Path) -> Path:
    """The folder of a pack: a directory holding pack.yaml, else a shipped pack's name."""
    root = Path(name_or_path).expanduser()
    if not (root / "pack.yaml").is_file():
        root = PACKS_DIR / str(name_or_path)
    if not (root / "pack.yaml").is_file():
        raise FileNotFoundError(
            f"no task pack {str(name_or_path)!r}: not a directory with pack.yaml, "
            f"nor a shipped pack ({', '.join(available_packs())})"
        )
    return root.resolve()


@lru_cache(maxsize=16)
def load_pack(name_or_path: str) -> TaskPack:
    """Load a shipped pack by name, or a pack from a directory holding pack.yaml.

    Raises:
        FileNotFoundError: no such pack.
        PackError: pack.yaml, a schema or a plug-in is wrong (the message names which), or a
            task's schema uses a construct the constrained decoder cannot encode.
    """
    root = pack_root(name_or_path)
    raw = yaml.safe_load((root / "pack.yaml").read_text(encoding="utf-8"))
    name = raw.get("name", root.name) if isinstance(raw, dict) else root.name
    try:
        pack = TaskPack(tasks=_load_tasks(raw, root, name), root=root, **raw)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PackError(f"pack {name!r} ({root / 'pack.yaml'}): {where}") from None
    for kind in PackPlugins.model_fields:
        pack.plugin(kind)  # a plug-in that does not import fails now, not in the middle of a job
    return pack


def _load_tasks(raw: Any, root: Path, pack_name: str) -> dict[str, TaskSpec]:
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list):
        raise PackError(f"pack {pack_name!r}: tasks: a list of tasks is required")
    tasks = {}
    for i, entry in enumerate(raw.pop("tasks")):
        where = f"pack {pack_name!r}, tasks[{i}]"
        if not isinstance(entry, dict) or "schema" not in entry or "name" not in entry:
            raise PackError(f"{where}: each task needs `name` and `schema`")
        where = f"pack {pack_name!r}, task {entry['name']!r}"
        try:
            schema = json.loads((root / entry.pop("schema")).read_text(encoding="utf-8"))
            spec = TaskSpec(output_schema=schema, **entry)
        except (OSError, ValueError) as exc:
            raise PackError(f"{where}: {exc}") from None
        _check_grammar(spec, where)
        tasks[spec.name] = spec
    return tasks


def _check_grammar(spec: TaskSpec, where: str) -> None:
    """Compile the task's decoding grammar now: an unsupported schema fails at pack load."""
    try:
        jsonschema.validators.validator_for(spec.output_schema).check_schema(spec.output_schema)
        Grammar(spec.output_schema)
    except jsonschema.SchemaError as exc:
        raise PackError(f"{where}: not a JSON Schema: {exc.message}") from None
    except UnsupportedSchema as exc:
        raise PackError(
            f"{where}: the output schema cannot be decoded under constraint at "
            f"{exc.pointer or '/'}: {exc.reason}"
        ) from None
