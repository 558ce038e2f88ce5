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

.PHONY: run test test-browser test-colab lab build check bench clean help

help:
	@echo "make run    - execute every lab's solution notebook ($(PROFILE) profile) into runs/, print a summary"
	@echo "make test   - the whole test suite (unit tests, notebooks in the smoke profile, drift checks)"
	@echo "make test-browser - every solution notebook (smoke) in JupyterLab in a real browser (installs Debian's chromium once)"
	@echo "make test-colab - on replicas of Colab's runtimes (.ci/colab/runtimes): the setup cell changes no package, the labs run"
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

# Replicas of Colab's runtimes (one venv each in .venv-colab/, on the runtime's Python version):
# the setup cell's install must change none of Colab's packages, pip's resolver must accept the
# whole freeze, and the notebook tests run on the replica's kernel. COLAB_RUNTIMES names some
# (file names in .ci/colab/runtimes/ without .txt); empty means all of them.
COLAB_RUNTIMES ?=
test-colab: $(STAMP)
	$(BIN)/python .ci/colab/replica.py $(COLAB_RUNTIMES)

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
