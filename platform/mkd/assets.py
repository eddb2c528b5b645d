"""Files MKD ships beside its code: the Helm chart (helm/mkd) and the configs (configs/*.yaml).

The checkout's top-level `helm/` and `configs/` are the only copies in git. A wheel carries them as
package data under `mkd/_bundled/` (setup.py's build_py copies them in at build time), read here
through importlib.resources, so an installed mkd needs no checkout.

In a source checkout (editable install, or `PYTHONPATH=platform`) nothing is bundled: the files
are read from the project root, recognised by its pyproject.toml naming the `mkd` project, and
from nowhere else. Callers that hold their own copy pass it explicitly (`render_chart(chart=...)`,
`mkd k8s render --chart`).
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from pathlib import Path

BUNDLE = "_bundled"  # inside the mkd package, in a wheel only
CHART = ("helm", "mkd")
CONFIGS = "configs"


class AssetNotFoundError(FileNotFoundError):
    """Neither the installed package nor a source checkout holds the file."""


@cache
def asset_root() -> Path:
    """The directory holding `helm/mkd` and `configs/`: the wheel's bundle, else the checkout.

    Raises:
        AssetNotFoundError: mkd is neither installed from a wheel nor run from its checkout.
    """
    package = Path(str(files("mkd")))
    bundled = package / BUNDLE
    if bundled.is_dir():
        return bundled
    root = checkout_root()
    if root is not None:
        return root
    raise AssetNotFoundError(
        f"no {BUNDLE}/ in {package} and no mkd checkout around it: install mkd from a wheel "
        "(pip install mkd-*.whl) or pass the file explicitly"
    )


@cache
def checkout_root() -> Path | None:
    """The project root of the source checkout mkd runs from (platform/mkd -> the root, only
    if its pyproject.toml names the `mkd` project); None for an installed wheel."""
    root = Path(str(files("mkd"))).parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(
        r'(?m)^name\s*=\s*"mkd"\s*$', pyproject.read_text(encoding="utf-8")
    ):
        return root
    return None


def chart_dir() -> Path:
    """The MKD Helm chart (a directory with Chart.yaml)."""
    return asset_root().joinpath(*CHART)


def config_file(name: str) -> Path:
    """One of the shipped configs by file name (`serve.yaml`, `pipeline.yaml`, ...).

    Raises:
        AssetNotFoundError: no such config.
    """
    path = asset_root() / CONFIGS / name
    if not path.is_file():
        raise AssetNotFoundError(f"no config {name!r} in {path.parent}")
    return path
