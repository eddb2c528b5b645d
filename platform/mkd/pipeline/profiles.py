"""Demo profiles: YAML overlays merged over the embedded defaults (or a user's config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROFILES_DIR = Path(__file__).parent / "profiles"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load_profile(name: str) -> dict[str, Any]:
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r} (available: {', '.join(available_profiles())})")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
