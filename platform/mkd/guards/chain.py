"""The guard chain: one object, built from GuardsConfig, used by labeling, serving and eval.

Input: size limits -> Unicode clean-up -> injection -> PII redaction -> domain. Every guard
runs (so a blocked query still gets its PII redacted before it is quarantined), and the most
severe finding decides (see `decision.decide`). Output: the checks of `output.py` on the
parsed answer against the text the model saw.
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from typing import Any

from mkd.config.guards import GuardsConfig
from mkd.config.pipeline import DEFAULT_PACK
from mkd.guards import domain, injection, limits, metrics, output, pii
from mkd.guards.decision import Action, Decision, Finding, decide
from mkd.tasks.pack import TaskPack, TaskSpec, load_pack

GAZETTEER = "data/gazetteers.yaml"


class GuardChain:
    """Checks queries and answers with one configuration.

    Args:
        config: the pipeline's `guards` section.
        pack: the task pack (name or loaded) whose schemas, vocabulary and gazetteer the
            guards use (None: the pipeline config's default pack).
        path: where this chain runs (`labeling`, `serving`, `eval`...): a metrics label.
    """

    def __init__(
        self,
        config: GuardsConfig | None = None,
        pack: TaskPack | str | None = None,
        path: str = "-",
    ) -> None:
        self.config = config or GuardsConfig()
        pack = DEFAULT_PACK if pack is None else pack
        self.pack = load_pack(pack) if isinstance(pack, str) else pack
        self.path = path

    @cached_property
    def _lexicon(self) -> domain.Lexicon:
        return domain.load_lexicon(self.pack.data_file(GAZETTEER), self.pack.plugin("vocabulary"))

    def _input_findings(self, raw: str) -> tuple[list[Finding], str | None]:
        cfg = self.config
        if cfg.limits.enabled and (too_big := limits.check_size(raw, cfg.limits)):
            return [too_big], None  # nothing of an oversized input is processed or kept
        cleaned = limits.clean(raw, cfg.limits) if cfg.limits.enabled else None
        text = cleaned.text if cleaned else raw
        found = list(cleaned.findings) if cleaned else []
        if not text.strip():
            return [*found, Finding(limits.GUARD, "limit.empty", Action.BLOCK)], None
        if cfg.injection.enabled:
            skeleton = cleaned.skeleton if cleaned else limits.skeleton(raw)
            found += injection.check(skeleton, cleaned.hidden if cleaned else "", cfg.injection)
        if cfg.pii.enabled:
            text, pii_found = pii.check(text, cfg.pii)
            found += pii_found
        if cfg.domain.enabled:
            found += domain.check(text, cfg.domain, self._lexicon)
        return found, text

    def check_input(self, text: str) -> Decision:
        """The verdict on a query; `Decision.text` is what may be labeled, served or stored."""
        t0 = time.perf_counter()
        if not self.config.enabled:
            return Decision(Action.ALLOW, text=text)
        found, safe_text = self._input_findings(text)
        decision = decide(found, safe_text)
        metrics.record(decision, text, "input", self.path, time.perf_counter() - t0)
        return decision

    def check_output(self, task: str | TaskSpec, query: str, value: Any) -> Decision:
        """The verdict on an answer: `value` parsed (or a JSON string), `query` as the model saw it."""
        t0 = time.perf_counter()
        spec = self.pack.task(task) if isinstance(task, str) else task
        if not (self.config.enabled and self.config.output.enabled):
            return Decision(Action.ALLOW)
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                found = [Finding(output.GUARD, "output.schema", Action.BLOCK)]
                return self._record_output(decide(found, None), query, t0)
        found = output.check(spec, query, value, self.config.output)
        return self._record_output(decide(found, None), query, t0)

    def _record_output(self, decision: Decision, query: str, t0: float) -> Decision:
        metrics.record(decision, query, "output", self.path, time.perf_counter() - t0)
        return decision

    def safe_empty(self, task: str | TaskSpec) -> Any:
        """The task's empty answer (config override, else derived from its schema); None if none."""
        spec = self.pack.task(task) if isinstance(task, str) else task
        if spec.name in self.config.empty_answers:
            return self.config.empty_answers[spec.name]
        return empty_from_schema(spec)


def empty_from_schema(spec: TaskSpec) -> Any:
    """[] for an array schema; for an object, null for nullable fields and "none" where an enum
    allows it. None when no schema-valid empty form exists (e.g. a pure category enum)."""
    schema = spec.output_schema
    if schema.get("type") == "array":
        candidate: Any = []
    elif schema.get("type") == "object":
        candidate = {}
        for name in schema.get("required", []):
            prop = schema.get("properties", {}).get(name, {})
            if "none" in prop.get("enum", []):
                candidate[name] = "none"
            elif any(alt.get("type") == "null" for alt in prop.get("anyOf", [])):
                candidate[name] = None
            else:
                return None
    else:
        return None
    return candidate if not spec.schema_errors(candidate) else None
