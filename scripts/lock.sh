#!/usr/bin/env bash
# Refresh constraints/cpu.txt: resolve the newest versions into a scratch venv, freeze it, and
# accept the result only if README's test command passes on it (the lock is "what passed the
# tests"); on a failure the old lock is put back and the environment reinstalled from it.
# `make lock` runs this after scripts/lock_gpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
MKD_VENV="$scratch/venv" MKD_CONSTRAINTS= scripts/setup.sh
{
  echo "# Every package version of a CPU install that passed the test command (Python 3.11, x86-64),"
  echo "# resolved $(date -u +%F). scripts/setup.sh installs with it (-c), so installs do not drift;"
  echo "# refresh it with \`make lock\` (scripts/lock.sh), which runs the tests before keeping it."
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^-e\|^mkd==\|@ file' \
    | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/'
} > "$scratch/cpu.txt"
cp constraints/cpu.txt "$scratch/cpu.txt.old"
cp "$scratch/cpu.txt" constraints/cpu.txt
# README's test command, verbatim, on an environment installed from the new lock.
if scripts/setup.sh && .venv/bin/python -m pytest; then
  echo "constraints/cpu.txt refreshed and tested: commit it"
else
  cp "$scratch/cpu.txt.old" constraints/cpu.txt
  scripts/setup.sh
  echo "the tests failed on the new versions: constraints/cpu.txt kept as it was" >&2
  exit 1
fi
