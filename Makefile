# prodline: `make demo` runs the credit-risk story, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench bench-retrieval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The demo's workspace is made anew on every run (the stories start from an empty one).
DEMO_HOME := $(CURDIR)/.prodline-demo

demo: $(STAMP)
	rm -rf $(DEMO_HOME)
	PRODLINE_HOME=$(DEMO_HOME) $(BIN)/prodline demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

# serving.py needs wrk (apt-get install -y wrk); it builds MLflow's venv on first use.
bench: $(STAMP)
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/predictions.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/hardening.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/rag.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/switch.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/feedback.py
	$(BIN)/python bench/concept.py
	$(BIN)/python bench/fairness.py
	$(BIN)/python bench/poisoning.py
	$(BIN)/python bench/guard.py
	$(BIN)/python bench/control_plane.py

# Long: builds a 200k-vector HNSW index several times and Chroma's venv on first use.
bench-retrieval: $(STAMP)
	$(BIN)/python bench/retrieval.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
