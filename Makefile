# Two commands for a newcomer on a fresh machine:
#   make run    set up .venv and run the product on its embedded default (SQLite, demo scenario)
#   make test   set up .venv with the test extras and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO := data/scenarios/wuhan-2020-02-10

.PHONY: run test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test,postgres]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m allocator validate $(DEMO) --quiet
	$(PY) -m allocator round $(DEMO) --out out/demo-round

test: $(VENV)/.installed-test
	$(PY) -m pytest

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check allocator tests bench scripts

bench: $(VENV)/.installed
	$(PY) bench/allocate.py
	$(PY) bench/network.py

clean:
	rm -rf $(VENV) out .pytest_cache
