# The two commands of the README: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stagelab-installed
LAB_PORT ?= 8888

.PHONY: lab test setup recordings benchmark clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/stagelab setup

lab: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser --allow-root \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/01_start_here.ipynb

test: $(STAMP)
	$(BIN)/stagelab setup --browser
	$(BIN)/python -m pytest

recordings: setup
	STAGELAB_RECORD=1 $(BIN)/python -m pytest tests/notebooks -k lessons

benchmark: setup
	$(BIN)/python benchmarks/bench_build.py

clean:
	$(BIN)/stagelab clean
