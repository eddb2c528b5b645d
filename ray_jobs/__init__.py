"""Ray job entry points, one per pipeline stage: `python -m ray_jobs.<stage> -c CONFIG`."""
