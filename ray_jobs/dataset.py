"""Backward-compatible entry point: `python -m ray_jobs.dataset` is `python -m mkd.stages dataset`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("dataset", argv)


if __name__ == "__main__":
    raise SystemExit(main())
