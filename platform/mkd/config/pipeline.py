"""The whole pipeline's configuration: one YAML file drives every stage."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from mkd.config.base import Section
from mkd.config.data import DataConfig
from mkd.config.demo import DemoConfig
from mkd.config.evaluation import EvaluationConfig
from mkd.config.export import ExportConfig
from mkd.config.guards import GuardsConfig
from mkd.config.loop import LoopConfig
from mkd.config.store import StoreConfig
from mkd.config.teacher import TeacherConfig
from mkd.config.training import TrainingConfig
from mkd.tasks import load_pack

# The one default pack name: every other place that needs a pack without being given one
# (a guard chain built bare, `mkd tasks list`) takes this, so no generic module names a pack.
DEFAULT_PACK = "finance"


class PipelineConfig(Section):
    """Root config. Every field has a default that works on a 2-core CPU machine."""

    name: str = Field("finance", description="Pipeline name; prefixes datasets, runs and models.")
    pack: str = Field(
        DEFAULT_PACK,
        description="Task pack: a shipped pack's name or a directory holding pack.yaml "
        "(e.g. examples/packs/support; a relative one is taken from the working directory).",
    )
    tasks: list[str] = Field(
        default_factory=list,
        description="Tasks of the pack that this pipeline distills (empty: all of them, in the "
        "pack's order).",
    )
    seed: int = Field(42, description="Seed for augmentation, splits and training.")
    store: StoreConfig = Field(default_factory=StoreConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)

    @field_validator("tasks")
    @classmethod
    def _tasks_exist(cls, tasks: list[str], info: ValidationInfo) -> list[str]:
        if "pack" not in info.data:
            return tasks  # the pack field already carries its own error
        known = load_pack(info.data["pack"]).tasks
        if not tasks:
            return list(known)
        bad = [(i, t) for i, t in enumerate(tasks) if t not in known]
        if bad:
            raise ValueError("; ".join(f"tasks[{i}]: unknown task {t!r}" for i, t in bad))
        return tasks

    @field_validator("pack")
    @classmethod
    def _pack_exists(cls, pack: str) -> str:
        try:
            load_pack(pack)
        except (FileNotFoundError, ValueError) as exc:  # pydantic only collects ValueError
            raise ValueError(str(exc)) from None
        return pack
