"""Deploying and steering the app through the Ray dashboard's Serve REST API.

`PUT /api/serve/applications/` takes the whole ServeDeploySchema document: the same update KubeRay
applies from a RayService's serveConfigV2. Changing only `deployments[Router].user_config` makes
Serve call `Router.reconfigure()` on the running replicas: no restart, no dropped request.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from mkd.serve.config import AppArgs, RouterConfig, StudentLiveConfig

APP_NAME = "mkd"
API = "/api/serve/applications/"


class ServeControlError(RuntimeError):
    """The dashboard refused a request or the application did not reach RUNNING."""


def load_serve_config(path: str | Path) -> dict[str, Any]:
    """Read a Serve config (configs/serve.yaml) and validate the MKD parts of it.

    Raises:
        ValueError: naming the application and field that is wrong.
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    validate_serve_config(data, str(path))
    return data


def validate_serve_config(data: Any, source: str = "<serve config>") -> None:
    """Ray's schema for the whole document, AppArgs for args, the live configs per deployment."""
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    try:
        ServeDeploySchema.model_validate(data)
        for app in data["applications"]:
            if app.get("import_path") != "serving.app:build_app":
                continue
            AppArgs.model_validate(app.get("args") or {})
            for dep in app.get("deployments") or []:
                live = {"Router": RouterConfig, "Student": StudentLiveConfig}.get(dep["name"])
                if live and "user_config" in dep:
                    live.model_validate(dep["user_config"])
    except ValidationError as exc:
        raise ValueError(f"{source}: {exc}") from None


def mkd_app(config: dict[str, Any], name: str = APP_NAME) -> dict[str, Any]:
    """The MKD application entry of a Serve config."""
    for app in config.get("applications", []):
        if app.get("name") == name:
            return app
    raise ServeControlError(f"no application named {name!r} in the Serve config")


def deployment_entry(app: dict[str, Any], name: str) -> dict[str, Any]:
    """deployments[name] of an application entry, created when absent."""
    deployments = app.setdefault("deployments", [])
    for dep in deployments:
        if dep.get("name") == name:
            return dep
    deployments.append({"name": name})
    return deployments[-1]


def with_http_port(config: dict[str, Any], port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    out = copy.deepcopy(config)
    out["http_options"] = {**out.get("http_options", {}), "host": host, "port": port}
    return out


def deploy(dashboard_url: str, config: dict[str, Any], timeout: float = 30) -> None:
    """PUT the whole Serve config (declarative: what is not in it is removed)."""
    resp = httpx.put(dashboard_url + API, json=config, timeout=timeout)
    if resp.status_code >= 300:
        raise ServeControlError(f"PUT {API} -> {resp.status_code}: {resp.text[:2000]}")


def status(dashboard_url: str, timeout: float = 10) -> dict[str, Any]:
    """GET the Serve instance details (applications, deployments, replicas, deployed config)."""
    resp = httpx.get(dashboard_url + API, timeout=timeout)
    if resp.status_code >= 300:
        raise ServeControlError(f"GET {API} -> {resp.status_code}: {resp.text[:2000]}")
    return resp.json()


def current_config(dashboard_url: str) -> dict[str, Any]:
    """The deployed ServeDeploySchema document, rebuilt from the instance details."""
    details = status(dashboard_url)
    apps = [
        a["deployed_app_config"]
        for a in details.get("applications", {}).values()
        if a.get("deployed_app_config")
    ]
    if not apps:
        raise ServeControlError("no application deployed through the Serve REST API")
    config: dict[str, Any] = {"applications": apps}
    for key in ("proxy_location", "http_options"):
        if details.get(key):
            config[key] = details[key]
    return config


def update_live_config(
    dashboard_url: str, deployment: str, changes: dict[str, Any], app_name: str = APP_NAME
) -> dict[str, Any]:
    """Merge `changes` into deployments[deployment].user_config and PUT the config back.

    Returns the new user_config. Raises ValueError when the result does not validate.
    """
    config = current_config(dashboard_url)
    dep = deployment_entry(mkd_app(config, app_name), deployment)
    merged = {**(dep.get("user_config") or {}), **changes}
    model = {"Router": RouterConfig, "Student": StudentLiveConfig}[deployment]
    dep["user_config"] = model.model_validate(merged).model_dump(mode="json")
    deploy(dashboard_url, config)
    return dep["user_config"]


def wait_running(dashboard_url: str, app_name: str = APP_NAME, timeout: float = 600) -> dict:
    """Block until the application is RUNNING; raise with the last status on failure."""
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        try:
            last = status(dashboard_url).get("applications", {}).get(app_name, {})
        except (httpx.HTTPError, ServeControlError):
            last = {}
        state = last.get("status")
        if state == "RUNNING":
            return last
        if state == "DEPLOY_FAILED":
            raise ServeControlError(f"application {app_name} failed: {failure_report(last)}")
        time.sleep(1.0)
    raise ServeControlError(
        f"application {app_name} not RUNNING after {timeout:.0f}s: {failure_report(last)}"
    )


def failure_report(app_status: dict[str, Any], tail: int = 3000) -> str:
    """The application's status and message, then each deployment that is not HEALTHY with its
    own message: where Serve puts the replica's exception (the constructor's traceback)."""
    lines = [f"{app_status.get('status')}: {app_status.get('message') or ''}".rstrip()]
    for name, dep in sorted((app_status.get("deployments") or {}).items()):
        if dep.get("status") != "HEALTHY":
            message = (dep.get("message") or "").strip()[-tail:]
            lines.append(f"deployment {name} {dep.get('status')}: {message}")
    return "\n".join(lines)


def shutdown(dashboard_url: str, timeout: float = 60) -> None:
    """DELETE every application deployed through the REST API."""
    httpx.delete(dashboard_url + API, timeout=timeout)
