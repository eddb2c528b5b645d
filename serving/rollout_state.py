"""One rollout state for every Router replica: the rollback decision, shared and durable.

Each Router replica keeps its own sliding window (serving.rollout.RollbackMonitor: pure, per
replica, cheap), but the *decision* that the student is rolled back must not be per replica: with
two replicas one would roll back while the other kept routing users to a failing student, and a
replica restart (or a new replica after a scale-up) would forget it. So the decision lives in one
place outside the replicas:

    a named, detached Ray actor `mkd-rollout-state:<app name>` in the Serve namespace
    (get_if_exists=True, num_cpus=0), holding {rollback reason, student, by, at, clear id, epoch}.

Why an actor and not something else:
- It lives in the Ray cluster the replicas already talk to: no new service, credentials or
  network path, and a call is a local RPC (~1 ms), cheap enough to poll twice a second.
- Detached and named, it survives the death of the replica that created it, and every replica
  (including a restarted one) finds the same instance by name; get_if_exists=True makes the
  creation race between replicas harmless.
- Serve's own controller keeps its state the same way (a detached actor in the `serve`
  namespace), so it lives and dies with the Serve instance's Ray cluster (a new RayService
  cluster starts with a clean state, as it starts a new window).
- It is not a Serve deployment (that would be routed and load-balanced, and a deployment cannot
  be an exact singleton), nor the Serve config (a replica must not rewrite its own
  user_config: that would race with `mkd rollout set` and KubeRay, which own it).

Protocol (RolloutStateCore below, the same code in the actor and in the in-process fallback):
- A replica whose monitor trips calls `report(clear_id, student, reason, by)`: idempotent, the
  first reason for a student wins; a report made under a clear id that is no longer current (a
  replica not yet reconfigured) is ignored.
- Every replica polls `snapshot()` off the request path (a background asyncio task every
  RouterArgs.state_poll_s) and applies it: rolled back when the state holds a rollback for its
  student under its clear id.
- `mkd rollout clear` sets a new rollback_clear_id; each replica's reconfigure passes it to
  `clear(clear_id)`, which drops the rollback once (later calls with the same id do nothing).

Where Ray is not running (unit tests that build the Router directly) the Router uses
LocalRolloutState: the same interface and core, in process.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

log = logging.getLogger("ray.serve")
ACTOR_PREFIX = "mkd-rollout-state:"
NAMESPACE = "serve"


class RolloutStateCore:
    """The shared state's logic: pure, no Ray, no I/O."""

    def __init__(self) -> None:
        self.clear_id: str | None = None
        self.rollback: dict[str, Any] | None = None
        self.epoch = 0

    def snapshot(self) -> dict[str, Any]:
        """{epoch, clear_id, rollback: {reason, student, by, at} or None}."""
        return {
            "epoch": self.epoch,
            "clear_id": self.clear_id,
            "rollback": dict(self.rollback) if self.rollback else None,
        }

    def clear(self, clear_id: str) -> dict[str, Any]:
        """Make `clear_id` the current one; a new id drops the rollback (once)."""
        if clear_id != self.clear_id:
            if self.rollback is not None:
                log.warning("shared rollback cleared (rollback_clear_id=%s)", clear_id)
            self.clear_id, self.rollback = clear_id, None
            self.epoch += 1
        return self.snapshot()

    def report(self, clear_id: str, student: str, reason: str, by: str) -> dict[str, Any]:
        """Record a rollback of `student`; the first reason wins. A report under another clear id
        than the current one (a stale replica) changes nothing; the very first call sets it."""
        if self.clear_id is None:
            self.clear(clear_id)
        if clear_id != self.clear_id:
            return self.snapshot()
        if self.rollback is None or self.rollback["student"] != student:
            self.rollback = {
                "reason": reason,
                "student": student,
                "by": by,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            self.epoch += 1
        return self.snapshot()


def applies(snapshot: dict[str, Any], clear_id: str, student: str) -> dict[str, Any] | None:
    """The rollback in `snapshot` that binds a replica serving `student` under `clear_id`."""
    rollback = snapshot.get("rollback")
    if rollback and snapshot.get("clear_id") == clear_id and rollback.get("student") == student:
        return rollback
    return None


class RolloutState(Protocol):
    """What the Router needs: a read, a report and a clear. `clear_nowait` is called from the
    synchronous reconfigure(); the others are awaited off the request path."""

    async def snapshot(self) -> dict[str, Any]: ...

    async def report(self, clear_id: str, student: str, reason: str, by: str) -> dict: ...

    def clear_nowait(self, clear_id: str) -> None: ...


class LocalRolloutState:
    """The in-process state: one Router (unit tests, or no Ray). Same interface as the actor."""

    def __init__(self) -> None:
        self.core = RolloutStateCore()

    async def snapshot(self) -> dict[str, Any]:
        return self.core.snapshot()

    async def report(self, clear_id: str, student: str, reason: str, by: str) -> dict:
        return self.core.report(clear_id, student, reason, by)

    def clear_nowait(self, clear_id: str) -> None:
        self.core.clear(clear_id)


class RolloutStateActor(RolloutStateCore):
    """The detached actor's class: the core, its methods called remotely."""


class ActorRolloutState:
    """A Router's handle on the named detached actor of its application."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def snapshot(self) -> dict[str, Any]:
        return await self.handle.snapshot.remote()

    async def report(self, clear_id: str, student: str, reason: str, by: str) -> dict:
        return await self.handle.report.remote(clear_id, student, reason, by)

    def clear_nowait(self, clear_id: str) -> None:
        self.handle.clear.remote(clear_id)  # ordered after earlier calls from this replica


def actor_name(app_name: str) -> str:
    return f"{ACTOR_PREFIX}{app_name}"


def connect(app_name: str) -> ActorRolloutState:
    """The application's shared state actor, created by whichever replica comes first."""
    import ray

    cls = ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1)(RolloutStateActor)
    handle = cls.options(
        name=actor_name(app_name), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote()
    return ActorRolloutState(handle)


def default_state(app_name: str | None) -> RolloutState:
    """The actor inside a Serve replica (Ray initialised); the in-process state elsewhere."""
    try:
        import ray
    except ImportError:
        return LocalRolloutState()
    if app_name is None or not ray.is_initialized():
        return LocalRolloutState()
    try:
        return connect(app_name)
    except Exception as exc:  # the replica must serve even if the actor cannot be created
        log.error("shared rollout state unavailable, this replica decides alone", exc_info=exc)
        return LocalRolloutState()
