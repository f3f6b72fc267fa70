# Firebreak — the commands a newcomer needs.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install run test lint demo monitoring bench bench-triage

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## the whole stack on embedded defaults (API on 127.0.0.1:8080)
	$(VENV)/bin/firebreak up

test: install  ## unit, integration, end-to-end and chaos tests, on two test workers
	$(VENV)/bin/pytest -q -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

demo: install monitoring  ## the whole loop: fault, alert, diagnosis, remediation, postmortem
	$(VENV)/bin/firebreak demo

monitoring:  ## Prometheus and Alertmanager from Debian, when missing and installable
	@command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get install -y -qq prometheus prometheus-alertmanager; } || \
	  { echo "The demo needs Prometheus and Alertmanager: sudo apt-get install prometheus prometheus-alertmanager"; exit 1; }

bench: install
	$(PY) bench/ingest.py

bench-triage: install  ## triage accuracy and latency through real Prometheus (figures, not a gate)
	$(PY) bench/triage.py
