# The two commands of the README. Each sets up what it needs in .venv on first use.
#   make playground   open the first tutorial notebook in JupyterLab
#                     (make playground UI=notebook: the same in Notebook 7)
#   make test         install the system programs the tests need, lint, run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# playground: which front end opens first (lab or notebook; the server serves both), and
# extra arguments for Jupyter, e.g. JUPYTER_ARGS="--no-browser --port=8899".
UI ?= lab
JUPYTER_ARGS ?=
FIRST_NOTEBOOK := notebooks/01-creating-routes.ipynb

.PHONY: playground test system-packages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	touch $@

# Jupyter refuses to run as root unless told; only root needs the flag.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Each front end's own default URL opens the first notebook (LabApp's overrides ServerApp's).
OPEN_lab := lab --LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK)
OPEN_notebook := notebook --JupyterNotebookApp.default_url=/notebooks/$(FIRST_NOTEBOOK)
$(if $(OPEN_$(UI)),,$(error UI is lab or notebook, not '$(UI)'))

playground: $(VENV)/.installed-lab
	$(BIN)/jupyter $(OPEN_$(UI)) $(ROOT_FLAG) $(JUPYTER_ARGS)

# Chromium (browser tests) and redis-server: apt as root, else Playwright's download for
# Chromium; what cannot be installed stops here with the one command to run.
system-packages: $(VENV)/.installed-test
	$(BIN)/python -m tests.system_packages

test: system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_echo.py

clean:
	rm -rf $(VENV)
