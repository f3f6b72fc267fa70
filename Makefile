# Firebreak — the commands a newcomer needs.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install run test lint demo bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## the whole stack on embedded defaults (API on 127.0.0.1:8080)
	$(VENV)/bin/firebreak up

test: install  ## unit, integration and end-to-end tests
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

demo: install
	$(VENV)/bin/firebreak demo

bench: install
	$(PY) bench/ingest.py
