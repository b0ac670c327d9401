# ClauseWatch: every target creates the virtual environment when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RAW_DIR ?= $(if $(wildcard ../shared/data/raw),../shared/data/raw,data/raw)
DATA_DIR ?= data/processed
CONFIG ?= configs/base.yaml
MODEL ?= outputs/latest/model
EXPORT ?= outputs/latest/export
EXCLUDE_LICENSES ?=
ARGS ?=
export RAW_DIR
# Shell-quote a make variable (paths with spaces or quotes stay one argument and never run).
q = '$(subst ','\'',$(1))'

.DEFAULT_GOAL := help
.PHONY: help install data download train eval export push predict diff watch bench test test-slow quality format clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-11s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned dependencies

download: $(VENV)/.installed ## Download the raw sources into RAW_DIR (needs internet), verify checksums
	$(PY) scripts/download_data.py --raw-dir $(RAW_DIR)

data: $(VENV)/.installed ## Build the clause dataset from RAW_DIR (EXCLUDE_LICENSES=a,b to leave sources out)
	@if [ ! -d "$(RAW_DIR)" ]; then $(MAKE) download; fi
	$(PY) -m train.dataset --raw-dir $(RAW_DIR) --output-dir $(DATA_DIR) --exclude-licenses "$(EXCLUDE_LICENSES)"

train: $(VENV)/.installed ## Fine-tune (CONFIG=configs/<name>.yaml, ARGS="section.key=value ...")
	@build=$$($(PY) -m train.config --dataset-to-build --config $(call q,$(CONFIG)) $(ARGS)) && \
	if [ -n "$$build" ]; then $(MAKE) data DATA_DIR="$$build"; fi
	$(PY) scripts/run_train.py --config $(call q,$(CONFIG)) $(ARGS)

eval: $(VENV)/.installed ## Evaluate MODEL on the test split with baselines, plots and report
	$(PY) scripts/run_eval.py --model $(MODEL) $(ARGS)

export: $(VENV)/.installed ## Export MODEL to a Hub folder, ONNX fp32/int8 and a model card
	$(PY) scripts/export.py --model $(MODEL) $(if $(REPO_ID),--repo-id $(REPO_ID)) $(ARGS)

push: $(VENV)/.installed ## Upload the export to the Hub: make push REPO_ID=user/name [ARGS=--private|--dry-run]
	@if [ -z "$(REPO_ID)" ]; then echo "error: set REPO_ID, e.g. make push REPO_ID=you/clausewatch"; exit 2; fi
	$(PY) scripts/push.py --export $(EXPORT) --repo-id $(REPO_ID) $(ARGS)

predict: $(VENV)/.installed ## Batch inference: make predict INPUT=docs/ OUTPUT=out/ [MODEL=...]
	@if [ -z $(call q,$(INPUT)) ] || [ -z $(call q,$(OUTPUT)) ]; then echo "error: set INPUT and OUTPUT, e.g. make predict INPUT=policies/ OUTPUT=out/"; exit 2; fi
	$(PY) scripts/predict.py --model $(call q,$(MODEL)) --output $(call q,$(OUTPUT)) $(ARGS) $(call q,$(INPUT))

diff: $(VENV)/.installed ## What changed: make diff OLD=old.md NEW=new.md [MODEL=...]
	@if [ -z $(call q,$(OLD)) ] || [ -z $(call q,$(NEW)) ]; then echo "error: set OLD and NEW, e.g. make diff OLD=v1.md NEW=v2.md"; exit 2; fi
	$(PY) scripts/diff.py --model $(call q,$(MODEL)) $(call q,$(OLD)) $(call q,$(NEW)) $(ARGS)

watch: $(VENV)/.installed ## Timeline of label changes: make watch INPUT=versions/ OUTPUT=out/ (or OLD=snap1/ NEW=snap2/)
	@if [ -z $(call q,$(OUTPUT)) ] || { [ -z $(call q,$(INPUT)) ] && { [ -z $(call q,$(OLD)) ] || [ -z $(call q,$(NEW)) ]; }; }; then echo "error: set OUTPUT and INPUT (a folder of dated versions) or OLD and NEW (two snapshot folders)"; exit 2; fi
	$(PY) scripts/watch.py --model $(call q,$(MODEL)) --output $(call q,$(OUTPUT)) $(ARGS) $(if $(INPUT),$(call q,$(INPUT)),$(call q,$(OLD)) $(call q,$(NEW)))

bench: $(VENV)/.installed ## Speed and real-world benchmarks (after train and export)
	$(PY) scripts/bench.py --model $(MODEL) --raw-dir $(RAW_DIR) $(ARGS)

test: $(VENV)/.installed ## Fast offline tests (CPU, tiny random models)
	$(PY) -m pytest -q -m "not slow" $(ARGS)

test-slow: $(VENV)/.installed ## Tests that need the real base model
	$(PY) -m pytest -q -m slow $(ARGS)

quality: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check train scripts tests
	$(VENV)/bin/ruff format --check train scripts tests

format: $(VENV)/.installed ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix train scripts tests
	$(VENV)/bin/ruff format train scripts tests

clean: ## Remove built data and outputs (keeps the venv)
	rm -rf $(DATA_DIR) outputs
