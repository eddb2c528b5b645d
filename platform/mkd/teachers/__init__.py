"""Teacher backends behind one protocol: label(batch) -> results with usage."""

from mkd.teachers.base import LabelRequest, LabelResult, TeacherBackend, Usage

__all__ = ["LabelRequest", "LabelResult", "TeacherBackend", "Usage"]
