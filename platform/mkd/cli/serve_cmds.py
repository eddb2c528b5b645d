"""`mkd serve` and `mkd rollout ...`: run the Serve app locally and steer a running one.

`mkd rollout set` and `mkd rollout clear` change deployments[Router].user_config through the Ray
dashboard's Serve REST API (PUT /api/serve/applications/), the same update KubeRay applies from a
RayService: replicas are reconfigured in place, never restarted. Only `clear` lifts an automatic
rollback; `set` keeps it and the rollback window's samples.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from rich.table import Table

from mkd.cli.console import console, fail
from mkd.cli.refs import model_ref_option
from mkd.registry import REF_FORMS

if TYPE_CHECKING:
    from mkd.services.ray_local import RayCluster

rollout_app = typer.Typer(
    help="Inspect and steer the canary rollout of a running app.", no_args_is_help=True
)

DASHBOARD = typer.Option(
    "http://127.0.0.1:8265", "--dashboard", envvar="MKD_RAY_DASHBOARD", help="Ray dashboard URL."
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(rollout_app, name="rollout")


def serve(
    config: Path = typer.Option(
        Path("configs/serve.yaml"),
        "-c",
        "--config",
        exists=True,
        dir_okay=False,
        help="Serve config (ServeDeploySchema YAML).",
    ),
    port: int = typer.Option(0, "--port", help="HTTP port on 127.0.0.1 (0: a free one)."),
    student: str | None = typer.Option(None, "--student", help="Override args.student.model_uri."),
    version: str | None = typer.Option(
        None,
        "--version",
        callback=model_ref_option,
        help=f"Serve this registry version (args.student.version): {REF_FORMS}.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Serve a registry version whose gates did not pass with student traffic "
        "(sets args.student.allow_unpromoted).",
    ),
) -> None:
    """Start a local Ray cluster on 127.0.0.1, deploy the app, block with a status line.

    A registry version that the Router sends traffic to from the start (split mode, weight > 0)
    must have passed its gates and not have been rolled back by serving (registry mark), unless
    --force; in shadow any version is served.
    Example: mkd serve -c configs/serve.yaml --version finance-student@candidate
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from mkd.serve import control
    from mkd.services.ports import free_ports
    from mkd.services.ray_local import start_ray_cluster
    from mkd.services.signals import sigterm_as_interrupt

    try:
        cfg = control.load_serve_config(config)
    except ValueError as exc:
        fail(str(exc))
    port = port or free_ports(1)[0]
    cfg = control.with_http_port(cfg, port)
    app_entry = control.mkd_app(cfg)
    student_args = app_entry.setdefault("args", {}).setdefault("student", {})
    if student:
        student_args["model_uri"] = student
    if version:
        student_args["version"] = version
    if force:
        student_args["allow_unpromoted"] = True
    _check_gates_before_deploy(app_entry, force)
    with sigterm_as_interrupt():  # SIGTERM (kill, systemd, a container stop) unwinds as Ctrl-C
        console.print("starting a local Ray cluster on 127.0.0.1 ...")
        cluster = start_ray_cluster()
        failure: str | None = None
        try:
            _deploy_and_watch(cluster, cfg, port)
        except KeyboardInterrupt:
            console.print("stopping")
        except control.ServeControlError as exc:
            failure = str(exc)
        finally:  # a failed deploy keeps the Ray logs: the replica's traceback is in them
            kept = cluster.stop(keep_logs_in=_logs_dir() if failure else None)
    if failure:
        where = f"\nRay logs kept in {kept} (replicas: {kept}/serve/)" if kept else ""
        fail(failure + where)


def _logs_dir() -> Path:
    """A fresh private directory for the logs of a cluster whose deploy failed."""
    import tempfile

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"mkd-serve-logs-{stamp}-"))


def _deploy_and_watch(cluster: RayCluster, cfg: dict, port: int) -> None:
    """Deploy `cfg` on `cluster`, wait until it is RUNNING, then show the status line forever."""
    from mkd.serve import control

    control.deploy(cluster.dashboard_url, cfg)
    with console.status("deploying (loading the student) ..."):
        control.wait_running(cluster.dashboard_url)
    console.print(f"[green]serving[/] http://127.0.0.1:{port}  (dashboard {cluster.dashboard_url})")
    console.print(
        f"steer it: MKD_RAY_DASHBOARD={cluster.dashboard_url} mkd rollout set --weight 0.05"
    )
    _status_loop(cluster.dashboard_url, port)


def _check_gates_before_deploy(app_entry: dict, force: bool) -> None:
    """Refuse (exit 1, failed gates named) before a cluster starts; mark shadow-only starts."""
    from mkd.registry import RegistryError
    from mkd.serve.release_gate import (
        check_student_version,
        initial_router_config,
        mark_shadow_only,
    )

    mark_shadow_only(app_entry)
    try:
        verdict = check_student_version(
            app_entry, initial_router_config(app_entry), force, "serving it with student traffic"
        )
    except RegistryError as exc:
        if not force:
            fail(str(exc))
        console.print(f"[yellow]FORCED[/] without a gate record: {exc}")
        return
    if verdict is not None and not verdict.clean:
        console.print(f"[yellow]FORCED[/]: serving {verdict.ref} with student traffic, "
                      f"{verdict.describe()}")  # fmt: skip


def _status_loop(dashboard: str, port: int) -> None:
    import httpx

    token = os.environ.get("MKD_SERVE_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with console.status("") as line:
        while True:
            try:
                s = httpx.get(
                    f"http://127.0.0.1:{port}/v1/rollout", headers=headers, timeout=5
                ).json()
                w = s["window"]
                line.update(
                    f"mode={s['mode']} weight={s['student_weight']} rolled_back={s['rolled_back']} "
                    f"attempts={w['attempts']} fallback={w['fallback_rate']:.2f} agreement={w['agreement']}"
                )
            except Exception as exc:  # the status line must survive a restarting replica
                line.update(f"status unavailable: {exc}")
            time.sleep(2)


@rollout_app.command("status")
def rollout_status(
    dashboard: str = DASHBOARD,
    url: str | None = typer.Option(
        None, "--url", help="App URL for live window figures (GET /v1/rollout)."
    ),
) -> None:
    """Print the Router's live config from the cluster, and the router's window when --url is given.

    Example: mkd rollout status --dashboard http://127.0.0.1:8265
    """
    from mkd.serve import control

    try:
        config = control.current_config(dashboard)
        app = control.mkd_app(config)
        live = control.deployment_entry(app, "Router").get("user_config") or {}
        state = control.status(dashboard)["applications"].get(control.APP_NAME, {})
    except Exception as exc:
        fail(f"cannot read the Serve config from {dashboard}: {exc}")
    console.print(f"application {control.APP_NAME}: {state.get('status')}")
    console.print(
        f"mode={live.get('mode')} student_weight={live.get('student_weight')} overrides={live.get('task_overrides') or {}}"
    )
    if url:
        import httpx

        token = os.environ.get("MKD_SERVE_TOKEN", "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        s = httpx.get(url.rstrip("/") + "/v1/rollout", headers=headers, timeout=10).json()
        console.print(f"effective weights: {s['effective_weights']}")
        by = f" (decided by router {s['rolled_back_by']})" if s.get("rolled_back_by") else ""
        console.print(f"rolled back: {s['rolled_back']} {s['rollback_reason'] or ''}{by}")
        console.print(f"window: {s['window']}")


@rollout_app.command("set")
def rollout_set(
    weight: float | None = typer.Option(
        None, "--weight", min=0.0, max=1.0, help="Student share in split mode."
    ),
    mode: str | None = typer.Option(None, "--mode", help="split or shadow."),
    task: str | None = typer.Option(
        None, "--task", help="Apply to this task only (task_overrides)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Give student traffic to a registry version whose gates did not pass.",
    ),
    dashboard: str = DASHBOARD,
) -> None:
    """Change the live routing without restarting anything.

    Student traffic (split mode, weight > 0) for a registry version whose gates did not pass, or
    that serving rolled back (registry mark), is refused, naming the failed gates or the rollback
    reason, unless --force; shadow and weight 0 always apply.
    Example: mkd rollout set --weight 0.1      mkd rollout set --mode shadow
    """
    from mkd.serve import control

    if weight is None and mode is None:
        fail("give --weight and/or --mode")
    if mode is not None and mode not in ("split", "shadow"):
        fail(f"--mode must be split or shadow, not {mode!r}")
    changes: dict = {}
    try:
        deployed = control.mkd_app(control.current_config(dashboard))
    except (httpx.HTTPError, control.ServeControlError) as exc:
        fail(f"cannot read the Serve config from {dashboard}: {exc}")
    current = control.deployment_entry(deployed, "Router")
    if task:
        overrides = dict((current.get("user_config") or {}).get("task_overrides") or {})
        entry = dict(overrides.get(task) or {})
        entry.update(
            {k: v for k, v in {"mode": mode, "student_weight": weight}.items() if v is not None}
        )
        overrides[task] = entry
        changes["task_overrides"] = overrides
    else:
        if mode is None and weight is not None:
            mode = "split"  # a weight means canary traffic
        changes.update(
            {k: v for k, v in {"mode": mode, "student_weight": weight}.items() if v is not None}
        )
    _check_gates_before_weight(deployed, {**(current.get("user_config") or {}), **changes}, force)
    try:
        new = control.update_live_config(dashboard, "Router", changes)
    except (ValueError, control.ServeControlError) as exc:
        fail(str(exc))
    console.print(
        f"[green]applied[/] mode={new['mode']} student_weight={new['student_weight']} overrides={new['task_overrides']}"
    )
    console.print(
        "an automatic rollback in force stays in force (weight 0) until `mkd rollout clear`; "
        "the rollback window keeps its samples"
    )


@rollout_app.command("clear")
def rollout_clear(dashboard: str = DASHBOARD) -> None:
    """Lift an automatic rollback and restart the rollback window on every router.

    Example: mkd rollout clear      (then mkd rollout status --url ... shows rolled back: False)
    """
    import uuid

    from mkd.serve import control

    clear_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    try:
        control.update_live_config(dashboard, "Router", {"rollback_clear_id": clear_id})
    except (ValueError, control.ServeControlError) as exc:
        fail(str(exc))
    console.print(
        f"[green]cleared[/] rollback_clear_id={clear_id}: the configured weights apply again"
    )


def _check_gates_before_weight(deployed: dict, live: dict, force: bool) -> None:
    """Refuse (exit 1, failed gates named) student traffic for a version whose gates did not pass."""
    from pydantic import ValidationError

    from mkd.registry import RegistryError
    from mkd.serve.config import RouterConfig
    from mkd.serve.release_gate import check_student_version

    try:
        router = RouterConfig.model_validate(live)
        verdict = check_student_version(deployed, router, force, "a student weight above 0")
    except ValidationError as exc:
        fail(str(exc))
    except RegistryError as exc:  # e.g. no access to the store from here
        if not force:
            fail(str(exc))
        console.print(f"[yellow]FORCED[/] without a gate record: {exc}")
        return
    if verdict is not None and not verdict.clean:
        console.print(f"[yellow]FORCED[/]: {verdict.ref} takes traffic, {verdict.describe()}")


@rollout_app.command("plan")
def rollout_plan_cmd(
    config: Path = typer.Option(
        Path("configs/serve.yaml"), "-c", "--config", exists=True, dir_okay=False
    ),
) -> None:
    """Print the staged rollout (shadow -> 5% -> 25% -> 50% -> 100%) with each stage's gate.

    Example: mkd rollout plan -c configs/serve.yaml
    """
    from mkd.serve import control
    from mkd.serve.config import RouterConfig
    from mkd.serve.plan import rollout_plan

    live = control.deployment_entry(control.mkd_app(control.load_serve_config(config)), "Router")
    stages = rollout_plan(RouterConfig.model_validate(live.get("user_config") or {}))
    table = Table("stage", "command", "gate to pass before the next stage")
    for s in stages:
        cmd = (
            "mkd rollout set --mode shadow"
            if s.mode == "shadow"
            else f"mkd rollout set --weight {s.student_weight}"
        )
        table.add_row(s.name, cmd, s.gate)
    console.print(table)
    console.print(
        "A failed gate rolls the student back to weight 0 automatically (see mkd rollout status)."
    )
