# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench data lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed  ## install and run the Georgia scenario into out/georgia/
	$(BIN)/territory-opt run scenarios/georgia.yaml

test: $(VENV)/.installed-test  ## install the test extras and run the test suite
	$(BIN)/python -m pytest

bench: $(VENV)/.installed  ## seconds per stage of the Georgia scenario
	$(BIN)/python benchmarks/georgia.py

lab: $(VENV)/.installed  ## install JupyterLab into .venv and open the notebooks
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	$(BIN)/jupyter lab notebooks/

data: $(VENV)/.installed-test  ## rebuild data/georgia/ from libpysal and zipcodes
	$(BIN)/python data/make_georgia.py

clean:
	rm -rf $(VENV) out
