"""`python -m mkd.stages NAME` as a RayJob or a user runs it: a real subprocess, a real stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(ROOT / "platform"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _config(tmp_path: Path, pack, store: str) -> Path:
    curated = pack.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "curated.jsonl").write_text("\n".join(curated[:5]) + "\n", encoding="utf-8")
    path = tmp_path / f"{store}.yaml"
    data = {
        "store": {"uri": f"file://{tmp_path / store}"},
        "data": {"curated": str(tmp_path / "curated.jsonl")},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_augment_runs_through_python_m_mkd_stages(tmp_path, pack):
    result = _run("mkd.stages", "augment", "-c", str(_config(tmp_path, pack, "a")), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (outcome,) = [line for line in result.stdout.splitlines() if line.startswith("augment ")]
    assert outcome.startswith("augment done: curated 5, prompts ")
    prompts = tmp_path / "a" / "work" / "finance" / "v1" / "prompts.jsonl"
    assert f"prompts file://{prompts}" in outcome
    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert len(rows) > 5 and {row["family"] for row in rows} >= {rows[0]["family"]}


def test_the_ray_jobs_script_is_the_same_stage(tmp_path, pack):
    """ray_jobs/ stays for existing RayJob manifests: the same store contents and outcome."""
    for module, store in (("mkd.stages augment", "a"), ("ray_jobs.augment", "b")):
        result = _run(*module.split(), "-c", str(_config(tmp_path, pack, store)), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    written = [tmp_path / s / "work" / "finance" / "v1" / "prompts.jsonl" for s in ("a", "b")]
    assert written[0].read_bytes() == written[1].read_bytes()


def test_a_bad_config_exits_2_naming_the_field(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("teacher: {backend: nonsense}\n")
    result = _run("mkd.stages", "augment", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "teacher.backend" in result.stderr and not result.stdout
