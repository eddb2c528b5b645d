"""The end-to-end pipeline: stages that resume from what an earlier run finished."""

from mkd.pipeline.runner import PipelineContext, Stage, run_stages

__all__ = ["PipelineContext", "Stage", "run_stages"]
