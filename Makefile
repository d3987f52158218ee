# Two commands do all set-up on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
.PHONY: setup setup-dev demo test test-fast lint typecheck bench bench-catalogue bench-devices

setup:
	@bash scripts/setup.sh

setup-dev:
	@bash scripts/setup.sh --dev

demo: setup
	@bash scripts/demo.sh

test: setup-dev
	.venv/bin/python -m pytest -n 2 --dist loadgroup

test-fast: setup-dev
	.venv/bin/python -m pytest -n 2 -m "not slow and not browser"

lint: setup-dev typecheck
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

# mypy over media_pipeline and library (settings in pyproject.toml [tool.mypy]).
typecheck: setup-dev
	.venv/bin/mypy

bench: setup-dev
	.venv/bin/python scripts/bench_render.py

bench-catalogue: setup-dev
	.venv/bin/python scripts/bench_catalogue.py

bench-devices: setup-dev
	.venv/bin/python scripts/bench_devices.py
