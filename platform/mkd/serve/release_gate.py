"""The deploy-time gate check of a Serve config: does its student take user traffic, and may its
registry version take it? Used by `mkd serve` (before deploying) and `mkd rollout set` (before a
weight above 0); the Student applies the same rule when it starts (mkd.release).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mkd.release import GateVerdict, require_gates, require_not_rolled_back
from mkd.serve.config import AppArgs, RouterConfig


def initial_router_config(app: dict[str, Any]) -> RouterConfig:
    """The Router's live settings Serve starts with: deployments[Router].user_config, else
    args.router.user_config, else the defaults (shadow)."""
    for dep in app.get("deployments") or []:
        if dep.get("name") == "Router" and dep.get("user_config") is not None:
            return RouterConfig.model_validate(dep["user_config"])
    router = (app.get("args") or {}).get("router") or {}
    return RouterConfig.model_validate(router.get("user_config") or {})


def mark_shadow_only(app: dict[str, Any]) -> bool:
    """Set args.student.shadow_only from the initial routing (what the chart renders too); return
    whether the student takes traffic from the start."""
    args = app.setdefault("args", {})
    tasks = AppArgs.model_validate(args).tasks
    takes = initial_router_config(app).student_takes_traffic(tasks)
    args.setdefault("student", {})["shadow_only"] = not takes
    return takes


def check_student_version(
    app: dict[str, Any], router: RouterConfig, force: bool, action: str
) -> GateVerdict | None:
    """The gate verdict of the app's registry version when `router` sends it user traffic
    (its `rolled_back` set to the reason when serving rolled it back and it was forced).

    Returns None when there is nothing to check (no registry version, or no student traffic).

    Raises:
        mkd.release.GatesNotPassed: the version's gates did not pass and neither `force` nor
            args.student.allow_unpromoted allows it; the message names the failed gates.
        mkd.release.RolledBack: serving rolled the version back (registry mark), not forced;
            the message names the reason.
        mkd.registry.RegistryError: the version cannot be resolved in args.store.
    """
    from mkd.registry import Registry
    from mkd.storage import open_store

    args = AppArgs.model_validate(app.get("args") or {})
    if not args.student.version or not router.student_takes_traffic(args.tasks):
        return None
    mv = Registry(open_store(args.store)).resolve(args.student.version)
    forced = force or args.student.allow_unpromoted
    verdict = require_gates(mv, action, forced)
    reason = require_not_rolled_back(mv, action, forced)
    return replace(verdict, rolled_back=reason) if reason else verdict
