"""`mkd loop`: one turn of the improvement loop (mkd.pipeline.loop; docs/loop.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from mkd.cli.console import console, err_console, fail


def register(app: typer.Typer) -> None:
    """Add `loop` to the root app."""
    app.command("loop")(loop)


def loop(
    config: Path = typer.Option(..., "-c", "--config", exists=True, help="Pipeline YAML."),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start a new turn even if the last one did not finish."
    ),
) -> None:
    """Grow the dataset from the serving feedback, retrain, compare, deploy the candidate in shadow.

    Builds dataset v(N+1) from v(N) (the fixed benchmark carried over unchanged) plus the feedback
    log and the version's imports and reviews, trains warm-started from the current version's
    adapter, evaluates it (gates, registry: candidate or rejected), compares the current version
    and the candidate on the benchmark and on the new items (loops/ report), and deploys the
    candidate in shadow when loop.serve_dashboard is set. An interrupted turn resumes.

    Example: mkd loop -c configs/pipeline.yaml
    """
    from mkd.config import ConfigError, load_config
    from mkd.data.next_version import NothingNew
    from mkd.pipeline.demo import ensure_env
    from mkd.pipeline.loop import run_loop
    from mkd.storage import open_store
    from mkd.training.inputs import TrainingInputError

    ensure_env()
    try:
        cfg = load_config(config)
        ctx = run_loop(cfg, open_store(cfg.store), err_console, fresh=fresh)
    except NothingNew as exc:
        console.print(f"nothing to do: {exc}")
        return
    except (ConfigError, TrainingInputError, OSError) as exc:
        fail(str(exc), code=2)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("\n[yellow]interrupted[/]: run the same command again to resume")
        raise typer.Exit(130) from None
    summarise(ctx)


def summarise(ctx) -> None:
    """Where the turn's results are."""
    out = ctx.outputs
    evaluation, deploy = out.get("evaluate", {}), out.get("deploy", {})
    console.print(
        f"loop turn done: dataset {out['dataset']['dataset']}, candidate "
        f"{evaluation.get('version')} (gates {'passed' if evaluation.get('passed') else 'failed'})"
        f", report {out.get('compare', {}).get('report_uri')}, "
        + ("deployed in shadow" if deploy.get("deployed") else "not deployed")
    )
