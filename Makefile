# Every target installs what it needs: a fresh machine needs only python3 and make.
.DEFAULT_GOAL := help
SHELL := /bin/bash

TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# NOTE: use the platform trust store, so a TLS-inspecting proxy with a local CA works too.
export UV_SYSTEM_CERTS := 1

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv>=0.5,<1"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra test --extra docker --extra k8s --extra bench --extra bench-dlt
	touch $@

install: .venv/.synced ## create .venv from uv.lock (dagster, polars, embedded Postgres, test and bench tools, dlt)

dev: install ## start embedded Postgres and dagster dev (http://localhost:3000) on .dev/landing
	.venv/bin/python -m import_pipeline.devserver

psql: install ## psql on the dev database (the embedded server in .dev/pgdata, or DATABASE_URL)
	.venv/bin/python -m import_pipeline.devserver psql

# NOTE: the suite runs on 2 pytest-xdist workers (each with its own embedded Postgres and moto
# server): half its wall time was waiting on Dagster processes, sensors and the fault suite's
# runs. A test file at a time per worker (loadfile), so a module's fixture (the fault suite's
# run, the production stack) is made once; xdist's loadgroup does not group under pytest 9.2.
TEST_WORKERS ?= 2

test: install ## run the whole suite against a real Postgres and a real S3-protocol server
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install ## ruff
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: install ## the benchmark (not part of make test): prints and writes bench/RESULTS.md
	.venv/bin/python -m bench.run --repeat 3

k8s-render: install ## re-render deploy/kubernetes/rendered-instance.yaml: make k8s-render CHART=/path/to/helm/dagster
	.venv/bin/python -m import_pipeline_tests.production.helm_render --chart "$(CHART)" $(if $(SOURCE),--source "$(SOURCE)")

faults: install ## the fault suite (crashes, restarts, overlaps, hostile files; a small run is in make test)
	.venv/bin/python -m faults.run

.PHONY: help install dev psql test lint bench faults k8s-render
