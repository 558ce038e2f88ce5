# Everything a newcomer needs: `make run` (all labs, offline default profile) and `make test`.
# The first call creates .venv and installs requirements.txt plus, editable, the student package
# (mitdeeplearning/, ./pyproject.toml) and the instructor tooling (mdl_tools/, its own pyproject.toml).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PROFILE ?= default

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED = 1

.PHONY: run test test-browser test-colab-stack lab build check bench clean help

help:
	@echo "make run    - execute every lab's solution notebook ($(PROFILE) profile) into runs/, print a summary"
	@echo "make test   - the whole test suite (unit tests, notebooks in the smoke profile, drift checks)"
	@echo "make test-browser - every solution notebook (smoke) in JupyterLab in a real browser (installs Debian's chromium once)"
	@echo "make test-colab-stack - installing the package keeps Colab's TF 2.19 / Keras 3.10 / NumPy 2.0.2; notebooks run there"
	@echo "make lab    - start JupyterLab on the labs"
	@echo "make build  - regenerate the student notebooks from the solutions"
	@echo "make check  - fail on drift, saved outputs, unparsable cells or TODOs without checks"
	@echo "make bench  - measure every lab, regenerate RESULTS.md and docs/figures (ARGS=--quick: smoke check)"

$(STAMP): requirements.txt pyproject.toml setup.py mdl_tools/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e . -e ./mdl_tools
	@touch $@

run: $(STAMP)
	$(BIN)/mitdeeplearning run --all --profile $(PROFILE) --out runs/$(PROFILE)

test: $(STAMP)
	$(BIN)/python -m pytest

# JupyterLab driven in Debian's chromium by playwright (whose own browser download is not used).
SUDO = $(shell test "$$(id -u)" -eq 0 || echo sudo)
CHROMIUM ?= /usr/bin/chromium
test-browser: $(STAMP)
	@test -x $(CHROMIUM) || $(SUDO) apt-get install -y -q chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	MDL_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest browser_tests -v

# A venv with Colab's stack (cached in .venv-colab), the package installed as the Colab cell does,
# pip freeze must show the stack unchanged; then the solution notebooks in smoke on that Python.
test-colab-stack: $(STAMP)
	PYTHON=$(PYTHON) TOOLS_BIN=$(BIN) .ci/colab-stack.sh

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

build: $(STAMP)
	$(BIN)/mitdeeplearning build

check: $(STAMP)
	$(BIN)/mitdeeplearning check

# make bench ARGS=--quick   (a few minutes, into results/quick/; the committed report is left alone)
bench: $(STAMP)
	$(BIN)/mitdeeplearning bench $(ARGS)

clean:
	rm -rf runs .pytest_cache
