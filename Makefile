# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export LITELLM_LOCAL_MODEL_COST_MAP := True
export XCODER_DATA_DIR ?= $(CURDIR)/data

SANDBOX_IMAGE ?= xcoder-sandbox:bookworm

.PHONY: venv demo test ui status validate clean system-deps sandbox-image bench-judge

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster asset materialize -m xcoder_assets.definitions --select '*'
	$(BIN)/xcoder status
	@echo
	@echo "Open the UI on these runs:  make ui   (then http://127.0.0.1:3000)"
	@echo "Trace a row:                 $(BIN)/xcoder trace ROW_ID"

# Debian packages for the sandboxes (bubblewrap, docker.io, debootstrap), a Docker daemon, the image.
system-deps:
	bash scripts/install-system-deps.sh
	bash scripts/ensure-dockerd.sh

sandbox-image: system-deps
	bash scripts/build-sandbox-image.sh $(SANDBOX_IMAGE)

test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml sandbox-image
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

status: $(STAMP)
	$(BIN)/xcoder status

validate: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf data .dagster_home
