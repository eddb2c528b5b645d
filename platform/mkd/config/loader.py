"""YAML loading with ${ENV} interpolation and one error that lists every problem."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mkd.config.pipeline import PipelineConfig

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """Every problem of a config file at once, each prefixed with its dotted path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        body = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid config {source}: {len(problems)} problem(s)\n{body}")


def interpolate_env(value: Any, path: str, problems: list[str]) -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string of `value`; unset names go to problems."""
    if isinstance(value, dict):
        return {
            k: interpolate_env(v, f"{path}.{k}" if path else str(k), problems)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate_env(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        problems.append(f"{path}: environment variable {name} is not set")
        return ""

    return _ENV.sub(sub, value)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over a copy of `base`: mappings merge key by key, anything else replaces
    (the order of Helm's -f files and of config profiles)."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


_MESSAGES = [
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be >= \1"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be <= \1"),
    (re.compile(r"Input should be greater than (\S+)"), r"must be > \1"),
    (re.compile(r"Extra inputs are not permitted"), "unknown field"),
]


def _message(msg: str) -> str:
    for pattern, repl in _MESSAGES:
        msg = pattern.sub(repl, msg)
    return msg.removeprefix("Value error, ")


def parse_config(data: dict[str, Any] | None, source: str = "<config>") -> PipelineConfig:
    """Validate a config mapping; raise ConfigError listing every problem."""
    problems: list[str] = []
    data = interpolate_env(data or {}, "", problems)
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _loc(tuple(err["loc"]))
            for part in _message(err["msg"]).split("; "):
                nested = part.startswith((f"{loc}[", f"{loc}:"))
                problems.append(part if nested else f"{loc}: {part}")
        raise ConfigError(source, problems) from None
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Load a pipeline YAML file; None gives the embedded defaults."""
    if path is None:
        return parse_config({}, "<defaults>")
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(str(path), ["<root>: must be a mapping of sections"])
    return parse_config(data, str(path))


def dump_config(cfg: PipelineConfig) -> str:
    """The config as YAML, every default spelled out (recorded with every run)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
