"""Backward-compatible entry point: `python -m ray_jobs.augment` is `python -m mkd.stages augment`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("augment", argv)


if __name__ == "__main__":
    raise SystemExit(main())
