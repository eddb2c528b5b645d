"""Pack plug-ins: code a pack names in pack.yaml by import path, resolved without naming the pack.

A reference is `module:attr` (or `module` for the module itself). The module is looked up first
inside the pack's folder (`teacher:Teacher` is `<pack>/teacher.py`, `rules.dates:parse` is
`<pack>/rules/dates.py`), then on the import path (`mkd.teachers.reference:ReferenceTeacher`).
A pack folder's modules are imported as the submodules of one package per pack folder
(`mkd_pack_<name>`), so they may import each other relatively (`from .rules import x`).
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
import types
from pathlib import Path
from typing import Any

_REF = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


class PluginError(ValueError):
    """A plug-in reference that is malformed or names nothing importable."""


def pack_package(name: str, root: Path) -> str:
    """The package name a pack folder's modules are imported under (created on first use)."""
    root = root.resolve()
    slug = re.sub(r"\W", "_", name)
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    package = f"mkd_pack_{slug}_{digest}"
    if package not in sys.modules:
        module = types.ModuleType(package, f"modules of the task pack in {root}")
        module.__path__ = [str(root)]
        sys.modules[package] = module
    return package


def _in_pack(module: str, root: Path) -> bool:
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def resolve(ref: str, pack_name: str, root: Path) -> Any:
    """The object `ref` names, looked up in the pack folder first, then on the import path.

    Raises:
        PluginError: `ref` is not `module[:attr]`, or its module or attribute does not exist.
    """
    if not isinstance(ref, str) or not _REF.match(ref):
        raise PluginError(f"{ref!r} is not an import path of the form module:attr")
    module_name, _, attr = ref.partition(":")
    if _in_pack(module_name, root):
        module_name = f"{pack_package(pack_name, root)}.{module_name}"
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"{ref!r}: cannot import {module_name!r} ({exc})") from exc
    for part in filter(None, attr.split(".")):
        if not hasattr(obj, part):
            raise PluginError(f"{ref!r}: {module_name!r} has no attribute {part!r}")
        obj = getattr(obj, part)
    return obj
