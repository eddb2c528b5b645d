"""`build_app(args)`: the typed Serve application builder.

    # Python
    from ray import serve
    from serving.app import build_app
    serve.run(build_app({"student": {"model_uri": "/path/to/model"}}))

    # Serve YAML / KubeRay RayService serveConfigV2 (configs/serve.yaml)
    applications:
      - name: mkd
        import_path: serving.app:build_app
        args: {...}                       # mkd.serve.config.AppArgs
        deployments:
          - {name: Router, user_config: {...}}   # mkd.serve.config.RouterConfig, live

Deployments: Student (an injected mkd.inference engine + @serve.batch), Teacher (a TeacherBackend), Router (ingress).
"""

from __future__ import annotations

from typing import Any

from mkd.serve.config import AppArgs, StudentLiveConfig
from pydantic import ValidationError
from ray.serve import Application

from serving.router import Router
from serving.student import Student
from serving.teacher import Teacher


class AppArgsError(ValueError):
    """Invalid build_app args, every problem listed with its dotted path."""


def parse_args(args: dict[str, Any] | AppArgs | None) -> AppArgs:
    """Validate `args`; AppArgsError names each bad field (e.g. student.max_batch_size)."""
    if isinstance(args, AppArgs):
        return args
    try:
        return AppArgs.model_validate(args or {})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '<args>'}: {e['msg']}" for e in exc.errors()
        ]
        raise AppArgsError("invalid serving args:\n  - " + "\n  - ".join(problems)) from None


def build_app(args: dict[str, Any] | AppArgs | None = None) -> Application:
    """The MKD Serve application from `args` (see mkd.serve.config.AppArgs); Serve calls it
    with the args dict alone (a builder takes exactly one parameter).

    Raises:
        AppArgsError: when `args` does not validate.
    """
    return compose_app(args)


def compose_app(
    args: dict[str, Any] | AppArgs | None = None, engine_cls: type | None = None
) -> Application:
    """build_app with the Student's engine class chosen by the caller (Python and tests).

    Args:
        args: the application's typed arguments.
        engine_cls: the Student's engine class (an mkd.inference Engine built as
            cls(spec, pack)); None: the one mkd.inference registers under student.backend.

    Raises:
        AppArgsError: when `args` does not validate.
    """
    cfg = parse_args(args)
    plain = cfg.model_dump(mode="json")
    s, t, r = cfg.student, cfg.teacher, cfg.router
    student = Student.options(
        num_replicas=s.num_replicas,
        ray_actor_options=s.ray_actor_options,
        max_ongoing_requests=max(s.max_ongoing_requests, s.max_batch_size),
        max_queued_requests=s.max_queued_requests,
        user_config=StudentLiveConfig().model_dump(),
    ).bind(plain["student"], cfg.pack, cfg.tasks, plain["store"], engine_cls)
    teacher = Teacher.options(
        num_replicas=t.num_replicas,
        ray_actor_options=t.ray_actor_options,
        max_ongoing_requests=t.max_ongoing_requests,
    ).bind(plain["teacher"], cfg.pack)
    return Router.options(
        num_replicas=r.num_replicas,
        ray_actor_options=r.ray_actor_options,
        max_ongoing_requests=r.max_ongoing_requests,
        user_config=r.user_config.model_dump(mode="json"),
    ).bind(student, teacher, plain)
