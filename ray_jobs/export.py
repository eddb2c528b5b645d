"""Backward-compatible entry point: `python -m ray_jobs.export` is `python -m mkd.stages export`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("export", argv)


if __name__ == "__main__":
    raise SystemExit(main())
