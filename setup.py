"""Build hook only (the project is declared in pyproject.toml): the wheel gets the Helm chart and
the configs as package data of mkd (mkd/_bundled/helm/mkd, mkd/_bundled/configs/*.yaml), read by
mkd.assets. The checkout's top-level helm/ and configs/ stay the only copies in git."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# (source in the checkout, destination inside the mkd package, glob of the files taken)
BUNDLED = [
    (HERE / "helm" / "mkd", Path("mkd/_bundled/helm/mkd"), "**/*"),
    (HERE / "configs", Path("mkd/_bundled/configs"), "*.yaml"),
]


def bundled_files() -> dict[Path, Path]:
    """Destination (relative to the wheel root) -> source, for every bundled file."""
    out = {}
    for source, dest, pattern in BUNDLED:
        if not source.is_dir():
            raise FileNotFoundError(f"{source} is missing: the wheel must ship it")
        for path in sorted(source.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                out[dest / path.relative_to(source)] = path
    return out


class BuildPyWithAssets(build_py):
    """build_py, plus the chart and configs copied into the built mkd package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout (mkd.assets)
            return
        for dest, source in bundled_files().items():
            target = Path(self.build_lib) / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        extra = (
            [] if self.editable_mode else [str(Path(self.build_lib) / d) for d in bundled_files()]
        )
        return [*super().get_outputs(include_bytecode), *extra]


setup(cmdclass={"build_py": BuildPyWithAssets})
