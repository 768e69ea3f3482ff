# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test demo install install-test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PY)
	$(PIP) install -q -e .

install-test: $(PY)
	$(PIP) install -q -e '.[test]'

run: install
	$(VENV)/bin/gatepass serve

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

# examples/video-platform: gatepass, the app's API and nginx on loopback, until Ctrl-C
demo: install
	$(PY) examples/video-platform/demo.py

bench: $(PY)
	$(PIP) install -q -e '.[bench]'
	$(PY) bench/verify.py

clean:
	rm -rf $(VENV) gatepass-data .pytest_cache .mypy_cache .ruff_cache
