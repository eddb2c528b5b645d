#!/usr/bin/env bash
# Resolve the GPU images' locks, constraints/<extra>.txt for each extra Dockerfile.gpu builds with
# (MKD_EXTRA), with hashes, for the base image's Python and x86-64 Linux, Ray pinned to the
# Dockerfile's RAY_VERSION. Each extra has a lock of its own: vLLM and Unsloth pin different torch
# builds. uv runs from its own venv under .tools/ (it never enters the project's environment).
#   scripts/lock_gpu.sh              every GPU extra
#   scripts/lock_gpu.sh gpu-train    one of them
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=("$@")
[ ${#EXTRAS[@]} -gt 0 ] || EXTRAS=(gpu-serve gpu-train)
UV_VERSION=0.13.9
if [ ! -x .tools/uv/bin/uv ]; then
  "${PYTHON:-python3}" -m venv .tools/uv
  .tools/uv/bin/python -m pip -q --disable-pip-version-check install "uv==$UV_VERSION"
fi
ray=$(sed -n 's/^ARG RAY_VERSION=//p' Dockerfile.gpu)
base=$(sed -n 's/^FROM rayproject\/ray:[^-]*-py\([0-9]\)\([0-9]*\)-gpu$/\1.\2/p' Dockerfile.gpu)
[ -n "$ray" ] && [ -n "$base" ] || { echo "Dockerfile.gpu: no RAY_VERSION or py3XX base" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "ray==$ray" > "$scratch/ray.txt"
for extra in "${EXTRAS[@]}"; do
  # A new lock replaces the old one only once it resolved completely.
  .tools/uv/bin/uv pip compile pyproject.toml --quiet --extra "$extra" \
    --python-version "$base" --python-platform x86_64-manylinux_2_28 --generate-hashes \
    --constraint "$scratch/ray.txt" --custom-compile-command "make lock" \
    --output-file "$scratch/$extra.txt"
  mv "$scratch/$extra.txt" "constraints/$extra.txt"
  echo "constraints/$extra.txt: Python $base, x86-64 Linux, ray==$ray"
done
