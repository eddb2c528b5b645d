"""`mkd demo` and `mkd pipeline run`: the whole distillation in one command."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from mkd.cli.console import console, fail

pipeline_app = typer.Typer(help="Run the whole pipeline from a config.", no_args_is_help=True)

PROFILE = typer.Option(
    "default",
    "--profile",
    help="default (a 30-minute budget on a 2-core CPU), quick (10 minutes) or full (2 hours); "
    "measured times in README.md.",
)
STORE = typer.Option("local", "--store", help="local (a directory) or s3 (SeaweedFS on 127.0.0.1).")
FRESH = typer.Option(False, "--fresh", help="Start over instead of reusing finished stages.")
WORKDIR = typer.Option(Path("mkd-demo"), "--workdir", help="Store, logs and the summary go here.")
FORCE = typer.Option(
    False, "--force", help="Canary the student even if its gates failed (the summary says so)."
)
LOOP = typer.Option(
    False,
    "--loop",
    help="End with one turn of the improvement loop: new traffic in shadow is captured, v2 is "
    "built from it and trained warm, and the summary compares v1 and v2 (demo.loop).",
)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.add_typer(pipeline_app, name="pipeline")


def demo(
    profile: str = PROFILE,
    store: str = STORE,
    fresh: bool = FRESH,
    workdir: Path = WORKDIR,
    force: bool = FORCE,
    loop: bool = LOOP,
) -> None:
    """Distill the finance teacher into SmolLM2-135M end to end, with no network and no GPU.

    Starts a local Ray cluster and the reference teacher's HTTP endpoint, then: curated prompts,
    augmentation, labeling, review sample, splits, LoRA training, evaluation, export, registry,
    shadow serving, a 25% canary if the student passed its gates (a rejected one stays in
    shadow unless --force), and the before/after table. A re-run reuses finished stages;
    Ctrl-C stops cleanly and the next run resumes.

    Example: mkd demo --profile quick [--loop]
    """
    _run(_forced({}, force, loop), profile, store, fresh, workdir)


@pipeline_app.command("run")
def pipeline_run(
    config: Path = typer.Option(..., "-c", "--config", exists=True, help="Pipeline YAML."),
    profile: str = PROFILE,
    store: str = STORE,
    fresh: bool = FRESH,
    workdir: Path = WORKDIR,
    force: bool = FORCE,
    loop: bool = LOOP,
) -> None:
    """Run every stage of a pipeline config (the demo's flow with your settings).

    Example: mkd pipeline run -c configs/pipeline.yaml --profile quick
    """
    try:
        base = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        fail(f"{config}: not valid YAML: {exc}")
    base.pop("store", None)  # the demo's --store decides where artifacts go
    _run(_forced(base, force, loop), profile, store, fresh, workdir)


def _forced(base: dict, force: bool, loop: bool = False) -> dict:
    """The config with demo.force_canary / demo.loop set when --force / --loop was given (left
    alone otherwise)."""
    flags = {"force_canary": True} if force else {}
    if loop:
        flags["loop"] = True
    if flags:
        base = {**base, "demo": {**(base.get("demo") or {}), **flags}}
    return base


def _run(base: dict, profile: str, store: str, fresh: bool, workdir: Path) -> None:
    from mkd.config import ConfigError
    from mkd.pipeline.demo import ensure_env, run_demo

    if store not in ("local", "s3"):
        fail(f"--store must be local or s3 (got {store!r})")
    ensure_env()
    _sigterm_interrupts()
    try:
        run_demo(base, profile, store, fresh, workdir, console)
    except ConfigError as exc:
        fail(str(exc), 2)
    except ValueError as exc:
        fail(str(exc), 2)
    except KeyboardInterrupt:
        console.print(
            "\n[yellow]interrupted[/]: finished stages are recorded; run the same command again "
            "to resume (training resumes from its last checkpoint)."
        )
        raise typer.Exit(130) from None


def _sigterm_interrupts() -> None:
    """SIGTERM (`kill`, a container stop) stops the demo like Ctrl-C: the services it started
    (Ray, the teacher server, SeaweedFS) are shut down instead of being left running."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
