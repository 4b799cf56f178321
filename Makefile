# The two commands of the README: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stagelab-installed
LAB_PORT ?= 8888

.PHONY: lab test setup site recordings benchmark clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq python3-venv; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,site]'
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/stagelab setup

# jupyter/settings/overrides.json: the project's JupyterLab settings (no news pop-up).
lab: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser --allow-root \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/01_start_here.ipynb \
		--LabApp.app_settings_dir=$(CURDIR)/jupyter/settings

# The course as a static site in site/: every lesson and lab task, builds replayed from the
# recordings (no engine needed), rendered by nbconvert.
site: $(STAMP)
	$(BIN)/python -m stagelab.site site

test: $(STAMP)
	$(BIN)/stagelab setup --browser
	$(BIN)/python -m pytest

# Record every build and container call of the lessons and the lab solutions on this engine
# (no-engine mode replays them); recordings this run did not write are stale and removed.
# Then replay the lessons with no engine, as Binder will.
recordings: setup
	@touch $(VENV)/.recordings-started
	STAGELAB_RECORD=1 STAGELAB_RECORDINGS= $(BIN)/python -m pytest -p no:cacheprovider \
		notebooks tests/replay/test_replay_lab_solutions.py
	@find src/stagelab/recordings -name '*.json' ! -newer $(VENV)/.recordings-started \
		-print -delete | sed 's/^/removed stale recording /'
	$(BIN)/python -m pytest -p no:cacheprovider tests/replay/test_replay_lessons.py

benchmark: setup
	$(BIN)/python benchmarks/bench_build.py

clean:
	$(BIN)/stagelab clean
