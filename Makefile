# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export LITELLM_LOCAL_MODEL_COST_MAP := True
export XCODER_DATA_DIR ?= $(CURDIR)/data

# The image name is written once, in the package (DEFAULT_IMAGE in xcoder_assets/sandbox/backends.py).
SANDBOX_IMAGE ?= $(shell sed -n 's/^DEFAULT_IMAGE = "\(.*\)"/\1/p' xcoder_assets/sandbox/backends.py)
LCB_HARNESS_VERSION := 26.3

.PHONY: venv demo test ui status validate clean system-deps sandbox-image bench-judge bench-llm

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The official LiveCodeBench harness, the reference the lcb profile and `xcoder bench judge` are
	# measured against; --no-deps: its own pins (vllm, torch...) are not needed to judge.
	$(BIN)/python -m pip install --quiet --no-deps nvidia-livecodebench==$(LCB_HARNESS_VERSION)
	touch $(STAMP)

venv: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	bash scripts/install-system-deps.sh  # bubblewrap: generated programs run only in the sandbox
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

bench-judge: $(STAMP) sandbox-image
	$(BIN)/xcoder bench judge --solutions 300 --tests 10 --workers 2

# The bench starts the local fake server itself, on a free port (two users may run it at once), and stops it.
bench-llm: $(STAMP)
	$(BIN)/xcoder bench llm --latency 0.2 --requests 2000 --concurrency 64

clean:
	rm -rf data .dagster_home
