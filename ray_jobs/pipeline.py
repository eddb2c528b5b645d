"""Backward-compatible entry point: `python -m ray_jobs.pipeline` is `python -m mkd.stages pipeline`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("pipeline", argv)


if __name__ == "__main__":
    raise SystemExit(main())
