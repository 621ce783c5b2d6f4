# make train / make test set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of torch that lies on this machine's disk (pip finds it there).
TORCH := torch==2.13.0
export WANDB_SILENT ?= true
# pytest-xdist workers: most tests are one-thread subprocesses, so one worker per core
TEST_WORKERS ?= auto

.PHONY: install install-dev train test test-all bench bottleneck transfer clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps make a second call skip what is already installed; they are redone when pyproject changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip show torch >/dev/null 2>&1 || $(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

train: install
	$(PY) train.py $(ARGS)

test: install-dev
	$(PY) -m pytest -q -n $(TEST_WORKERS) $(ARGS)

test-all: install-dev
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m '' $(ARGS)

bench: install
	$(PY) -m benchmarks.run $(ARGS)

bottleneck: install
	$(PY) train.py -m experiment=bottleneck $(ARGS)

# Pretraining runs once into $(PRETRAINED); experiment=transfer reuses it on later calls. A
# pretraining that was stopped is continued from its last checkpoint.
PRETRAINED ?= outputs/pretrain/make
$(PRETRAINED)/metrics.json: | install
	if [ -f $(PRETRAINED)/checkpoints/last.ckpt ]; then $(PY) train.py resume=$(PRETRAINED); \
	else $(PY) train.py experiment=pretrain hydra.run.dir=$(PRETRAINED); fi

transfer: $(PRETRAINED)/metrics.json
	$(PY) train.py -m experiment=transfer pretrained=$(PRETRAINED) $(ARGS)

clean:
	rm -rf outputs multirun .pytest_cache
