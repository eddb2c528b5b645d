# The commands people type. Each one sets up what it needs first (idempotent).
.PHONY: setup test lint demo demo-quick bench lock check-locks

setup:
	scripts/setup.sh

test:
	scripts/setup.sh && .venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

demo:
	scripts/setup.sh && .venv/bin/mkd demo

demo-quick:
	scripts/setup.sh && .venv/bin/mkd demo --profile quick

bench:
	scripts/setup.sh && .venv/bin/python benchmarks/run_all.py

# Re-resolve every lock: the GPU images' (uv, hashed), then the CPU one, kept only if the tests pass.
lock:
	scripts/lock_gpu.sh
	scripts/lock.sh
	.venv/bin/python scripts/check_locks.py

# Fails when a lock and pyproject.toml disagree (CI runs it before the tests).
check-locks:
	.venv/bin/python scripts/check_locks.py
