"""Backward-compatible entry point: `python -m ray_jobs.train` is `python -m mkd.stages train`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("train", argv)


if __name__ == "__main__":
    raise SystemExit(main())
