"""`mkd submit`, `mkd jobs ...` (Ray Job Submission API) and `mkd k8s ...` (chart, cluster status)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from mkd.cli.console import console, err_console, fail

ADDRESS = typer.Option(
    "http://127.0.0.1:8265",
    "--address",
    envvar="MKD_RAY_ADDRESS",
    help="Ray dashboard / Job API of the cluster (http://HEAD:8265, or a port-forward of it).",
)

jobs_app = typer.Typer(help="List, follow and stop Ray jobs of a cluster.", no_args_is_help=True)
k8s_app = typer.Typer(
    help="Kubernetes: render RayJob manifests from the chart, read RayService/RayJob status.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add `submit`, `jobs` and `k8s` to the root app."""
    app.command("submit")(submit)
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(k8s_app, name="k8s")


def _client(address: str):
    from mkd.jobs import client_for

    try:
        return client_for(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        fail(f"cannot reach the Ray Job API at {address}: {exc}")


def _follow_and_exit(client, submission_id: str) -> None:
    """Stream logs until the job ends, then exit with the job's exit code."""
    from mkd.jobs import follow_logs, wait_for_end

    try:
        follow_logs(
            client, submission_id, lambda chunk: (sys.stdout.write(chunk), sys.stdout.flush())
        )
    except KeyboardInterrupt:
        err_console.print(
            f"stopped following; the job keeps running: mkd jobs stop {submission_id}"
        )
        raise typer.Exit(130) from None
    outcome = wait_for_end(client, submission_id)
    colour = "green" if outcome.exit_code == 0 else "red"
    err_console.print(
        f"[{colour}]job {outcome.submission_id} {outcome.status}[/] (exit code {outcome.exit_code})"
        + (f": {outcome.message}" if outcome.exit_code and outcome.message else ""),
        highlight=False,
    )
    raise typer.Exit(outcome.exit_code)


def submit(
    stage: str = typer.Argument(
        ...,
        help="A ray_jobs module: a stage (augment, label, dataset, train, eval, export...) or "
        "`pipeline` (every stage in order, reusing finished ones).",
    ),
    config: Path = typer.Option(
        ...,
        "-c",
        "--config",
        exists=True,
        dir_okay=False,
        help="Pipeline YAML shipped with the job.",
    ),
    address: str = ADDRESS,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Stream logs; exit with the job's code."
    ),
    env: list[str] = typer.Option(
        [], "--env", help="Forward this local environment variable to the job (repeatable)."
    ),
    python: str | None = typer.Option(
        None,
        "--python",
        help="Interpreter on the cluster (default: ours on 127.0.0.1, else python).",
    ),
    until: str | None = typer.Option(
        None, "--until", help="pipeline only: stop after this stage (e.g. dataset)."
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="pipeline and loop: rerun every stage instead of reusing finished ones.",
    ),
) -> None:
    """Run a pipeline stage on a Ray cluster through the Job Submission API.

    The project's packages travel as py_modules and the config as the working_dir, so the cluster
    needs only the dependencies. Forwarded --env values show in the dashboard: prefer Secrets.

    `mkd submit pipeline` runs the stages as `mkd pipeline run` does, in one job: finished stages
    are reused from their records in the store, so resubmitting resumes.

    Example: mkd submit label -c configs/pipeline.yaml --address http://127.0.0.1:8265 --follow
    Example: mkd submit pipeline -c configs/pipeline.yaml --address http://127.0.0.1:8265 -f
    """
    from mkd.jobs import default_python, forwarded_env, is_local_address, submit_stage

    try:
        env_vars = forwarded_env(env)
    except KeyError as exc:
        fail(str(exc.args[0]))
    args = _pipeline_args(stage, until, fresh)
    client = _client(address)
    try:
        submission_id = submit_stage(
            client,
            stage,
            config,
            python=python or default_python(address),
            env_vars=env_vars,
            local=is_local_address(address),
            args=args,
        )
    except ValueError as exc:
        fail(str(exc))
    err_console.print(f"submitted [bold]{submission_id}[/] to {address}", highlight=False)
    if not follow:
        typer.echo(submission_id)
        return
    _follow_and_exit(client, submission_id)


def _pipeline_args(stage: str, until: str | None, fresh: bool) -> list[str]:
    """The pipeline's own options; refused for a single stage, which has none of them."""
    args = [*(["--until", until] if until else []), *(["--fresh"] if fresh else [])]
    if args and stage != "pipeline" and not (stage == "loop" and not until):
        fail(f"--until and --fresh apply to `mkd submit pipeline`, not to {stage!r}")
    if until:
        from mkd.pipeline.cluster import stage_names

        if until not in stage_names():  # refuse here, not minutes later on the cluster
            fail(f"--until {until!r}: stages are {', '.join(stage_names())}")
    return args


@jobs_app.command("list")
def jobs_list(
    address: str = ADDRESS, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """List the cluster's jobs, newest first.

    Example: mkd jobs list --address http://127.0.0.1:8265
    """
    from mkd.jobs import list_jobs

    rows = list_jobs(_client(address))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"jobs on {address}")
    for col in ("submission id", "status", "stage", "exit", "entrypoint"):
        table.add_column(col)
    for r in rows:
        exit_code = "" if r["exit_code"] is None else str(r["exit_code"])
        table.add_row(r["submission_id"], r["status"], r["stage"], exit_code, r["entrypoint"])
    console.print(table)


@jobs_app.command("logs")
def jobs_logs(
    submission_id: str = typer.Argument(
        ..., help="Submission id (from `mkd submit` or `jobs list`)."
    ),
    address: str = ADDRESS,
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream until the job ends."),
) -> None:
    """Print a job's logs; with --follow, stream them and exit with the job's code.

    Example: mkd jobs logs mkd-label-20240601-120000-ab12cd --follow
    """
    client = _client(address)
    if follow:
        _follow_and_exit(client, submission_id)
    try:
        typer.echo(client.get_job_logs(submission_id), nl=False)
    except RuntimeError as exc:
        fail(f"no logs for {submission_id}: {exc}")


@jobs_app.command("stop")
def jobs_stop(submission_id: str = typer.Argument(...), address: str = ADDRESS) -> None:
    """Ask the cluster to stop a job.

    Example: mkd jobs stop mkd-train-20240601-120000-ab12cd
    """
    try:
        stopped = _client(address).stop_job(submission_id)
    except RuntimeError as exc:
        fail(f"cannot stop {submission_id}: {exc}")
    console.print(f"{submission_id}: {'stop requested' if stopped else 'already finished'}")


@k8s_app.command("render")
def k8s_render(
    stage: str = typer.Argument(
        ..., help="augment, label, dataset, train, eval/evaluate, export or pipeline."
    ),
    values: list[Path] = typer.Option(
        [], "-f", "--values", exists=True, dir_okay=False, help="Chart values file (repeatable)."
    ),
    set_values: list[str] = typer.Option([], "--set", help="Helm --set expression (repeatable)."),
    release: str = typer.Option("mkd", "--release", help="Helm release name the job belongs to."),
    namespace: str = typer.Option("default", "-n", "--namespace", help="Target namespace."),
    chart: Path | None = typer.Option(
        None, "--chart", help="Chart directory (default: the chart shipped with mkd)."
    ),
) -> None:
    """Print the RayJob manifest of a stage from the Helm chart, for kubectl apply or GitOps.

    The job mounts the release's ConfigMap (<release>-mkd-config), so install the chart first.
    Example: mkd k8s render train -f helm/mkd/ci/gpu-prod.yaml --set jobs.runId=r2 | kubectl apply -f -
    """
    from mkd.k8s.render import load_values, render_stage_job, to_yaml

    try:
        merged = load_values(values, set_values)
        job = render_stage_job(stage, merged, chart=chart, release=release, namespace=namespace)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        fail(str(exc))
    except Exception as exc:  # helm_python's HelmError family: refused values, template errors
        fail(f"helm: {exc}")
    typer.echo(to_yaml(job), nl=False)


@k8s_app.command("status")
def k8s_status(
    namespace: str = typer.Option("default", "-n", "--namespace", help="Namespace to read."),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the RayServices and RayJobs of a namespace with their state (needs kubeconfig).

    Example: mkd k8s status -n mkd
    """
    from mkd.k8s.status import cluster_status, custom_objects_api

    try:
        report = cluster_status(custom_objects_api(context), namespace)
    except Exception as exc:  # kubernetes' ApiException/ConfigException/urllib3 errors
        fail(f"cannot read ray.io objects in {namespace}: {exc}")
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in report], indent=2))
        return
    table = Table(title=f"ray.io objects in {namespace}")
    for col in ("kind", "name", "state", "ready", "detail"):
        table.add_column(col)
    for r in report:
        ready = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[r.ready]
        table.add_row(r.kind, r.name, r.state, ready, r.detail)
    console.print(table)
