# Vigil: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
ARGS ?=
IMAGE ?= vigil:latest

.PHONY: install run test test-unit test-integration lint bench prepare-test-env image clean chaos

# uv is installed into a private tool venv so that nothing on the machine needs changing.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: $(UV) pyproject.toml uv.lock shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-groups --compile-bytecode --python $(PYTHON)
	@# Bytecode for the workspace's own (editable) sources too: with PYTHONDONTWRITEBYTECODE
	@# set, a process would otherwise compile each of them at every start.
	$(VENV)/bin/python -m compileall -q src shared/src services/*/src > /dev/null
	@touch $@

install: $(VENV)/.installed  ## create .venv with everything; gives .venv/bin/vigil

# The whole system on this host, against the local Docker engine (set up like the tests do
# when none answers), with an embedded NATS server. Extra flags: make run ARGS="--run-once".
run: install
	@bash scripts/prepare-test-env.sh --engine-only
	$(VENV)/bin/vigil $(ARGS)

prepare-test-env:
	@bash scripts/prepare-test-env.sh

# The linters first: `make test` is CI's one command (.ci/run), so ruff and mypy stay clean.
test: install lint prepare-test-env  ## set up, lint and run the whole suite
	TESTCONTAINERS_RYUK_DISABLED=true $(VENV)/bin/pytest --durations=15 $(ARGS)

test-unit: install
	$(VENV)/bin/pytest tests/unit $(ARGS)

# The suites on real parts only (engine, registry, NATS): integration, e2e, faults, deploy.
test-integration: install prepare-test-env
	TESTCONTAINERS_RYUK_DISABLED=true $(VENV)/bin/pytest tests/integration tests/e2e tests/faults tests/deploy $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src src tests bench

bench: install prepare-test-env
	$(VENV)/bin/python -m bench $(ARGS)

# The chaos soak (tests/faults/test_chaos.py), longer than CI's: make chaos ROUNDS=200 SEED=7.
ROUNDS ?= 60
SEED ?= $(shell date +%s)
chaos: install prepare-test-env
	CHAOS_ROUNDS=$(ROUNDS) CHAOS_SEED=$(SEED) TESTCONTAINERS_RYUK_DISABLED=true \
		$(VENV)/bin/pytest -p no:cacheprovider -m chaos tests/faults/test_chaos.py $(ARGS)

# The container image of deploy/Dockerfile; the build itself needs no network (docs/deploy.md).
image: install  ## build the container image as $(IMAGE)
	bash scripts/build-image.sh $(IMAGE)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache build
