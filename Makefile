# The commands people type. Each one sets up what it needs first (idempotent).
.PHONY: setup test lint demo demo-quick bench

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
