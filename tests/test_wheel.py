"""The wheel works without the checkout: build it, install it into a fresh venv that sees the
dependencies but not this repository, and run the CLI from a directory outside the checkout.

The fresh venv (`--without-pip`) gets the wheel through this interpreter's pip (`--python`), and
the dependencies through a .pth line naming this environment's site-packages: a directory added
by a .pth line is not a site directory, so the .pth files inside it (the editable install's
finder, which maps mkd to the checkout) never run. The test asserts that mkd, ray_jobs, serving,
the chart and the configs all come from the temporary venv and that no sys.path entry is inside
the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# What the wheel is built from (the Dockerfiles COPY the same): the rest of the checkout is left out.
BUILD_INPUTS = [
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "platform",
    "ray_jobs",
    "serving",
    "helm",
    "configs",
]

PROBE = """
import json, sys
import mkd, ray_jobs, serving
from mkd.assets import chart_dir, config_file
from mkd.jobs import PROJECT_MODULES
print(json.dumps({
    "mkd": mkd.__file__, "ray_jobs": ray_jobs.__file__, "serving": serving.__file__,
    "chart": str(chart_dir()), "serve_config": str(config_file("serve.yaml")),
    "project_modules": {k: str(v) for k, v in PROJECT_MODULES.items()},
    "sys_path": sys.path,
}))
"""


def _inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_without_the_checkout(tmp_path: Path) -> None:
    pytest.importorskip("helm_python")  # `mkd k8s render` renders with it (a dev dependency)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env |= {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONNOUSERSITE": "1", "NO_COLOR": "1"}
    env["COLUMNS"] = "200"  # help text unwrapped

    # 1. build from a copy holding only the build inputs (no build/ or egg-info in the checkout)
    src = tmp_path / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), "."],
        src,
        env,
    )
    (wheel,) = dist.glob("mkd-*.whl")

    # 2. a fresh venv: the wheel installed into it, the dependencies seen through a .pth line
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    _run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        tmp_path,
        env,
    )
    purelib = json.loads(
        _run(
            [str(python), "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
            tmp_path,
            env,
        )
    )["purelib"]
    deps = [p for p in site.getsitepackages() if not _inside(p, ROOT / "platform")]
    (Path(purelib) / "mkd-test-deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")

    # 3. run it from outside the checkout
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    probe = json.loads(_run([str(python), "-c", PROBE], cwd, env))
    for key in ("mkd", "ray_jobs", "serving", "chart", "serve_config"):
        assert _inside(probe[key], venv), f"{key} came from {probe[key]}, not the installed wheel"
    assert all(_inside(p, venv) for p in probe["project_modules"].values())
    # the dependencies' venv may live inside the checkout (.venv, as scripts/setup.sh makes it)
    deps_env = Path(sys.prefix).resolve()
    on_path = [p for p in probe["sys_path"] if p and _inside(p, ROOT) and not _inside(p, deps_env)]
    assert not on_path, f"the checkout is on sys.path: {on_path}"

    mkd = str(venv / "bin" / "mkd")
    assert "finance" in _run([mkd, "tasks", "list"], cwd, env)
    job = yaml.safe_load(_run([mkd, "k8s", "render", "train"], cwd, env))
    assert job["kind"] == "RayJob"
    assert "mkd.stages train" in json.dumps(job)
    assert "--address" in _run([mkd, "submit", "--help"], cwd, env)
