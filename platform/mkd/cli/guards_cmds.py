"""`mkd guards`: the guard chain from the command line (red-team parity, one-off checks)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from mkd.cli.console import console, fail
from mkd.config import ConfigError, load_config
from mkd.config.guards import GuardsConfig

app = typer.Typer(help="Safety guards shared by labeling and serving.", no_args_is_help=True)

CONFIG = typer.Option(None, "--config", "-c", help="Pipeline YAML whose `guards` section is used.")
PACK = typer.Option(None, "--pack", help="Task pack (default: the config's pack).")


def _settings(config: Path | None, pack: str | None) -> tuple[GuardsConfig, str]:
    try:
        cfg = load_config(config)
    except (ConfigError, OSError) as exc:
        fail(str(exc))
    return cfg.guards, pack or cfg.pack


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


@app.command("redteam")
def redteam(
    config: Path | None = CONFIG,
    pack: str | None = PACK,
    serving_config: Path | None = typer.Option(
        None, "--serving-config", help="A second pipeline YAML for the serving side (drift check)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
    show_items: bool = typer.Option(False, "--items", help="List every query's decisions."),
) -> None:
    """Run the pack's red-team set through the labeling and serving paths and compare.

    Exit 1 when the two paths decide differently on any query.
    Example: mkd guards redteam -c configs/pipeline.yaml
    """
    from mkd.guards.parity import run_parity

    guards, pack_name = _settings(config, pack)
    serving = _settings(serving_config, pack_name)[0] if serving_config else None
    report = run_parity(guards, pack_name, serving_config=serving)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print_report(report, show_items)
    if report["differ"]:
        fail(f"{report['differ']} of {report['n']} decisions differ between the paths")


def _print_report(report: dict, show_items: bool) -> None:
    cats = Table(title=f"red-team decisions ({report['n']} queries)")
    for col in ("category", "n", "labeling (teacher) agree", "serving (student) agree"):
        cats.add_column(col, justify="left" if col == "category" else "right")
    t, s = report["teacher"], report["student"]
    for cat, row in t["by_category"].items():
        cats.add_row(
            cat, str(row["n"]), _fmt(row["accuracy"]), _fmt(s["by_category"][cat]["accuracy"])
        )
    cats.add_row("all", str(report["n"]), _fmt(t["accuracy"]), _fmt(s["accuracy"]), style="bold")
    console.print(cats)
    fams = Table(title="guards vs expected decisions (serving path)")
    for col in ("reason family", "expected", "flagged", "precision", "recall"):
        fams.add_column(col, justify="left" if col == "reason family" else "right")
    for fam, row in s["by_family"].items():
        fams.add_row(
            fam,
            str(row["expected"]),
            str(row["predicted"]),
            _fmt(row["precision"]),
            _fmt(row["recall"]),
        )
    console.print(fams)
    console.print(
        f"paths differ on {report['differ']} of {report['n']} queries "
        f"(rate {report['differ_rate']:.3f}, goal 0)",
        highlight=False,
    )
    for m in s["mistakes"]:
        console.print(f"  [yellow]miss[/] {m['id']}: expected {m['expected']}, got {m['got']}")
    if show_items:
        items = Table(title="per query")
        for col in ("id", "expected", "labeling", "serving"):
            items.add_column(col)
        for r in report["items"]:
            items.add_row(r["id"], r["expected"], r["teacher"], r["student"])
        console.print(items)


@app.command("check")
def check(
    text: str = typer.Argument(..., help="The query to check."),
    config: Path | None = CONFIG,
    pack: str | None = PACK,
) -> None:
    """Show the input guards' decision on one query (reason codes and the redacted text).

    Example: mkd guards check "Mail me at a@b.com the revenue of Infosys"
    """
    from mkd.guards import GuardChain

    guards, pack_name = _settings(config, pack)
    decision = GuardChain(guards, pack_name, path="cli").check_input(text)
    console.print_json(data={**decision.as_dict(), "text": decision.text})
