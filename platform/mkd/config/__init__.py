"""Typed pipeline configuration loaded from YAML (one section model per module)."""

from mkd.config.loader import ConfigError, dump_config, load_config, parse_config
from mkd.config.pipeline import PipelineConfig

__all__ = ["ConfigError", "PipelineConfig", "dump_config", "load_config", "parse_config"]
