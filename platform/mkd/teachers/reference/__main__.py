"""`python -m mkd.teachers.reference --gold [--misses]`: accuracy table on the gold file."""

from __future__ import annotations

import argparse

from rich.console import Console

from mkd.tables import task_score_table
from mkd.tasks import load_pack
from mkd.teachers.reference.evaluate import evaluate_gold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mkd.teachers.reference")
    parser.add_argument("--gold", action="store_true", help="score against the pack's gold.jsonl")
    parser.add_argument("--gold-file", default=None, help="another gold JSONL file")
    parser.add_argument("--pack", default="finance")
    parser.add_argument("--misses", action="store_true", help="also print every miss")
    parser.add_argument(
        "--sample", default=None, help="only gold records of this sample (dev, holdout)"
    )
    args = parser.parse_args(argv)
    if not (args.gold or args.gold_file):
        parser.error("nothing to do: pass --gold (or --gold-file PATH)")
    report = evaluate_gold(load_pack(args.pack), args.gold_file, args.sample)
    console = Console()
    if args.misses:
        for m in report.misses:
            console.print(
                f"[yellow]{m.id}[/] {m.score:.2f} {m.input!r}\n  truth {m.truth}\n  pred  {m.pred}",
                highlight=False,
            )
    console.print(
        task_score_table(
            report.scores, f"reference teacher vs gold ({args.sample or 'all samples'})"
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
