"""make_teacher: the backend a TeacherConfig names, built lazily (GPU code imports only there)."""

from __future__ import annotations

from mkd.config.teacher import TeacherConfig
from mkd.tasks import TaskPack
from mkd.teachers.base import TeacherBackend


def make_teacher(cfg: TeacherConfig, pack: TaskPack, share: int = 1) -> TeacherBackend:
    """Build the teacher backend selected by `cfg.backend`.

    Args:
        cfg: the teacher config section.
        pack: the task pack (prompts, schemas, examples).
        share: how many copies run at once (Ray actors); rate limit and budget are split.

    Raises:
        ValueError: for a backend name this version does not know.
    """
    if cfg.backend == "openai":
        from mkd.teachers.openai_backend import OpenAITeacher

        return OpenAITeacher(cfg, pack, share=share)
    if cfg.backend == "reference":
        return make_reference_teacher(pack)
    if cfg.backend == "hf":
        from mkd.teachers.hf_backend import HFTeacher

        return HFTeacher(cfg, pack)
    if cfg.backend == "vllm":
        from mkd.teachers.vllm_backend import VLLMTeacher

        return VLLMTeacher(cfg, pack)
    raise ValueError(f"teacher.backend: unknown backend {cfg.backend!r}")


def make_reference_teacher(pack: TaskPack) -> TeacherBackend:
    """The pack's own offline teacher (pack.yaml `plugins.reference_teacher`).

    Raises:
        ValueError: the pack names no reference teacher.
    """
    teacher_class = pack.plugin("reference_teacher")
    if teacher_class is None:
        raise ValueError(
            f"teacher.backend: reference needs a reference teacher, and pack {pack.name!r} "
            "names none (pack.yaml plugins.reference_teacher)"
        )
    return teacher_class(pack)
