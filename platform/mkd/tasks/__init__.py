"""Task packs: a task is data (instruction, output JSON Schema, scorer, examples)."""

from mkd.tasks.pack import TaskPack, TaskSpec, available_packs, load_pack
from mkd.tasks.prompts import student_messages, teacher_messages

__all__ = [
    "TaskPack",
    "TaskSpec",
    "available_packs",
    "load_pack",
    "student_messages",
    "teacher_messages",
]
