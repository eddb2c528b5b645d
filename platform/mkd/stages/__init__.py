"""The pipeline stages, one module each, and the one runner that runs them.

Every stage module has `DESCRIPTION`, `OPTIONS` (its own command-line options) and
`run(config, context) -> Outcome`; some have `render(outcome, console)` for a richer display.
`python -m mkd.stages NAME -c CONFIG` (mkd.stages.runner) is the one command line; the CLI's
stage commands, `mkd submit`, the chart's RayJobs, ray_jobs/ and the demo all run these modules.
Stages never import the Serve app (`serving`): import-linter contract in pyproject.toml.
"""

from mkd.stages.outcome import Outcome, StageContext, StageFailed, StageOption
from mkd.stages.registry import ALIASES, STAGES, canonical, stage_module

__all__ = [
    "ALIASES",
    "STAGES",
    "Outcome",
    "StageContext",
    "StageFailed",
    "StageOption",
    "canonical",
    "stage_module",
]
