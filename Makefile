# The two set-up-and-go commands of the README. Each creates the virtual environment from
# pyproject.toml on first use (torch and torchvision pinned to the wheels on this machine's disk).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format resolutions

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Train the baseline (BYOL) on the embedded random-dot stereograms and print its summary.
run: $(STAMP)
	$(PY) -m src.run

## Lint, format check, then the whole test suite (offline, CPU), one worker per core (at most 4), each test
## file on one worker (a file's tests share their module fixtures).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -q -n auto --maxprocesses 4 --dist loadfile

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Re-record what pip resolves the package to on Python 3.12 and 3.13 and on a CUDA image's stack (needs the
## package index and python3.12/python3.13 on the PATH); tests/test_install_metadata.py checks the records.
resolutions: $(STAMP)
	$(PY) tests/install_resolution.py
