# The two commands of the README. Each sets up what it needs in .venv on first use.
#   make playground   open the first tutorial notebook in JupyterLab
#   make test         lint, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: playground test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	touch $@

# JupyterLab refuses to run as root unless told; only root needs the flag.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

playground: $(VENV)/.installed-lab
	$(BIN)/jupyter lab $(ROOT_FLAG) \
		--LabApp.default_url=/lab/tree/notebooks/01-creating-routes.ipynb

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_echo.py

clean:
	rm -rf $(VENV)
