#!/usr/bin/env bash
# Refresh constraints/cpu.txt: resolve the newest versions into a scratch venv, then freeze it.
# Run the test command on the result before committing it (the lock is "what passed the tests").
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
MKD_VENV="$scratch/venv" MKD_CONSTRAINTS= scripts/setup.sh
{
  echo "# Every package version of a CPU install that passed the test command (Python 3.11, x86-64),"
  echo "# resolved $(date -u +%F). scripts/setup.sh installs with it (-c), so installs do not drift;"
  echo "# refresh it with scripts/lock.sh after a deliberate upgrade, then run the tests."
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^-e\|^mkd==\|@ file' \
    | sed 's/^torch==\([0-9.]*\)+cpu$/torch==\1/'
} > constraints/cpu.txt.new
mv constraints/cpu.txt.new constraints/cpu.txt
rm -rf "$scratch"
echo "constraints/cpu.txt refreshed: run the tests, then commit it"
