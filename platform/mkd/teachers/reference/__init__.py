"""The `reference` teacher: a deterministic, offline labeler for the finance pack.

    from mkd.tasks import load_pack
    from mkd.teachers.reference import ReferenceLabeler, ReferenceTeacher
    labeler = ReferenceLabeler(load_pack("finance"))
    labeler.predict("currency_identifier", "Indian startups with more than ₹1,000 crore in ARR")

See docs/reference-teacher.md for the rules and their measured accuracy.
"""

from mkd.teachers.reference.labeler import ReferenceLabeler
from mkd.teachers.reference.teacher import LABELER_VERSION, ReferenceTeacher

__all__ = ["LABELER_VERSION", "ReferenceLabeler", "ReferenceTeacher"]
