# The README's commands: `make lab` and `make test` first; `make check` while editing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed: stagelab with its runtime dependencies; then the test extras too.
INSTALLED := $(VENV)/.stagelab-installed
TEST_INSTALLED := $(VENV)/.stagelab-test-installed
SITE_INSTALLED := $(VENV)/.stagelab-site-installed
LAB_PORT ?= 8888

.PHONY: lab check test lesson hooks setup site notebooks recordings benchmark clean classroom

$(INSTALLED): pyproject.toml scripts/install-python
	@PYTHON=$(PYTHON) scripts/install-python $(VENV)
	@touch $@

# make test builds the site too (tests/site).
$(TEST_INSTALLED): $(INSTALLED)
	@PYTHON=$(PYTHON) scripts/install-python $(VENV) test,site
	@touch $@

$(SITE_INSTALLED): $(INSTALLED)
	@PYTHON=$(PYTHON) scripts/install-python $(VENV) site
	@touch $@

setup: $(INSTALLED)
	@$(BIN)/stagelab setup

# jupyter/settings/overrides.json: the project's JupyterLab settings (no news pop-up).
lab: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser --allow-root \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/01_start_here.ipynb \
		--LabApp.app_settings_dir=$(CURDIR)/jupyter/settings

# The course as a static site in site/: every lesson and lab task, builds replayed from the
# recordings (no engine needed), rendered by nbconvert.
site: $(SITE_INSTALLED)
	$(BIN)/python -m stagelab.site site

# The lessons' notebooks from their text sources (lessons/NN_topic.md, see lessons/README.md):
# writes each notebooks/NN_topic.ipynb that differs. jupytext comes with the test extras.
notebooks: $(TEST_INSTALLED)
	$(BIN)/python scripts/lesson_notebooks.py

# A workshop on this server: a hub, a rootless engine and an account per learner (root only).
classroom: setup
	@test -n "$(LEARNERS)" || { echo "usage: make classroom LEARNERS=N" >&2; exit 2; }
	$(BIN)/stagelab classroom up --learners $(LEARNERS)

# The loop while editing (well under a minute, no engine, root or browser needed): lint and format,
# the import layers, and every test that needs none of those (the markers in pyproject.toml).
FAST_TESTS := not engine and not root and not browser and not lessons
check: $(TEST_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "$(FAST_TESTS)" tests

# One lesson under nbval, as `make test` runs it: `make lesson N=03` on the engine, or
# `make lesson N=03 REPLAY=1` with no engine (its builds replay their recordings, as on Binder).
lesson: $(TEST_INSTALLED)
	@test -n "$(N)" || { echo "usage: make lesson N=03 [REPLAY=1]" >&2; exit 2; }
	$(if $(REPLAY),DOCKER_HOST=unix:///nonexistent.sock )$(BIN)/python -m pytest notebooks/$(N)_*.ipynb

# The pre-commit hooks (.pre-commit-config.yaml), once per clone.
hooks: $(TEST_INSTALLED)
	$(BIN)/pre-commit install

# Everything. The machine's set-up (engine, images, Chromium) runs while the test extras
# install; STAGELAB_REQUIRE=1 makes a missing engine, root or browser fail instead of skip.
test: $(INSTALLED)
	@$(BIN)/stagelab setup --browser & setup=$$!; \
		$(MAKE) --no-print-directory $(TEST_INSTALLED); installed=$$?; \
		wait $$setup && [ $$installed = 0 ]
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	STAGELAB_REQUIRE=1 $(BIN)/python -m pytest

# Record every build and container call of the lessons and the lab solutions on this engine
# (no-engine mode replays them), then the lesson variants (the other parameter values a lesson
# invites the reader to try, scripts/record_variants.py); recordings this run did not write
# are stale and removed. Then replay the lessons and their variants with no engine, as Binder
# will.
recordings: setup $(TEST_INSTALLED)
	@touch $(VENV)/.recordings-started
	STAGELAB_RECORD=1 STAGELAB_RECORDINGS= $(BIN)/python -m pytest -p no:cacheprovider \
		notebooks tests/replay/test_replay_lab_solutions.py
	STAGELAB_RECORDINGS= STAGELAB_RECORD_SINCE=$$(stat -c %Y $(VENV)/.recordings-started) \
		$(BIN)/python scripts/record_variants.py
	@find src/stagelab/recordings -name '*.json' ! -newer $(VENV)/.recordings-started \
		-print -delete | sed 's/^/removed stale recording /'
	$(BIN)/python -m pytest -p no:cacheprovider tests/replay/test_replay_lessons.py

benchmark: setup
	$(BIN)/python benchmarks/bench_build.py

clean:
	$(BIN)/stagelab clean
