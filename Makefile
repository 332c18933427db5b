# Two commands for a newcomer on a fresh machine:
#   make run    set up .venv and start the officers' app on its embedded default (SQLite in var/, demo scenario)
#   make test   set up .venv with the test extras and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO := data/scenarios/wuhan-2020-02-10

.PHONY: run test test-fast lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test,postgres]"
	touch $@ $(VENV)/.installed

# The officers' app on http://127.0.0.1:8501: SQLite in var/ migrated on start, seeded with the demo
# scenario on first start; the first start creates user "admin" with $$ALLOCATOR_ADMIN_PASSWORD or a
# generated password printed once on this console.
run: $(VENV)/.installed
	$(PY) -m allocator.store.bootstrap $(DEMO)
	$(VENV)/bin/streamlit run app.py

test: $(VENV)/.installed-test
	$(PY) -m pytest

# everything but the tests marked slow (browser tests, big rounds)
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check allocator tests bench scripts
	$(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) bench/allocate.py
	$(PY) bench/network.py

clean:
	rm -rf $(VENV) out .pytest_cache
