"""Backward-compatible entry point: `python -m ray_jobs.build_data` is `python -m mkd.stages build`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("build", argv)


if __name__ == "__main__":
    raise SystemExit(main())
