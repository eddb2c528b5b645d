"""Backward-compatible entry point: `python -m ray_jobs.evaluate` is `python -m mkd.stages evaluate`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("evaluate", argv)


if __name__ == "__main__":
    raise SystemExit(main())
