"""The canary monitor of one Router replica: the live RouterConfig, the sliding window of student
outcomes, agreement scores and latencies (serving.rollout.RollbackMonitor), the automatic
rollback, and its sharing through serving.rollout_state.

The rollback decision is shared by every Router replica and survives a replica restart: a replica
that decides one reports it to the shared state, every replica polls that state, and the replica
whose report won marks the registry version rolled back (mkd.registry.Registry.mark_rolled_back).
Only a new `rollback_clear_id` lifts a rollback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from mkd.serve.config import AppArgs, RouterConfig

from serving import policy
from serving.metrics import RouterMetrics
from serving.rollout import Outcome, RollbackMonitor, Side
from serving.rollout_state import RolloutState, applies

log = logging.getLogger("ray.serve")
FIRST_SYNC_WAIT_S = 2.0  # a restarted replica waits this long for the shared state, then routes


async def _resolve(response: Any) -> Any:
    return await response


def student_identity(args: AppArgs) -> str:
    """What a rollback is about: the registry reference, else the model files. A new student
    (another version or model) starts without the old one's rollback."""
    s = args.student
    return s.version or f"{s.base_uri}|{s.adapter or ''}|{sorted(s.task_adapters.items())}"


def mark_rolled_back(args: AppArgs, ref: str, loaded: str | None, reason: str, by: str) -> None:
    """Mark the loaded version (the Student's `name:N` label, else `ref` resolved) rolled back."""
    from mkd.registry import Registry, RegistryError, parse_ref
    from mkd.storage import open_store

    registry = Registry(open_store(args.store))
    try:
        parsed = parse_ref(loaded or "", pinned=True)
        version = parsed.version
        name = parsed.name
    except RegistryError:
        version = None
    if version is None:
        mv = registry.resolve(ref)
        name, version = mv.name, mv.version
    registry.mark_rolled_back(name, version, reason, by=f"router {by}")
    log.warning("registry: %s:%s marked rolled back (%s)", name, version, reason)


class CanaryMonitor:
    """Live config, rollback window and shared rollback state of one Router replica."""

    def __init__(
        self,
        args: AppArgs,
        metrics: RouterMetrics,
        state: RolloutState,
        replica_name: str,
        student_info: Callable[[], Any] | None = None,
    ) -> None:
        self.args, self.metrics, self.state = args, metrics, state
        self.tasks = list(args.tasks)
        self.replica_name = replica_name
        self.student_id = student_identity(args)
        self._student_info = student_info  # awaitable factory: the Student's info (its version)
        self.config = RouterConfig()
        self.monitor = RollbackMonitor(self.config.rollback)
        self.rolled_back: str | None = None
        self.rolled_back_by: str | None = None
        self.last_gate_failure: str | None = None
        self.synced = False  # the shared state has this replica's clear id
        self._poller: asyncio.Task | None = None
        self._first_sync: asyncio.Task | None = None
        self._sync_wait_until = 0.0
        self.reports: set[asyncio.Task] = set()

    # --- live configuration -------------------------------------------------------------------

    def reconfigure(self, user_config: dict | None) -> None:
        """Apply a new RouterConfig. Only a new `rollback_clear_id` (mkd rollout clear) lifts a
        rollback and restarts the window; weight, mode and policy changes keep both."""
        new = policy.validate_live_config(user_config, self.tasks)
        if new.rollback_clear_id != self.config.rollback_clear_id:
            if self.rolled_back:
                log.warning("rollback cleared (rollback_clear_id=%s)", new.rollback_clear_id)
            self.monitor = RollbackMonitor(new.rollback)
            self.rolled_back = self.rolled_back_by = None
            if self.synced:  # before the first sync, that sync sends the id in force
                self.state.clear_nowait(new.rollback_clear_id)
        elif self.monitor.policy != new.rollback:
            self.monitor = self.monitor.with_policy(new.rollback)
        self.config = new
        log.info(
            "router config: mode=%s weight=%s rolled_back=%s",
            new.mode,
            new.student_weight,
            self.rolled_back is not None,
        )
        self.publish_weights()

    def weight(self, task: str) -> tuple[str, float]:
        """(mode, student weight in force) for `task`."""
        return policy.effective(self.config, task, self.rolled_back is not None)

    def publish_weights(self) -> None:
        self.metrics.rolled_back.set(1.0 if self.rolled_back else 0.0)
        for task in self.tasks:
            self.metrics.configured_weight.labels(task).set(self.config.for_task(task)[1])
            self.metrics.weight.labels(task).set(self.weight(task)[1])

    # --- the window ---------------------------------------------------------------------------

    def record(self, outcome: Outcome) -> None:
        """One student attempt: ok, fallback (the teacher answered instead) or error."""
        self.monitor.record(outcome)
        self.check_rollback()

    def record_latency(self, side: Side, seconds: float) -> None:
        self.monitor.record_latency(side, seconds)

    def record_agreement(self, task: str, score: float, source: str) -> None:
        """The score of a mirrored or shadow pair (student vs teacher)."""
        self.monitor.record_agreement(score)
        self.metrics.agreement.labels(task, source).observe(score)
        stats = self.monitor.stats()
        if stats.agreement is not None:
            self.metrics.agreement_mean.set(stats.agreement)
        self.check_rollback()

    def check_rollback(self) -> None:
        """Roll the student back when a gate fails while it takes user traffic."""
        reason = self.monitor.check()
        if reason is None:
            return
        self.last_gate_failure = reason
        if self.rolled_back or not policy.canary_on(self.config, self.tasks, False):
            return
        self.rolled_back, self.rolled_back_by = reason, self.replica_name
        self.metrics.rollbacks.inc()
        log.warning("automatic rollback: student weight set to 0 (%s)", reason)
        self.publish_weights()
        self._report(reason)

    def status(self) -> dict:
        """Mode, weights in force, this replica's rollback and the window's figures."""
        return {
            "mode": self.config.mode,
            "student_weight": self.config.student_weight,
            "effective_weights": {t: self.weight(t)[1] for t in self.tasks},
            "task_overrides": {k: v.model_dump() for k, v in self.config.task_overrides.items()},
            "rolled_back": self.rolled_back is not None,
            "rollback_reason": self.rolled_back,
            "rolled_back_by": self.rolled_back_by,
            "last_gate_failure": self.last_gate_failure,
            "window": self.monitor.stats().as_dict(),
        }

    # --- the shared rollout state (serving.rollout_state) --------------------------------------

    async def sync_state(self) -> None:
        """Start the poller once; until the first read has landed, wait for it, for at most
        FIRST_SYNC_WAIT_S after this replica's first request (a restarted replica must know about
        a rollback before it routes; an unreachable state must not slow every request down)."""
        if self._poller is None:
            loop = asyncio.get_running_loop()
            self._poller = loop.create_task(self._poll())
            self._first_sync = loop.create_task(self.refresh())
            self._sync_wait_until = time.monotonic() + FIRST_SYNC_WAIT_S
        remaining = self._sync_wait_until - time.monotonic()
        if not self.synced and self._first_sync is not None and remaining > 0:
            try:
                await asyncio.wait_for(asyncio.shield(self._first_sync), remaining)
            except Exception as exc:  # route with what this replica knows; the poller retries
                log.warning("shared rollout state not read yet", exc_info=exc)

    async def _poll(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.refresh(), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("shared rollout state: read failed", exc_info=exc)
            await asyncio.sleep(self.args.router.state_poll_s)

    async def refresh(self) -> None:
        """Read the shared state once (what the poller does every state_poll_s)."""
        if not self.synced:
            self.state.clear_nowait(self.config.rollback_clear_id)  # no-op for the id in force
        snapshot = await self.state.snapshot()
        self.synced = True
        self._apply_state(snapshot)

    def _apply_state(self, snapshot: dict) -> None:
        """Adopt a rollback the state holds for this student and clear id (the first reason
        wins); re-report this replica's own when the state lost it. Lifting happens only
        through a new rollback_clear_id (reconfigure)."""
        shared = applies(snapshot, self.config.rollback_clear_id, self.student_id)
        if shared is not None:
            if self.rolled_back != shared["reason"] or self.rolled_back_by != shared["by"]:
                if not self.rolled_back:
                    log.warning(
                        "rollback decided by router %s: student weight set to 0 (%s)",
                        shared["by"],
                        shared["reason"],
                    )
                self.rolled_back, self.rolled_back_by = shared["reason"], shared["by"]
                self.publish_weights()
        elif self.rolled_back and snapshot.get("clear_id") in (None, self.config.rollback_clear_id):
            self._report(self.rolled_back)

    def _report(self, reason: str) -> None:
        coro = self._report_async(reason)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a synchronous caller (unit tests): run it to the end now
            asyncio.run(coro)
            return
        task = loop.create_task(coro)
        self.reports.add(task)
        task.add_done_callback(self.reports.discard)

    async def _report_async(self, reason: str) -> None:
        clear_id = self.config.rollback_clear_id
        if not self.synced:  # the state must know this replica's clear id first
            self.state.clear_nowait(clear_id)
            self.synced = True
        try:
            snapshot = await self.state.report(clear_id, self.student_id, reason, self.replica_name)
        except Exception as exc:
            log.error("shared rollout state: report failed (the poller retries)", exc_info=exc)
            return
        self._apply_state(snapshot)
        shared = applies(snapshot, clear_id, self.student_id)
        if shared is not None and shared["by"] == self.replica_name and self.args.student.version:
            await self._mark_registry(shared["reason"])

    async def _mark_registry(self, reason: str) -> None:
        """Mark the registry version as rolled back (the next deploy refuses it unless forced)."""
        ref = self.args.student.version
        loaded = None
        if self._student_info is not None:
            try:
                info = await asyncio.wait_for(_resolve(self._student_info()), 10)
                loaded = info.get("version")
            except Exception:  # the student may be what is failing: resolve the reference
                loaded = None
        try:
            await asyncio.to_thread(
                mark_rolled_back, self.args, ref, loaded, reason, self.replica_name
            )
        except Exception as exc:
            log.error("could not mark %s rolled back in the registry", ref, exc_info=exc)
