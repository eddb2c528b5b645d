"""The model registry: immutable versions with lineage, and stages changed only by commands.

Layout in the store:
    registry/<name>/<version>/claim.json      the version number, taken put-if-absent first
    registry/<name>/<version>/...             the version's files, each written put-if-absent
    registry/<name>/<version>/manifest.json   written LAST: a version without it does not exist
    registry/<name>/stages.json               stage of every version + the log of every change,
                                              + `rolled_back` (version -> {reason, at, by}: the
                                              serving Router's automatic rollbacks), replaced
                                              only by compare-and-swap on its ETag

A failed export leaves a claim and maybe some files, never a manifest: it is invisible, and
its number is simply skipped. Two concurrent promotions both re-read and retry on a lost
compare-and-swap, so neither update is lost.
"""

from __future__ import annotations

import getpass
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mkd.storage import AlreadyExists, PreconditionFailed, Store
from mkd.store_layout import (
    claimed_registry_versions,
    finished_registry_versions,
    registry_names,
    registry_stages,
    version_claim,
    version_manifest,
    version_prefix,
)

STAGES = ("candidate", "canary", "production", "rejected", "archived")
# At most one version sits in these stages; promoting another one archives the previous.
EXCLUSIVE_STAGES = ("canary", "production")
# Stages that put a model in front of users (or next in line): gate failures are refused there.
GATED_STAGES = ("candidate", "canary", "production")
# THE model reference grammar; every other place (Serve args, values.schema.json, CLI) uses
# parse_ref or PINNED_REF_PATTERN below, never a parser of its own.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_REF = re.compile(rf"^(?P<name>{_NAME})(?::(?P<version>\d+)|@(?P<stage>\w+))?$")
# A reference that names one version: what a deployment may load (values.schema.json holds a copy,
# kept equal by tests/helm).
PINNED_REF_PATTERN = rf"^{_NAME}(:[0-9]+|@({'|'.join(STAGES)}))$"
REF_FORMS = "NAME:VERSION (e.g. finance-student:3) or NAME@STAGE (e.g. finance-student@production)"
_MAX_CAS_RETRIES = 50


class RegistryError(ValueError):
    """A registry operation that cannot be done as asked (unknown version, refused promotion)."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its name, number, stage and manifest."""

    name: str
    version: int
    stage: str
    manifest: dict[str, Any]
    rolled_back: dict[str, Any] | None = None  # {reason, at, by} once serving rolled it back

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def prefix(self) -> str:
        return version_prefix(self.name, self.version)

    @property
    def gates_passed(self) -> bool | None:
        gates = self.manifest.get("gates") or {}
        return gates.get("passed")


class VersionRef(NamedTuple):
    """A parsed model reference: `version` or `stage` set, or neither for a bare NAME."""

    name: str
    version: int | None
    stage: str | None

    @property
    def pinned(self) -> bool:
        return self.version is not None or self.stage is not None


def parse_ref(ref: str, pinned: bool = False) -> VersionRef:
    """`NAME:VERSION` or `NAME@STAGE` (or a bare `NAME`, the newest version, unless `pinned`).

    Raises:
        RegistryError: naming the reference and the accepted forms (and stages).
    """
    m = _REF.match(ref.strip()) if isinstance(ref, str) else None
    bare = "" if pinned else ", or NAME for the newest version"
    if not m:
        raise RegistryError(f"model reference {ref!r}: expected {REF_FORMS}{bare}")
    stage = m["stage"]
    if stage and stage not in STAGES:
        raise RegistryError(
            f"model reference {ref!r}: unknown stage {stage!r} (one of {', '.join(STAGES)}); "
            f"expected {REF_FORMS}"
        )
    parsed = VersionRef(m["name"], int(m["version"]) if m["version"] else None, stage)
    if pinned and not parsed.pinned:
        raise RegistryError(f"model reference {ref!r}: expected {REF_FORMS}{bare}")
    return parsed


class Registry:
    """Model versions and their stages in an artifact store (file:// or s3://)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every model name with at least one finished version."""
        return registry_names(self.store)

    def versions(self, name: str) -> list[int]:
        """Finished versions of `name` (those with a manifest), by number."""
        return finished_registry_versions(self.store, name)

    def get(self, name: str, version: int) -> ModelVersion:
        """One version; RegistryError naming what exists when it does not."""
        try:
            manifest = self.store.get_json(version_manifest(name, version))
        except FileNotFoundError:
            have = self.versions(name)
            raise RegistryError(
                f"model {name}:{version} does not exist (versions: {have or 'none'})"
            ) from None
        state = self._state(name)[0]
        stage = state["stages"].get(str(version), "candidate")
        return ModelVersion(name, version, stage, manifest, _rolled_back(state, version))

    def list(self, name: str) -> list[ModelVersion]:
        state = self._state(name)[0]
        stages = state["stages"]
        out = []
        for v in self.versions(name):
            manifest = self.store.get_json(version_manifest(name, v))
            out.append(
                ModelVersion(
                    name, v, stages.get(str(v), "candidate"), manifest, _rolled_back(state, v)
                )
            )
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every stage change of `name`, oldest first."""
        return self._state(name)[0]["log"]

    def resolve(self, ref: str) -> ModelVersion:
        """`NAME:3` that version; `NAME@production` the version in that stage (the newest one
        for non-exclusive stages); `NAME` the newest version."""
        name, version, stage = parse_ref(ref)
        if version is not None:
            return self.get(name, version)
        versions = self.list(name)
        if not versions:
            raise RegistryError(f"model {name!r} has no versions in {self.store.uri}")
        if stage is None:
            return versions[-1]
        in_stage = [v for v in versions if v.stage == stage]
        if not in_stage:
            raise RegistryError(f"model {name!r} has no version in stage {stage!r}")
        return in_stage[-1]

    # -- writing -------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        manifest: dict[str, Any],
        files: dict[str, Path] | None = None,
        stage: str = "candidate",
        reason: str = "",
        readme: Callable[[dict[str, Any]], str] | None = None,
    ) -> ModelVersion:
        """Create the next version: claim a number, upload files, write the manifest last.

        Args:
            name: the model name (e.g. finance-student).
            manifest: lineage and results; `version`, `created_at` and `files` are added.
            files: relative path in the version -> local file to upload.
            stage: the initial stage (candidate, or rejected when its gates failed).
            reason: why, recorded in the log.
            readme: builds the version's README.md (model card) from its final manifest.
        """
        _check_stage(stage)
        version = self._claim(name)
        prefix = version_prefix(name, version)
        hashes = {
            rel: self.store.put_file(prefix + rel, path, if_absent=True)
            for rel, path in sorted((files or {}).items())
        }
        full = {**manifest, "name": name, "version": version, "created_at": _now()}
        if readme is not None:
            card = readme(full).encode()
            hashes["README.md"] = self.store.put_bytes(prefix + "README.md", card, if_absent=True)
        full["files"] = {rel: {"sha256": h} for rel, h in sorted(hashes.items())}
        self.store.put_json(version_manifest(name, version), full, if_absent=True)
        self._change(name, version, stage, action="register", reason=reason, force=True)
        return ModelVersion(name, version, stage, full)

    def promote(
        self, ref: str, stage: str, reason: str = "", force: bool = False
    ) -> dict[str, Any]:
        """Move a version to `stage`; a version whose gates did not pass (failed, or no gate
        results) is refused for candidate/canary/production, and one that serving rolled back
        for canary/production, unless forced with a reason.

        Returns the logged event.
        """
        from mkd.release import require_gates, require_not_rolled_back

        _check_stage(stage)
        mv = self.resolve(ref)
        if stage in GATED_STAGES:
            verdict = require_gates(mv, f"promoting it to {stage}", force)
            rolled_back = stage in EXCLUSIVE_STAGES and require_not_rolled_back(
                mv, f"promoting it to {stage}", force
            )
            if (not verdict.passed or rolled_back) and not reason.strip():
                raise RegistryError(f"{mv.ref}: a forced promotion must give a reason")
        return self._change(mv.name, mv.version, stage, "promote", reason, force)

    def rollback(self, name: str, stage: str = "production", reason: str = "") -> dict[str, Any]:
        """Put the version that held `stage` before the current one back; archive the current."""
        if stage not in EXCLUSIVE_STAGES:
            raise RegistryError(f"rollback works on {EXCLUSIVE_STAGES}, not {stage!r}")
        for _ in range(_MAX_CAS_RETRIES):
            state, etag = self._state(name)
            current = _holder(state, stage)
            if current is None:
                raise RegistryError(f"model {name!r} has no version in {stage}")
            previous = _previous_holder(state, stage, current)
            if previous is None:
                raise RegistryError(
                    f"{name}:{current} is the first version in {stage}: nothing to roll back to"
                )
            event = _event(name, previous, stage, "rollback", reason, False, state)
            event["rolled_back"] = current
            state["stages"][str(current)] = "archived"
            if self._apply(name, state, etag, event, previous, stage):
                return event
        raise RegistryError(f"model {name!r}: too many concurrent changes, try again")

    def mark_rolled_back(
        self, name: str, version: int, reason: str, by: str = ""
    ) -> dict[str, Any]:
        """Record that serving rolled `name:version` back automatically (the Router's gate
        failure as `reason`); its stage is unchanged. The first mark wins (several routers may
        report one rollback); the next deploy with student traffic refuses the version unless
        forced (mkd.release.require_not_rolled_back). Returns the mark in force."""
        self.get(name, version)  # RegistryError when it does not exist
        for _ in range(_MAX_CAS_RETRIES):
            state, etag = self._state(name)
            marks = state.setdefault("rolled_back", {})
            if str(version) in marks:
                return marks[str(version)]
            stage = state["stages"].get(str(version), "candidate")
            event = _event(name, version, stage, "rolled_back", reason, False, state)
            event["by"] = by or event["by"]
            marks[str(version)] = {"reason": reason, "at": event["at"], "by": event["by"]}
            state["log"].append(event)
            if self._write_state(name, state, etag):
                return marks[str(version)]
        raise RegistryError(f"model {name!r}: too many concurrent changes, try again")

    # -- internals -----------------------------------------------------------------------------
    def _claim(self, name: str) -> int:
        version = max(claimed_registry_versions(self.store, name), default=0) + 1
        while True:
            try:
                self.store.put_json(
                    version_claim(name, version),
                    {"claimed_at": _now(), "by": _actor()},
                    if_absent=True,
                )
                return version
            except AlreadyExists:  # someone registered concurrently: take the next number
                version += 1

    def _state(self, name: str) -> tuple[dict[str, Any], str | None]:
        try:
            data, etag = self.store.get_versioned(registry_stages(name))
        except FileNotFoundError:
            return {"stages": {}, "log": []}, None
        return json.loads(data), etag

    def _change(
        self, name: str, version: int, stage: str, action: str, reason: str, force: bool
    ) -> dict[str, Any]:
        for _ in range(_MAX_CAS_RETRIES):
            state, etag = self._state(name)
            event = _event(name, version, stage, action, reason, force, state)
            if self._apply(name, state, etag, event, version, stage):
                return event
        raise RegistryError(f"model {name!r}: too many concurrent changes, try again")

    def _apply(
        self, name: str, state: dict, etag: str | None, event: dict, version: int, stage: str
    ) -> bool:
        """Set the stage (archiving an exclusive stage's holder), log, compare-and-swap."""
        if stage in EXCLUSIVE_STAGES:
            holder = _holder(state, stage)
            if holder is not None and holder != version:
                state["stages"][str(holder)] = "archived"
                event["displaced"] = holder
        state["stages"][str(version)] = stage
        state["log"].append(event)
        return self._write_state(name, state, etag)

    def _write_state(self, name: str, state: dict, etag: str | None) -> bool:
        """Compare-and-swap stages.json; False (after a short pause) when another writer won."""
        data = json.dumps(state, indent=2, ensure_ascii=False).encode()
        try:
            self.store.put_if_match(registry_stages(name), data, etag)
        except PreconditionFailed:
            time.sleep(0.01)
            return False
        return True


def _rolled_back(state: dict, version: int) -> dict[str, Any] | None:
    return (state.get("rolled_back") or {}).get(str(version))


def _holder(state: dict, stage: str) -> int | None:
    found = [int(v) for v, s in state["stages"].items() if s == stage]
    return max(found) if found else None


def _previous_holder(state: dict, stage: str, current: int) -> int | None:
    """The last version before `current` that entered `stage` and was neither rejected nor rolled
    back by serving since."""
    for event in reversed(state["log"]):
        v = event["version"]
        if (
            event["to"] == stage
            and event["action"] != "rolled_back"
            and v != current
            and state["stages"].get(str(v)) != "rejected"
            and _rolled_back(state, v) is None
        ):
            return v
    return None


def _event(
    name: str, version: int, stage: str, action: str, reason: str, force: bool, state: dict
) -> dict[str, Any]:
    return {
        "seq": len(state["log"]) + 1,
        "at": _now(),
        "by": _actor(),
        "action": action,
        "model": name,
        "version": version,
        "from": state["stages"].get(str(version)),
        "to": stage,
        "reason": reason,
        "forced": force and action == "promote",
    }


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise RegistryError(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database in some containers
        return "unknown"
