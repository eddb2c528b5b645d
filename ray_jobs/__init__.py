"""Thin, backward-compatible RayJob entry points kept for existing manifests and scripts.

`python -m ray_jobs.<stage> -c CONFIG [options]` is `python -m mkd.stages <stage> ...`: each
module only delegates to the one stage runner (mkd.stages.runner), which loads the config, runs
the stage and maps its outcome to the exit code. New code (the chart, `mkd submit`) calls
`python -m mkd.stages` directly; `build_data` is the `build` stage.
"""
