"""The guard chain's configuration: one section drives labeling, serving and evaluation alike."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mkd.config.base import Section

PiiKind = Literal["email", "phone", "card", "iban", "account", "pan", "aadhaar", "ssn", "upi"]
ALL_PII_KINDS: list[PiiKind] = [
    "email",
    "phone",
    "card",
    "iban",
    "account",
    "pan",
    "aadhaar",
    "ssn",
    "upi",
]


class LimitsGuardConfig(Section):
    enabled: bool = Field(True, description="Size limits and Unicode clean-up of every input.")
    max_chars: int = Field(
        2000, ge=1, description="Longest query accepted, in characters (same on the GPU cluster)."
    )
    max_bytes: int = Field(
        6000, ge=1, description="Longest query accepted, in UTF-8 bytes (same on the GPU cluster)."
    )
    bidi_action: Literal["block", "strip"] = Field(
        "block",
        description="Bidirectional overrides/isolates (RLO, LRI...): block the query or strip them.",
    )
    normalize_confusables: bool = Field(
        True,
        description="Rewrite look-alike letters (Cyrillic/Greek in Latin words, fullwidth, "
        "mathematical alphanumerics) to plain Latin before the other guards look.",
    )


class PiiGuardConfig(Section):
    enabled: bool = Field(True, description="Detect personal data in queries.")
    kinds: list[PiiKind] = Field(
        default_factory=lambda: list(ALL_PII_KINDS),
        description="Kinds of personal data looked for.",
    )
    action: Literal["redact", "block"] = Field(
        "redact", description="redact: replace each value with [KIND] and go on; block: refuse."
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: ["IN", "US", "GB"],
        description="Regions whose national phone formats are recognised (international +CC "
        "numbers always are). ISO 3166 alpha-2 codes.",
    )


class InjectionGuardConfig(Section):
    enabled: bool = Field(True, description="Detect prompt-injection and jailbreak attempts.")
    action: Literal["block", "log"] = Field(
        "block", description="block: refuse the query; log: count and log it, let it through."
    )


class DomainGuardConfig(Section):
    enabled: bool = Field(True, description="Detect queries that are not about the pack's domain.")
    action: Literal["empty", "block", "log"] = Field(
        "empty",
        description="empty: answer with the task's empty form and say so; block: refuse; "
        "log: count it and let it through.",
    )
    threshold: float = Field(
        2.0,
        description="Minimum domain score (domain terms +2, entity names +1, off-topic cues "
        "-2; from the pack's vocabulary and gazetteer) for a query to count as in domain: one "
        "domain term, or two names.",
    )


class OutputGuardConfig(Section):
    enabled: bool = Field(True, description="Check every model answer before it is used.")
    entities_in_query: bool = Field(
        True, description="Entity names must occur in the query (hallucination guard)."
    )
    dates: bool = Field(True, description="Dates well-formed (real calendar days), start <= end.")
    currency: bool = Field(True, description="Currency codes from ISO 4217.")
    categories: bool = Field(True, description="Enum values (categories, types) from the schema.")
    pii: bool = Field(True, description="No personal data in an answer.")


class GuardsConfig(Section):
    """Which guards run and how strict they are; the same section for every path."""

    enabled: bool = Field(True, description="Master switch for every guard.")
    limits: LimitsGuardConfig = Field(default_factory=LimitsGuardConfig)
    pii: PiiGuardConfig = Field(default_factory=PiiGuardConfig)
    injection: InjectionGuardConfig = Field(default_factory=InjectionGuardConfig)
    domain: DomainGuardConfig = Field(default_factory=DomainGuardConfig)
    output: OutputGuardConfig = Field(default_factory=OutputGuardConfig)
    empty_answers: dict[str, Any] = Field(
        default_factory=dict,
        description="Per task, the safe empty answer; tasks not listed derive it from their "
        "schema ([] for arrays, nulls/'none' for objects).",
    )
