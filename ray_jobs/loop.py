"""Backward-compatible entry point: `python -m ray_jobs.loop` is `python -m mkd.stages loop`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("loop", argv)


if __name__ == "__main__":
    raise SystemExit(main())
