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

.PHONY: venv demo test test-slow test-image lint ui status validate clean system-deps sandbox-image bench-judge bench-llm serve stop serve-env code-image test-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# setuptools' notice on every editable install ("Editable installation ... be careful with folders")
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[test]'
	# the train extra for the CPU smoke test, on a CPU build of torch where pip's find-links has one
	{ $(BIN)/python -m pip install --quiet 'torch==2.13.0+cpu' || $(BIN)/python -m pip install --quiet torch; } && PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[train]'
	# The official LiveCodeBench harness, the reference the lcb profile and `xcoder bench judge` are
	# measured against; --no-deps: its own pins (vllm, torch...) are not needed to judge.
	$(BIN)/python -m pip install --quiet --no-deps nvidia-livecodebench==$(LCB_HARNESS_VERSION)
	touch $(STAMP)

venv: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

# `xcoder materialize` runs the assets in this process against DAGSTER_HOME (the UI shows the run),
# prints their progress lines and a failure's message once, and exits non-zero on failure.
# DEMO_CONFIG=run.yaml passes run config (e.g. another seed file), DEMO_SELECT an asset selection (the
# command's default leaves out the GPU group: trained_model and its score run on demand, see docs/training.md);
# XCODER_DEBUG=1 shows Dagster's own log and the stack of a failure.
DEMO_CONFIG ?=
DEMO_SELECT ?=
demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	bash scripts/install-system-deps.sh  # bubblewrap: generated programs run only in the sandbox
	$(BIN)/xcoder materialize $(if $(DEMO_SELECT),--select '$(DEMO_SELECT)') $(if $(DEMO_CONFIG),--config $(DEMO_CONFIG))
	$(BIN)/xcoder status
	@echo
	@echo "Open the UI on these runs:  make ui   (then http://127.0.0.1:3000)"
	@echo "Trace a row:                 $(BIN)/xcoder trace ROW_ID   (--full: prompts, answers, votes)"
	@echo "Query the data:              $(BIN)/xcoder sql \"SELECT status, count(*) FROM problems GROUP BY status\""

# Debian packages for the sandboxes (bubblewrap, docker.io, debootstrap), a Docker daemon, the image.
system-deps:
	bash scripts/install-system-deps.sh
	bash scripts/ensure-dockerd.sh

sandbox-image: system-deps
	bash scripts/build-sandbox-image.sh $(SANDBOX_IMAGE)

# Debian's postgresql and chromium for the deployment and browser tests.
test-deps:
	bash deploy/install-test-deps.sh

LINTED := xcoder_assets xcoder_assets_tests benchmarks deploy scripts
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# Two parts: everything but the judge's own tests on every core (pytest-xdist; the tests share the machine,
# the demo's data is built once for all workers), then the judge's tests alone, as their verdicts hold
# wall-time limits that a neighbour's load would decide. TEST_WORKERS=0 runs the first part in one process.
TEST_WORKERS ?= auto
test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml sandbox-image test-deps lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m 'not slow and not serial' $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -m 'serial and not slow' $(PYTEST_ARGS)

# The suites marked slow: `make serve` against Postgres with the daemon.
test-slow: $(STAMP) $(DAGSTER_HOME)/dagster.yaml sandbox-image test-deps
	$(BIN)/python -m pytest -q -m 'slow and not image' $(PYTEST_ARGS)

# The container deployment (make serve RUNS=docker) end to end: builds the code image first (about 12
# minutes from nothing, a few with the cached root filesystem), then four batches in four containers.
test-image: $(STAMP) $(DAGSTER_HOME)/dagster.yaml sandbox-image test-deps
	$(BIN)/python -m pytest -q -m image -s $(PYTEST_ARGS)

# Postgres-backed deployment: postgres, the code server (gRPC), the webserver and the daemon, each its
# own process, logs in $(SERVE_DIR)/logs; a free port is used when SERVE_PORT is taken.
# RUNS=docker: every run in a container of its own (dagster-docker's DockerRunLauncher) from the code
# image of this checkout (make code-image), the data folder bind-mounted into each; see deploy/serve.py.
SERVE_DIR ?= $(CURDIR)/.serve
SERVE_PORT ?= 3000
RUNS ?= local
serve: $(STAMP) $(if $(filter docker,$(RUNS)),code-image)
	bash deploy/install-postgres.sh
	$(BIN)/python deploy/serve.py start --dir $(SERVE_DIR) --port $(SERVE_PORT) --runs $(RUNS)

# The code image (deploy/build-code-image.sh: no Docker Hub), named after the content it installs
# (`deploy/serve.py image-name`), built only when that name is missing.
code-image: $(STAMP)
	bash scripts/ensure-dockerd.sh
	image=$$($(BIN)/python deploy/serve.py image-name) && \
	  { docker image inspect $$image >/dev/null 2>&1 || bash deploy/build-code-image.sh $$image; }

stop:
	$(BIN)/python deploy/serve.py stop --dir $(SERVE_DIR)

# Shell exports that point the dagster and xcoder commands at the running deployment:
#   eval "$(make -s serve-env)"; .venv/bin/dagster run list
serve-env:
	@$(BIN)/python deploy/serve.py env --dir $(SERVE_DIR)

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

status: $(STAMP)
	$(BIN)/xcoder status

validate: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -w workspace.yaml

bench-judge: $(STAMP) sandbox-image
	$(BIN)/xcoder bench judge --solutions 300 --tests 10 --workers 2 --rounds 5

# The bench starts the local fake server itself, on a free port (two users may run it at once), and stops it.
bench-llm: $(STAMP)
	$(BIN)/xcoder bench llm --latency 0.2 --requests 2000 --concurrency 64

# The demo's data and runs, and the deployment of `make serve` (stopped first, its Postgres cluster too).
clean:
	if [ -x $(BIN)/python ]; then $(BIN)/python deploy/serve.py clean --dir $(SERVE_DIR); fi
	rm -rf data .dagster_home
