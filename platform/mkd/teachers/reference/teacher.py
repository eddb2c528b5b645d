"""ReferenceTeacher: the reference labeler (mkd.teachers.reference.engine) behind the
TeacherBackend protocol."""

from __future__ import annotations

from mkd.tasks.pack import TaskPack
from mkd.teachers.engine_teacher import EngineTeacher

# Bump when a rule or gazetteer change alters labels: the version enters the label-cache key.
LABELER_VERSION = "1.2"


class ReferenceTeacher(EngineTeacher):
    """Answers with ReferenceLabeler; usage counts as an LLM would see them.

    prompt_tokens estimate the full teacher prompt (instruction, schema, few-shot examples and
    the query), so cost and throughput figures match what a hosted teacher would be charged.
    """

    def __init__(self, pack: TaskPack) -> None:
        from mkd.teachers.reference.engine import ReferenceEngine

        engine = ReferenceEngine(None, pack)
        super().__init__(engine, f"reference/{LABELER_VERSION}")
        self.pack, self.labeler = pack, engine.labeler
