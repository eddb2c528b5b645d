"""Backward-compatible entry point: `python -m ray_jobs.label` is `python -m mkd.stages label`."""

from mkd.stages.runner import stage_main


def main(argv: list[str] | None = None) -> int:
    return stage_main("label", argv)


if __name__ == "__main__":
    raise SystemExit(main())
