"""Backward-compatible entry point: `python -m ray_jobs.predict` is `python -m mkd.stages predict`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("predict", argv)


if __name__ == "__main__":
    raise SystemExit(main())
